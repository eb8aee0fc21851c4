"""Specification of the figures and of class-conditional synthesis, on the tiny variant (latent 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support.variants import built_files

from ldmnist_hub.data import sources
from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.scoring.codecs import decode_images
from ldmnist_hub.viz.plots import (
    MANIFOLD_VALUES,
    MOSAIC_PAD,
    PLOTS,
    components_figure,
    histograms_figure,
    latent_size_table,
    make_plots,
    manifold_codes,
    manifold_figure,
    projections_figure,
    reconstructions_figure,
)
from ldmnist_hub.viz.synthesis import fit_class_gaussians, pixel_classifier, recognition, sample_codes, synthesize

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL = {"tsne_points": 50, "samples_per_class": 20}


@pytest.fixture
def variant(tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Selection of the tiny variant with the keyword names of make_plots."""
    return {"train": tiny_kwargs["train"], "data_dir": tiny_kwargs["data_dir"], "build": False, "progress": False}


@pytest.fixture
def load(variant: dict[str, Any]) -> dict[str, Any]:
    """The same selection with the keyword names of load_numpy and the codecs."""
    return variant | {"seed": 0}


def _tile(image: np.ndarray, r: int, c: int) -> np.ndarray:
    """Tile (r, c) of a mosaic as shown (``_show`` draws ``1 - pixels``), back in pixel values."""
    step = 28 + MOSAIC_PAD
    return 1.0 - image[r * step:r * step + 28, c * step:c * step + 28]


def test_make_plots_writes_every_plot_as_a_png_that_decodes(
    tiny_home: Path, tiny_kwargs: dict[str, Any], variant: dict[str, Any], tmp_path: Path
) -> None:
    import matplotlib.image

    written = make_plots(tiny_kwargs["latent"], tmp_path / "out", **variant, **SMALL)
    assert list(written) == list(PLOTS)
    cid = built_files(tiny_kwargs["latent"], variant).root.name
    for name, path in written.items():
        assert path == tmp_path / "out" / f"{name}-{cid}.png"
        assert path.read_bytes()[:8] == PNG_MAGIC
        pixels = matplotlib.image.imread(path)
        assert pixels.ndim == 3 and pixels.shape[0] > 0 and pixels.shape[1] > 0


def test_make_plots_writes_only_the_selected_plots_in_canonical_order(
    tiny_home: Path, tiny_kwargs: dict[str, Any], variant: dict[str, Any], tmp_path: Path
) -> None:
    written = make_plots(tiny_kwargs["latent"], tmp_path, plots="manifold,histograms", components=(3, 1), **variant)
    assert list(written) == ["histograms", "manifold"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written.values())


def test_histograms_figure_has_one_panel_per_code_against_the_normal_density(
    tiny_home: Path, tiny_kwargs: dict[str, Any], load: dict[str, Any]
) -> None:
    x, y, _ = load_numpy(tiny_kwargs["latent"], "train", **load)
    fig = histograms_figure(x, y)
    assert len(fig.axes) == 2
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == ["x (image codes)", "y (label codes)"]
    for ax in fig.axes:
        assert [line.get_label() for line in ax.get_lines()] == ["N(0, 1)"]
        heights = np.array([p.get_height() for p in ax.patches])
        assert heights.sum() * (9.0 / 120) == pytest.approx(1.0, abs=0.01)  # a density over the shown range


def test_components_figure_shows_moments_and_the_number_of_active_components() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((200, 4)), rng.standard_normal((200, 4))
    kl = np.array([0.5, 0.001, 0.2, 0.0])
    importance = np.array([0.01, 0.0, 0.03, 0.002])
    fig = components_figure(x, y, kl, importance)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 3
    assert titles[:2] == ["x: mean ± std per component", "y: mean ± std per component"]
    assert "2 of 4 components active" in titles[2]
    bars = fig.axes[2].patches
    assert [b.get_height() for b in bars] == [0.03, 0.01, 0.002, 0.0]  # sorted, most important first
    assert [t.get_text() for t in fig.axes[2].get_xticklabels()] == ["2", "0", "3", "1"]


def test_reconstructions_figure_puts_decoded_x_under_the_same_test_rows(
    tiny_home: Path, tiny_kwargs: dict[str, Any], load: dict[str, Any], tiny_dir: Path
) -> None:
    x, _, labels = load_numpy(tiny_kwargs["latent"], "test", **load)
    images, raw_labels = sources.load_split("mnist", "test", tiny_dir)
    np.testing.assert_array_equal(labels, raw_labels)  # the rows of x are the rows of the raw split
    decoded = decode_images(x[:10], tiny_kwargs["latent"], **load)
    fig = reconstructions_figure(images[:10], decoded, labels[:10])
    top, bottom = (ax.images[0].get_array() for ax in fig.axes)
    for k in (0, 9):
        np.testing.assert_allclose(_tile(top, 0, k), images[k] / 255.0, atol=1e-6)
        np.testing.assert_allclose(_tile(bottom, 0, k), decoded[k], atol=1e-6)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [str(v) for v in labels[:10]]


