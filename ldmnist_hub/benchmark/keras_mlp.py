"""The original's 3-FC MLP in Keras, trained on :func:`ldmnist_hub.tf_dataset`.

The same model, loss and schedule as :func:`ldmnist_hub.baselines.mlp_regression`
(torch): Dense(N) -> LeakyReLU(0.3) -> BatchNorm -> Dropout, twice, then
Dense(N); Glorot-uniform weights and zero biases; Adam with the one-cycle
learning rate of :func:`ldmnist_hub.train.one_cycle`; MSE loss. The two are
the cross-framework check of the benchmark: same data, same recipe, scores
within noise of each other.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ldmnist_hub._deprecated import seed_selects_the_variant
from ldmnist_hub.core.config import CANONICAL_SEED, CANONICAL_SOURCE, TrainConfig
from ldmnist_hub.core.extras import install_hint
from ldmnist_hub.core.types import PathArg, Train
from ldmnist_hub.core.warn import warn
from ldmnist_hub.errors import MissingDependencyError
from ldmnist_hub.loading.variant import Variant, select

try:
    import keras
    import tensorflow as tf
except ImportError as err:  # pragma: no cover - depends on the environment
    raise MissingDependencyError(
        f"ldmnist_hub.benchmark.keras_mlp needs TensorFlow; install it with {install_hint('tf')}"
    ) from err


class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0.1x over the first 10% of steps, then cosine decay to 0 (as in torch training)."""

    def __init__(self, peak: float, total_steps: int) -> None:
        self.peak = float(peak)
        self.total = int(total_steps)
        self.warm = max(1, self.total // 10)

    def __call__(self, step: Any) -> Any:
        step = tf.cast(step, tf.float32)
        warm = tf.cast(self.warm, tf.float32)
        rising = 0.1 + 0.9 * step / warm
        progress = (step - warm) / tf.cast(max(1, self.total - self.warm), tf.float32)
        falling = 0.5 * (1.0 + tf.cos(math.pi * progress))
        return self.peak * tf.where(step < warm, rising, falling)

    def get_config(self) -> dict[str, Any]:
        return {"peak": self.peak, "total_steps": self.total}


def build_mlp(latent: int, dropout: float = 0.1, seed: int = 0) -> keras.Model:
    """The 3-FC MLP as a Keras model (BatchNorm momentum and epsilon as the torch model's)."""
    cfg = TrainConfig()
    layers: list[Any] = [keras.Input((latent,))]
    for i in range(2):
        layers += [
            keras.layers.Dense(latent, kernel_initializer=keras.initializers.GlorotUniform(seed + i)),
            keras.layers.LeakyReLU(negative_slope=cfg.leaky_slope),
            keras.layers.BatchNormalization(momentum=1.0 - cfg.bn_momentum, epsilon=cfg.bn_eps),
            keras.layers.Dropout(dropout, seed=seed + 10 + i),
        ]
    layers.append(keras.layers.Dense(latent, kernel_initializer=keras.initializers.GlorotUniform(seed + 2)))
    return keras.Sequential(layers, name="mlp_3fc")


class _EpochBar(keras.callbacks.Callback):
    """One tqdm bar over the epochs, showing the training loss."""

    def __init__(self, epochs: int, desc: str, progress: bool) -> None:
        super().__init__()
        from tqdm.auto import tqdm

        self.bar = tqdm(total=epochs, desc=desc, disable=not progress)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.bar.set_postfix(loss=f"{(logs or {}).get('loss', float('nan')):.4f}")
        self.bar.update()

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        self.bar.close()


def _pin_threads(threads: int) -> None:
    """Size TensorFlow's thread pools, or warn that they were sized before (by an earlier op)."""
    pools = tf.config.threading
    if (pools.get_intra_op_parallelism_threads(), pools.get_inter_op_parallelism_threads()) == (threads, threads):
        return
    try:
        pools.set_intra_op_parallelism_threads(threads)
        pools.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow has run an op: its pools are fixed for the life of the process
        warn(f"TensorFlow already runs with its own thread pools, so the Keras MLP cannot pin them to {threads}; "
             "its CPU and wall seconds are not comparable to the torch models'")


@seed_selects_the_variant(rng="model_seed")
def keras_mlp_regression(
    latent: int | Variant,
    test_x: np.ndarray,
    *,
    model_seed: int = 0,
    epochs: int = 150,
    batch_size: int = 500,
    lr: float = 0.01,
    dropout: float = 0.1,
    threads: int = 1,
    seed: int = CANONICAL_SEED,
    source: str = CANONICAL_SOURCE,
    train: Train = None,
    data_dir: PathArg = None,
    build: bool = False,
    progress: bool = False,
    version: str | None = None,
) -> np.ndarray:
    """Train the Keras 3-FC MLP on the variant's train split (via ``tf_dataset``); predict ``test_x``.

    Seeds Python, numpy and TensorFlow (``keras.utils.set_random_seed``) and
    turns on TensorFlow's op determinism, so one ``model_seed`` gives one
    result; both are process-wide settings. ``seed``, ``source``, ``train``,
    ``data_dir``, ``build``, ``progress`` and ``version`` select the variant.
    ``threads``: TensorFlow's intra- and inter-op threads (one, as torch's
    training: the model is tiny, and more threads crawl on a shared machine);
    TensorFlow fixes them at its first op, so a process that already ran
    TensorFlow keeps its count (with a warning).
    """
    variant = select(latent, "keras_mlp_regression", seed=seed, source=source, train=train, data_dir=data_dir,
                     build=build, progress=progress, version=version)
    from ldmnist_hub.adapters.tf_adapter import tf_dataset

    _pin_threads(threads)
    keras.utils.set_random_seed(model_seed)
    tf.config.experimental.enable_op_determinism()
    ds = tf_dataset(variant, "train", batch_size, shuffle=True, shuffle_seed=model_seed)
    steps = int(ds.cardinality().numpy())
    model = build_mlp(variant.latent, dropout, model_seed)
    model.compile(optimizer=keras.optimizers.Adam(OneCycle(lr, epochs * steps), epsilon=1e-8), loss="mse")
    with warnings.catch_warnings():
        # Keras warns that fit's default shuffle=True is ignored for a Dataset; tf_dataset shuffles itself.
        warnings.filterwarnings("ignore", message=".*shuffle=True.*", category=UserWarning)
        model.fit(ds, epochs=epochs, verbose=0, callbacks=[_EpochBar(epochs, "mlp-keras", variant.progress)])
    return np.asarray(model.predict(test_x, batch_size=10_000, verbose=0), dtype=np.float32)
