"""A long training run checkpoints its whole state and resumes to the same weights."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from ldmnist_hub.core.config import TrainConfig  # noqa: E402
from ldmnist_hub.data import sources  # noqa: E402
from ldmnist_hub.errors import InvalidArgumentError  # noqa: E402
from ldmnist_hub.recipe.train import train  # noqa: E402

PLATEAU = TrainConfig(epochs=4, batch_size=100, lr_schedule="plateau", plateau_patience=1, class_lr=1e-3)
CONSTANT = TrainConfig(epochs=4, batch_size=100, lr_schedule="constant", class_lr=1e-3)


def _raw(tiny_dir: Path):
    return sources.load_split("mnist", "train", data_dir=tiny_dir)


def _states(result) -> dict:
    return {k: v.clone() for k, v in result.models.state_dict().items()}


@pytest.mark.parametrize("cfg", [PLATEAU, CONSTANT, TrainConfig(epochs=4, batch_size=100)],
                         ids=["plateau", "constant", "onecycle"])
def test_interrupted_and_resumed_training_equals_one_uninterrupted_run(tiny_dir: Path, tmp_path: Path,
                                                                      cfg: TrainConfig) -> None:
    images, labels = _raw(tiny_dir)
    whole = train(images, labels, 4, cfg, 0, progress=False)
    ckpt = tmp_path / "run" / "checkpoint.pt"
    seen: list[int] = []

    def stop_after_two(epoch: int, models) -> None:
        seen.append(epoch)
        if epoch == 2:
            raise KeyboardInterrupt  # the interruption, right after the epoch-2 checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(images, labels, 4, cfg, 0, progress=False, checkpoint=ckpt, checkpoint_every=1,
              on_checkpoint=stop_after_two)
    resumed = train(images, labels, 4, cfg, 0, progress=False, checkpoint=ckpt, checkpoint_every=1,
                    on_checkpoint=lambda e, m: seen.append(e))
    assert seen == [1, 2, 3, 4]
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    a, b = _states(whole), _states(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [r["total"] for r in whole.history] == [r["total"] for r in resumed.history]


def test_a_checkpoint_of_another_run_is_refused(tiny_dir: Path, tmp_path: Path) -> None:
    images, labels = _raw(tiny_dir)
    ckpt = tmp_path / "checkpoint.pt"
    train(images, labels, 4, TrainConfig(epochs=1, batch_size=100), 0, progress=False, checkpoint=ckpt)
    with pytest.raises(InvalidArgumentError, match="another run"):
        train(images, labels, 4, TrainConfig(epochs=1, batch_size=100), 1, progress=False, checkpoint=ckpt)


def test_the_constant_schedule_keeps_every_rate_at_its_start_value(tiny_dir: Path) -> None:
    """The original as it ran: its plateau schedule never reached the optimizers, so lr stays 1e-3."""
    images, labels = _raw(tiny_dir)
    result = train(images, labels, 4, CONSTANT, 0, progress=False)
    assert [r["lr"] for r in result.history] == [1e-3] * 4
    onecycle = train(images, labels, 4, TrainConfig(epochs=4, batch_size=100, class_lr=1e-3), 0, progress=False)
    assert len({r["lr"] for r in onecycle.history}) == 4  # the one-cycle rate moves every epoch