def test_manifold_codes_vary_only_the_two_chosen_components() -> None:
    base = np.array([0.3, -1.0, 2.0, 0.5], dtype=np.float32)
    codes = manifold_codes(base, (2, 0))
    g = len(MANIFOLD_VALUES)
    assert codes.shape == (g * g, 4)
    np.testing.assert_array_equal(codes[:, [1, 3]], np.tile(base[[1, 3]], (g * g, 1)))
    grid = codes.reshape(g, g, 4)
    np.testing.assert_allclose(grid[:, 0, 2], MANIFOLD_VALUES)  # component 2 along rows
    np.testing.assert_allclose(grid[0, :, 0], MANIFOLD_VALUES)  # component 0 along columns


def test_manifold_figure_shows_the_decoded_grid_and_names_its_components(
    tiny_home: Path, tiny_kwargs: dict[str, Any], load: dict[str, Any]
) -> None:
    latent = tiny_kwargs["latent"]
    x, _, _ = load_numpy(latent, "test", **load)
    codes = manifold_codes(x[0], (1, 3))
    decoded = decode_images(codes, latent, **load)
    fig = manifold_figure(decoded, (1, 3))
    (ax,) = fig.axes
    shown = ax.images[0].get_array()
    g = len(MANIFOLD_VALUES)
    for r, c in ((0, 0), (0, g - 1), (g - 1, 0), (7, 3)):
        np.testing.assert_allclose(_tile(shown, r, c), decoded[r * g + c], atol=1e-6)
    # The chosen components change the picture: the corners differ.
    assert np.abs(decoded[0] - decoded[-1]).max() > 0.05
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("component 1", "component 3")
    assert "components 1 and 3" in ax.get_title()


def test_projections_figure_has_five_panels_and_states_the_tsne_subsample(
    tiny_home: Path, tiny_kwargs: dict[str, Any], load: dict[str, Any]
) -> None:
    x, _, labels = load_numpy(tiny_kwargs["latent"], "test", **load)
    fig = projections_figure(x, labels, tsne_points=60, sample_seed=0)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 5
    assert titles[0].startswith("PCA") and titles[1].startswith("LDA")
    assert "60 of 100 points" in titles[2]
    assert titles[3].startswith("UMAP")
    assert fig.axes[4].name == "3d"


def test_latent_size_table_lists_the_built_tiny_variant_with_its_scores(
    tiny_home: Path, tiny_kwargs: dict[str, Any], variant: dict[str, Any]
) -> None:
    latent = tiny_kwargs["latent"]
    rows = latent_size_table(latent, train=variant["train"], data_dir=variant["data_dir"])
    scores = built_files(latent, variant).stats()["scores"]
    assert [(r.latent, r.current) for r in rows] == [(latent, True)]
    assert rows[0].class_vae_accuracy == scores["class_vae_accuracy"]
    assert rows[0].image_vae_reconstruction_loss == scores["image_vae_reconstruction_loss"]


@pytest.mark.parametrize("other", [{"seed": 1}, {"train": None}])
def test_latent_size_table_leaves_out_variants_of_another_recipe(
    tiny_home: Path, variant: dict[str, Any], other: dict[str, Any]
) -> None:
    assert latent_size_table(4, **{"seed": 0, "train": variant["train"], "data_dir": variant["data_dir"]} | other) == []


def test_class_gaussians_are_the_per_class_mean_and_ml_covariance_of_x(
    tiny_home: Path, tiny_kwargs: dict[str, Any], load: dict[str, Any]
) -> None:
    x, _, labels = load_numpy(tiny_kwargs["latent"], "train", **load)
    model = fit_class_gaussians(x, labels)
    assert model.classes.tolist() == list(range(10))
    for c in range(10):
        rows = x[labels == c].astype(np.float64)
        np.testing.assert_allclose(model.means[c], rows.mean(0), atol=1e-12)
        centred = rows - rows.mean(0)
        np.testing.assert_allclose(model.covariances[c], centred.T @ centred / len(rows), atol=1e-12)


def test_sampled_codes_approach_the_fitted_class_means_and_are_seeded() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 50)
    x = rng.standard_normal((150, 2)) * [1.0, 0.5] + np.repeat([[0, 0], [5, 1], [-3, 2]], 50, axis=0)
    model = fit_class_gaussians(x, labels)
    codes, intended = sample_codes(model, 20_000, np.random.default_rng(1))
    assert codes.shape == (60_000, 2) and codes.dtype == np.float32
    assert intended.tolist() == [0] * 20_000 + [1] * 20_000 + [2] * 20_000
    for c in range(3):
        # Standard error of a mean of 20k draws with std <= ~1.1 is < 0.01.
        np.testing.assert_allclose(codes[intended == c].mean(0), model.means[c], atol=0.04)
        np.testing.assert_allclose(np.cov(codes[intended == c], rowvar=False), model.covariances[c], atol=0.05)
    again, _ = sample_codes(model, 20_000, np.random.default_rng(1))
    np.testing.assert_array_equal(codes, again)


