"""What defines an LD-MNIST variant: latent size, seed, source and training recipe.

Every field that changes the produced bytes lives here, so a variant is fully
named by a :class:`VariantConfig`. The canonical variants (``latent-N``) are
seed 0, source ``mnist`` and the default :class:`TrainConfig`; anything else
gets a longer name that carries a digest of its settings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ldmnist_hub.core import paths, versions
from ldmnist_hub.core.schema import TWO_SPLITS, SplitRows
from ldmnist_hub.errors import InvalidArgumentError, InvalidArgumentTypeError

MIN_LATENT = 1
MAX_LATENT = 512
CANONICAL_SEED = 0
CANONICAL_SOURCE = "mnist"


@dataclass(frozen=True)
class TrainConfig:
    """Training recipe of the image VAE, class VAE and middle layers.

    Defaults are the *canonical* recipe: the original LD-MNIST (v3) code **as
    it actually ran**. Its training loop called the Keras models without
    ``training=True``, so every layer ran in inference mode: dropout never
    fired and BatchNormalization normalised with its initial statistics (mean
    0, variance 1), i.e. it was the learnable affine
    ``gamma * h / sqrt(1 + eps) + beta``. ``train_dropout=False`` and
    ``batch_norm="frozen"`` reproduce that; ``train_dropout=True`` and
    ``batch_norm="batch"`` give the original *as written*. Only the schedule
    (``epochs``, ``lr_schedule``, ``class_lr``) differs from the original, so
    that the reference weights train in under an hour on a 2-core CPU.

    Attributes:
        epochs: passes over the 60k training images. Original: 5000 (GPU).
        batch_size: images per step. Original: 10000 (500 in earlier versions).
        lr: peak Adam learning rate. Original: 1e-3.
        class_lr: peak learning rate of the class VAE (encoder and decoder). The
            original used ``lr`` for everything over 5,000 epochs; in a short
            run the tiny class VAE needs a larger rate to converge, and its
            convergence shapes the ``y`` geometry that decides how well linear
            models score.
        lr_schedule: ``"onecycle"`` (warm-up over 10% of the steps then cosine
            decay to ~0), ``"plateau"`` (the original *as written*: x0.9 after
            ``plateau_patience`` epochs without improvement of the training loss)
            or ``"constant"`` (the original *as it ran*: its ``Adam(get_lr)``
            evaluated the schedule once, when the training step was traced, so
            every rate stayed at its start value for all 30,000 steps).
        plateau_patience: epochs without improvement before ``"plateau"`` decays.
        adam_eps: Adam's epsilon (Keras default 1e-7; torch's is 1e-8).
        hidden: widths of the image encoder's hidden layers (the decoder mirrors them).
        dropout: dropout rate written in the image VAE. Original: 0.9.
        code_dropout: dropout rate written on the code at the decoder input. Original: 0.9.
        middle_dropout: dropout rate written in the middle layers. Original: 0.9.
        train_dropout: whether dropout fires during training. The original as
            it ran: False (Keras inference mode); as written: True.
        batch_norm: ``"frozen"`` (the original as it ran: normalise with the
            initial statistics mean 0 / variance 1, never updated, so BN is a
            learnable affine) or ``"batch"`` (as written: batch statistics in
            training, running averages in eval).
        logvar_quirk: sample the code as ``mean + exp(logvar) * eps`` as the
            original does, instead of the textbook ``exp(logvar / 2)``.
        kl_weight: weight of ``-mean(1 + logvar - mean^2 - exp(logvar))``. Original: 0.1.
        kl_warmup: fraction of the training steps over which the KL weight ramps
            linearly from 0 to ``kl_weight`` (0 = the original's constant weight).
        joint_weight: how much of the classification loss's gradient reaches the
            image encoder (1.0 = the original, 0.0 = the middle layers learn
            alone). The middle layers always get all of it.
        joint_decoder_weight: the same for the class decoder (original: 1.0).
        leaky_slope: negative slope of LeakyReLU (Keras default 0.3).
        bn_momentum: BatchNorm running-average momentum in torch convention
            (Keras 0.99 == torch 0.01); unused with ``batch_norm="frozen"``.
        bn_eps: BatchNorm epsilon (Keras default 1e-3).
    """

    epochs: int = 700
    batch_size: int = 500
    lr: float = 1e-3
    class_lr: float = 0.1
    lr_schedule: str = "onecycle"
    plateau_patience: int = 50
    adam_eps: float = 1e-7
    hidden: tuple[int, ...] = (128, 64)
    dropout: float = 0.9
    code_dropout: float = 0.9
    middle_dropout: float = 0.9
    train_dropout: bool = False
    batch_norm: str = "frozen"
    logvar_quirk: bool = True
    kl_weight: float = 0.1
    kl_warmup: float = 0.0
    joint_weight: float = 1.0
    joint_decoder_weight: float = 1.0
    leaky_slope: float = 0.3
    bn_momentum: float = 0.01
    bn_eps: float = 1e-3

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        _check_int("epochs", self.epochs, 1, 100_000)
        _check_int("batch_size", self.batch_size, 1, 1_000_000)
        for name in ("dropout", "code_dropout", "middle_dropout", "joint_weight", "joint_decoder_weight", "kl_warmup"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0 or (
                "dropout" in name and value == 1.0
            ):
                raise InvalidArgumentError(
                    f"{name} must be a number in [0, 1] (dropouts: [0, 1)); got {name}={value!r}"
                )
        if self.batch_norm not in ("frozen", "batch"):
            raise InvalidArgumentError(f"batch_norm must be 'frozen' or 'batch'; got batch_norm={self.batch_norm!r}")
        for name in ("train_dropout", "logvar_quirk"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidArgumentError(f"{name} must be True or False; got {name}={getattr(self, name)!r}")
        if self.lr_schedule not in ("onecycle", "plateau", "constant"):
            raise InvalidArgumentError(
                f"lr_schedule must be 'onecycle', 'plateau' or 'constant'; got lr_schedule={self.lr_schedule!r}")
        for name in ("lr", "class_lr", "adam_eps"):
            if not isinstance(getattr(self, name), numbers.Real) or not getattr(self, name) > 0:
                raise InvalidArgumentError(f"{name} must be a number > 0; got {name}={getattr(self, name)!r}")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise InvalidArgumentError(
                f"hidden must be a non-empty tuple of positive widths; got hidden={self.hidden!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (tuples become lists)."""
        # Every field is a plain value (hidden a tuple of ints): no deep copy needed (asdict's costs 0.1 ms,
        # on every warm load, through is_reference).
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, fields: dict[str, Any]) -> TrainConfig:
        """A recipe from a dict of its fields (the JSON form, or ``--set`` overrides).

        Raises:
            InvalidArgumentTypeError: a key that is not a field (the message lists them).
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise InvalidArgumentTypeError(
                f"unknown training-recipe field(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}")
        return cls(**fields)

    def overrides(self) -> dict[str, Any]:
        """Fields that differ from the canonical defaults."""
        default = _CANONICAL_TRAIN.to_dict()
        return {k: v for k, v in self.to_dict().items() if default[k] != v}


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    # bool is an int subclass, and "32" or 3.5 must not slip through as a size.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentError(
            f"{name} must be an integer in [{lo}, {hi}]; got {name}={value!r} ({type(value).__name__})")
    if not lo <= value <= hi:
        raise InvalidArgumentError(f"{name} must be an integer in [{lo}, {hi}]; got {name}={value!r}")


_CANONICAL_TRAIN = TrainConfig()  # the canonical recipe, compared against by overrides()


def check_latent(latent: Any) -> int:
    """Validate a latent size and return it as ``int``.

    Raises:
        ValueError: if ``latent`` is not an integer in [1, 512] (``"32"`` and
            ``3.5`` are rejected rather than silently converted).

    Examples:
        >>> check_latent(32)
        32
    """
    _check_int("latent", latent, MIN_LATENT, MAX_LATENT)
    return int(latent)


@dataclass(frozen=True)
class VariantConfig:
    """Everything that determines the bytes of one LD-MNIST variant.

    A variant is either a **reference** variant (the official MNIST encoded
    with the weights shipped in the package: bit-identical everywhere) or a
    **trained** one (weights trained on this machine: other recipes, sizes
    without reference weights, ``retrain=True``). For a reference variant,
    ``seed`` picks the posterior draw (0 is canonical); for a trained one it
    seeds training and encoding.

    Examples:
        >>> VariantConfig(latent=32).name
        'latent-32'
        >>> VariantConfig(latent=16, seed=1).name
        'latent-16-seed-1'
        >>> VariantConfig(latent=32, retrain=True).name
        'latent-32-trained-44136fa3'
    """

    latent: int = 32
    seed: int = CANONICAL_SEED
    source: str = CANONICAL_SOURCE
    train: TrainConfig = field(default_factory=TrainConfig)
    retrain: bool = False
    version: str | None = None

    def __post_init__(self) -> None:
        check_latent(self.latent)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        # numpy integers pass the checks; store plain ints so records stay JSON.
        object.__setattr__(self, "latent", int(self.latent))
        object.__setattr__(self, "seed", int(self.seed))
        if not isinstance(self.source, str) or not self.source:
            raise InvalidArgumentError(f"source must be a source name such as 'mnist'; got source={self.source!r}")
        if not isinstance(self.retrain, bool):
            raise InvalidArgumentError(f"retrain must be True or False; got retrain={self.retrain!r}")
        if self.version is not None:
            if not self.is_reference:
                raise InvalidArgumentError(
                    f"version={self.version!r} selects a released version of a reference variant (latent "
                    f"{list(paths.reference_latents())}, the official source, the shipped recipe); this variant is "
                    "trained here and has no versions: leave version out")
            # The current version is spelled None, so latent-N names the same bytes as before versions existed.
            object.__setattr__(self, "version", versions.check(self.latent, self.version))

    # is_reference, name and the split layout are computed once per config (a frozen value: a warm load asks
    # for them several times per call); cached_property stores them beside the fields, outside eq and hash.
    @cached_property
    def is_reference(self) -> bool:
        """True if this variant is produced from shipped reference weights (no training)."""
        return (self.source == CANONICAL_SOURCE and not self.retrain and not self.train.overrides()
                and self.latent in paths.reference_latents())

    @property
    def is_canonical(self) -> bool:
        """True for the published settings: the reference weights' canonical draw (seed 0)."""
        return self.is_reference and self.seed == CANONICAL_SEED

    @cached_property
    def name(self) -> str:
        """Config name: ``latent-N`` (``-seed-S``) for reference variants, ``...-trained-<digest>`` otherwise.

        ``latent-N`` always means the reference bytes; a trained variant's name
        carries a digest of its recipe, and its stats record a digest of its weights.
        """
        parts = [f"latent-{self.latent}"]
        if self.seed != CANONICAL_SEED:
            parts.append(f"seed-{self.seed}")
        if self.source != CANONICAL_SOURCE:
            parts.append(self.source.replace("_", "-"))
        if self.version is not None:
            parts.append(versions.name_suffix(self.version))
        if not self.is_reference:
            blob = json.dumps(self.train.overrides(), sort_keys=True).encode()
            parts.append("trained-" + hashlib.sha256(blob).hexdigest()[:8])
        return "-".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, stored in weight metadata and stats."""
        out = {"latent": self.latent, "seed": self.seed, "source": self.source, "train": self.train.to_dict(),
               "retrain": self.retrain}
        if self.version is not None:  # only an earlier version says so: current records stay as they were
            out["version"] = self.version
        return out

    @property
    def dataset_version(self) -> str | None:
        """The dataset version of a reference variant (the current one unless ``version`` picks another)."""
        return self.version or (versions.current(self.latent) if self.is_reference else None)

    @property
    def splits(self) -> dict[str, SplitRows]:
        """This variant's splits, in order, and the raw source rows each holds.

        A reference variant has its version's layout (3.0.0: ``train`` = MNIST training rows 0-49,999,
        ``validation`` = rows 50,000-59,999, ``test``; 2.0.0: ``train``, ``test``); a trained one has the
        source's own two splits.
        """
        return dict(self._layout)

    @cached_property
    def _layout(self) -> dict[str, SplitRows]:
        return versions.layout(self.latent, self.version) if self.is_reference else dict(TWO_SPLITS)

    def require_split(self, split: str) -> None:
        """Check that this variant has the split ``split`` (a bare name such as ``"validation"``).

        Raises:
            InvalidArgumentError: it has no such split; the message names the versions (or variants) that do.
        """
        have = self.splits
        if split in have:
            return
        listed = ", ".join(repr(s) for s in have)
        if self.is_reference:
            newer = versions.with_split(self.latent, split)
            if newer:
                how = (f"version {newer[-1]} has one: leave version out" if versions.current(self.latent) in newer
                       else f"version {newer[-1]} has one: pass version={newer[-1]!r}")
                raise InvalidArgumentError(f"{self.name} (version {self.dataset_version}) has no {split!r} split, "
                                           f"only {listed}; {how}")
            raise InvalidArgumentError(f"{self.name} has no {split!r} split, only {listed}")
        raise InvalidArgumentError(
            f"unknown split {split!r} for {self.name}: a variant trained here has only the splits {listed} (its "
            f"weights saw every training row); a {split!r} split the weights never saw is in the reference "
            f"variants from 3.0.0 on (latent {', '.join(map(str, paths.reference_latents()))})")

    def as_current(self) -> VariantConfig:
        """The same variant in the current version (how a repo that published an earlier version names it)."""
        return dataclasses.replace(self, version=None)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VariantConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(latent=d["latent"], seed=d["seed"], source=d["source"],
                   train=TrainConfig.from_dict(d.get("train", {})), retrain=d.get("retrain", False),
                   version=d.get("version"))


def is_plain_name(name: object) -> bool:
    """True for a reference config name ``latent-N`` (no seed, recipe or data suffix).

    Examples:
        >>> is_plain_name("latent-32"), is_plain_name("latent-8-trained-1f5b3204")
        (True, False)
    """
    return isinstance(name, str) and name.startswith("latent-") and name[7:].isdigit()


def parse_config_name(name: str) -> int:
    """Latent size of a canonical config name such as ``"latent-32"``.

    Raises:
        ValueError: if ``name`` is not of the form ``latent-N``.
    """
    prefix = "latent-"
    if not isinstance(name, str) or not name.startswith(prefix) or not name[len(prefix):].isdigit():
        raise InvalidArgumentError(f"config name must look like 'latent-32'; got name={name!r}")
    return check_latent(int(name[len(prefix):]))
