"""Class-conditional synthesis from ``x``, checked by a classifier that never saw a VAE.

Each class gets one Gaussian fitted to its train ``x`` rows by maximum
likelihood (mean and full covariance, ``np.cov(..., bias=True)``); new codes
are drawn from it with a seeded ``np.random.Generator`` and decoded by the
variant's image decoder. Whether a decoded sample shows the intended digit is
judged by an *independent* classifier: an MLP (one hidden layer of 256 ReLU,
scikit-learn, early stopping) trained on raw MNIST train pixels only, so it
shares nothing with the VAEs. Its accuracy on decoded *real* test codes
(:attr:`SynthesisResult.reference_rate`) is the ceiling a synthesis can reach
with this decoder and this judge: decoded images are blurrier than MNIST.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ldmnist_hub._deprecated import renamed_keywords, seed_selects_the_variant
from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE
from ldmnist_hub.core.schema import DEFAULT_LATENT, IMAGE_PIXELS
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.loading.variant import Variant, select
from ldmnist_hub.scoring.codecs import decode_images
from ldmnist_hub.store.forward import images_to_unit

CLASSIFIER_HIDDEN = (256,)
CLASSIFIER_MAX_EPOCHS = 30
# The judge is trained once per process and set of settings: 20-30 s on the full 60k train images.
_CLASSIFIERS: dict[tuple[str, int | None, int], PixelClassifier] = {}


@dataclass(frozen=True)
class ClassGaussians:
    """One Gaussian per class over codes: ``means`` ``(K, N)`` and ``covariances`` ``(K, N, N)`` (float64)."""

    classes: np.ndarray
    means: np.ndarray
    covariances: np.ndarray


def fit_class_gaussians(x: np.ndarray, labels: np.ndarray) -> ClassGaussians:
    """Maximum-likelihood Gaussian of the codes ``x`` ``(n, N)`` of every class present in ``labels`` ``(n,)``.

    Examples:
        >>> g = fit_class_gaussians(np.array([[0.0], [2.0], [5.0]]), np.array([0, 0, 1]))
        >>> g.means.ravel().tolist(), g.covariances.ravel().tolist()
        ([1.0, 5.0], [1.0, 0.0])
    """
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels)
    if x.ndim != 2 or labels.shape != (len(x),) or len(x) == 0:
        raise InvalidArgumentError(
            f"x must be (n, N) and labels (n,) with n > 0; got shapes {x.shape} and {labels.shape}")
    classes = np.unique(labels)
    means = np.stack([x[labels == c].mean(0) for c in classes])
    # bias=True: the ML estimate (divide by n); np.cov of a single row would be NaN otherwise.
    covs = np.stack([np.atleast_2d(np.cov(x[labels == c], rowvar=False, bias=True)) for c in classes])
    return ClassGaussians(classes=classes, means=means, covariances=covs)


def sample_codes(
    model: ClassGaussians, per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``per_class`` codes from every class's Gaussian.

    Returns:
        ``(codes, intended)``: float32 ``(K * per_class, N)`` grouped by class in
        the order of ``model.classes``, and the class each row was drawn for.
    """
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise InvalidArgumentError(f"per_class must be an integer >= 1; got per_class={per_class!r}")
    # SVD-based sampling tolerates the singular covariance of a class with fewer rows than components.
    codes = np.concatenate([rng.multivariate_normal(m, c, size=per_class)
                            for m, c in zip(model.means, model.covariances, strict=True)])
    return codes.astype(np.float32), np.repeat(model.classes, per_class)


def recognition(intended: np.ndarray, predicted: np.ndarray) -> tuple[dict[int, float], float]:
    """Per-class and overall fraction of ``predicted == intended``.

    Examples:
        >>> recognition(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
        ({0: 0.5, 1: 1.0}, 0.75)
    """
    intended, predicted = np.asarray(intended), np.asarray(predicted)
    if intended.shape != predicted.shape or intended.ndim != 1 or len(intended) == 0:
        raise InvalidArgumentError(f"intended and predicted must be equal-length non-empty 1-D arrays; got shapes "
                         f"{intended.shape} and {predicted.shape}")
    hit = intended == predicted
    return {int(c): float(hit[intended == c].mean()) for c in np.unique(intended)}, float(hit.mean())


@dataclass(frozen=True)
class PixelClassifier:
    """The independent judge: an MLP on raw MNIST pixels and its accuracy on the real test images."""

    model: Any
    train_rows: int
    test_accuracy: float

    def predict(self, images: Any) -> np.ndarray:
        """Class of each image (``(n, 28, 28)`` or ``(n, 784)``; uint8 or float in [0, 1])."""
        return self.model.predict(images_to_unit(images)).astype(np.int64)