def test_recognition_rates_are_the_per_class_and_overall_hit_fractions() -> None:
    per_class, rate = recognition(np.array([0, 0, 0, 1, 2, 2]), np.array([0, 1, 0, 1, 0, 2]))
    assert per_class == {0: pytest.approx(2 / 3), 1: 1.0, 2: 0.5}
    assert rate == pytest.approx(4 / 6)


def test_synthesize_reports_the_classifiers_hit_rate_on_the_decoded_samples(
    tiny_home: Path, tiny_kwargs: dict[str, Any], variant: dict[str, Any]
) -> None:
    result = synthesize(tiny_kwargs["latent"], per_class=30, sample_seed=3, **variant)
    assert result.images.shape == (300, 28, 28) and result.intended.tolist() == np.repeat(np.arange(10), 30).tolist()
    judge = pixel_classifier(variant["data_dir"])  # the same (cached) independent classifier
    predicted = judge.predict(result.images)
    np.testing.assert_array_equal(result.predicted, predicted)
    assert 0.0 <= result.rate <= 1.0
    assert result.rate == pytest.approx(float(np.mean(predicted == result.intended)))
    for c in range(10):
        assert result.per_class[c] == pytest.approx(float(np.mean(predicted[result.intended == c] == c)))
    assert result.classifier_rows == 300 and 0.0 <= result.classifier_accuracy <= 1.0
    again = synthesize(tiny_kwargs["latent"], per_class=30, sample_seed=3, **variant)
    np.testing.assert_array_equal(again.images, result.images)


@pytest.mark.parametrize("plots", [["histogram"], "manifold,nope", []])
def test_unknown_plot_names_are_rejected_before_anything_loads(ldmnist_home: Path, tmp_path: Path, plots: Any) -> None:
    # No variant exists in an empty home: the name check must come first.
    with pytest.raises(ValueError, match="valid names: histograms, components, reconstructions, manifold"):
        make_plots(4, tmp_path, plots=plots)


@pytest.mark.parametrize("components", [(0, 4), (-1, 2), (1, 1), (0,), (0, 1.5)])
def test_bad_manifold_components_name_the_valid_range(ldmnist_home: Path, tmp_path: Path, components: Any) -> None:
    with pytest.raises(ValueError, match=r"valid range 0\.\.3 for latent 4"):
        make_plots(4, tmp_path, components=components)


def test_a_latent_without_a_variant_names_the_build_command(
    tiny_home: Path, variant: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="ldmnist build --latent 5"):
        make_plots(5, tmp_path / "out", plots=["histograms"], **variant)
    assert not (tmp_path / "out").exists()


def test_an_unwritable_output_folder_names_the_folder_and_the_fix(
    tiny_home: Path, tiny_kwargs: dict[str, Any], variant: dict[str, Any], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match=r"a-file/plots.*writable --out"):
        make_plots(tiny_kwargs["latent"], blocker / "plots", plots=["histograms"], **variant)


def _count_resolves(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Replace the variant resolver wherever a module holds it by name; each call appends its latent."""
    import sys

    from ldmnist_hub.loading import variant as variant_module

    real, calls = variant_module.resolve, []

    def counting(latent: int, **kwargs: Any) -> Any:
        calls.append(latent)
        return real(latent, **kwargs)

    for module in [m for name, m in sys.modules.items() if name.startswith("ldmnist_hub")]:
        if getattr(module, "resolve", None) is real:
            monkeypatch.setattr(module, "resolve", counting)
    return calls


def test_make_plots_resolves_its_variant_once_for_every_plot(
    tiny_home: Path, tiny_kwargs: dict[str, Any], variant: dict[str, Any], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _count_resolves(monkeypatch)
    written = make_plots(tiny_kwargs["latent"], tmp_path / "out", **variant, **SMALL)
    assert list(written) == list(PLOTS)
    assert calls == [tiny_kwargs["latent"]]


FULL_DIR = "/work/shared/data/mnist"


@pytest.mark.skipif(not Path(FULL_DIR).is_dir(), reason=f"needs the full MNIST in {FULL_DIR}")
def test_make_plots_of_latent_32_resolves_the_reference_variant_once(
    ldmnist_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LDMNIST_MNIST_DIR", FULL_DIR)
    calls = _count_resolves(monkeypatch)
    written = make_plots(latent=32, out_dir=tmp_path, plots="histograms,components,reconstructions,manifold",
                         progress=False)
    assert list(written) == ["histograms", "components", "reconstructions", "manifold"]
    assert calls == [32]