@renamed_keywords(seed="model_seed")
def pixel_classifier(
    data_dir: PathArg = None, *, train_rows: int | None = None, model_seed: int = 0, source: str = CANONICAL_SOURCE,
) -> PixelClassifier:
    """Train (or reuse from this process) the MLP that judges decoded images, on the source's raw train pixels.

    Args:
        data_dir: folder with the raw IDX files (default: the source's environment variable or the download cache).
        train_rows: class-balanced subset of the train images to fit on (default all; tests use few).
        model_seed: seed of the subset and of the MLP's initialisation and shuffling.
        source: the raw data source whose images it learns (``"mnist"``, ``"fashion_mnist"``).

    Examples:
        >>> clf = pixel_classifier("/data/mnist")  # doctest: +SKIP
        >>> clf.test_accuracy  # doctest: +SKIP
        0.978
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from ldmnist_hub.data import sources
    from ldmnist_hub.scoring.subsets import balanced_subset

    key = (source, str(sources.resolve_dir(source, data_dir).resolve()), train_rows, model_seed)
    if key not in _CLASSIFIERS:
        images, labels = sources.load_split(source, "train", data_dir)
        rows = balanced_subset(labels, len(labels) if train_rows is None else train_rows, model_seed)
        mlp = MLPClassifier(hidden_layer_sizes=CLASSIFIER_HIDDEN, early_stopping=True, n_iter_no_change=3,
                            max_iter=CLASSIFIER_MAX_EPOCHS, batch_size=256, random_state=model_seed)
        with warnings.catch_warnings():
            # The epoch cap bounds the fit (20-30 s on 60k images, 2 cores); early stopping often ends it sooner.
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(images_to_unit(images[rows]), labels[rows])
        test_images, test_labels = sources.load_split(source, "test", data_dir)
        accuracy = float(np.mean(mlp.predict(images_to_unit(test_images)) == test_labels))
        _CLASSIFIERS[key] = PixelClassifier(model=mlp, train_rows=len(rows), test_accuracy=accuracy)
    return _CLASSIFIERS[key]


@dataclass(frozen=True)
class SynthesisResult:
    """Class-conditional samples and how often the independent classifier recognised their class.

    Attributes:
        images: decoded samples, float32 ``(K * per_class, 28, 28)``, grouped by class.
        intended: the class each sample was drawn for.
        predicted: the class the independent classifier saw.
        per_class: recognition rate of each class.
        rate: overall recognition rate.
        reference_rate: the classifier's accuracy on decoded *real* test codes (the ceiling).
        classifier_accuracy: the classifier's accuracy on the real test images.
        classifier_rows: train images the classifier was fitted on.
    """

    images: np.ndarray
    intended: np.ndarray
    predicted: np.ndarray
    per_class: dict[int, float]
    rate: float
    reference_rate: float
    classifier_accuracy: float
    classifier_rows: int


@seed_selects_the_variant(rng="sample_seed")
def synthesize(
    latent: int | Variant = DEFAULT_LATENT,
    *,
    per_class: int = 1000,
    sample_seed: int = 0,
    classifier_rows: int | None = None,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = False,
    progress: bool = True,
    version: str | None = None,
) -> SynthesisResult:
    """Fit class Gaussians to train ``x``, sample ``per_class`` codes per class, decode them and judge them.

    Args:
        latent: latent size N of the variant.
        per_class: samples drawn per class.
        sample_seed: seed of the sampling. The classifier always uses seed 0, so a new one does not retrain it.
        classifier_rows: train images for the classifier (default all 60k).
        seed: the variant's seed (0 is canonical; for a reference variant, the posterior draw).
        source: the raw data source (``"mnist"``, ``"fashion_mnist"``; see ``ldmnist_hub.data.sources.SOURCES``).
        train: training recipe overrides of the variant (see :class:`~ldmnist_hub.TrainConfig`).
        data_dir: folder with the raw IDX files (default: the source's environment variable, or the download cache).
        build: build the variant if it is not cached (otherwise raise).
        progress: show progress bars while building.
        version: the dataset version of a reference variant (default: the current one).

    Raises:
        FileNotFoundError: the variant is not built and ``build=False``.

    Examples:
        >>> r = synthesize(latent=32)  # doctest: +SKIP
        >>> round(r.rate, 3), round(r.reference_rate, 3)  # doctest: +SKIP
        (0.891, 0.934)
    """
    variant = select(latent, "synthesize", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    x, _, labels = variant.numpy("train")
    x_test, _, labels_test = variant.numpy("test")
    model = fit_class_gaussians(x, labels)
    codes, intended = sample_codes(model, per_class, np.random.default_rng(sample_seed))
    images = decode_images(codes, variant)
    judge = pixel_classifier(variant.data_dir, train_rows=classifier_rows, source=variant.source)
    predicted = judge.predict(images.reshape(len(images), IMAGE_PIXELS))
    per, rate = recognition(intended, predicted)
    reference = float(np.mean(judge.predict(decode_images(x_test, variant)) == labels_test))
    return SynthesisResult(images=images, intended=intended, predicted=predicted, per_class=per, rate=rate,
                           reference_rate=reference, classifier_accuracy=judge.test_accuracy,
                           classifier_rows=judge.train_rows)
