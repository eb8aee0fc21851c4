"""One seeded, deterministic training loop for the LD-MNIST models.

Randomness (initialisation, shuffling, dropout masks, posterior samples) comes
from one ``torch.Generator`` seeded from the variant's seed; torch's global RNG
is never touched, so two runs with the same seed give identical weights on the
same machine and torch build.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ldmnist_hub.core import faults
from ldmnist_hub.core.config import TrainConfig
from ldmnist_hub.errors import InvalidArgumentError
from ldmnist_hub.recipe.models import LDMNISTModels

# The models are tiny: one thread is as fast as two alone, and never falls off the OpenMP-spin cliff
# (10x slower) when another process shares the cores. $LDMNIST_NUM_THREADS (or build --threads) overrides.
NUM_THREADS_ENV = "LDMNIST_NUM_THREADS"
DEFAULT_THREADS = 1

# Offsets keep the streams of training and encoding independent while both
# derive from the one user-facing seed.
TRAIN_STREAM = 0
ENCODE_STREAM = 1_000_003
# The throwaway steps of estimate_seconds draw from a stream of their own: timing never moves a trained weight.
TIMING_STREAM = 2_000_001


@dataclass
class TrainResult:
    """Trained models and what happened while training them."""

    models: LDMNISTModels
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def thread_count() -> int:
    """Threads torch trains and encodes with: ``$LDMNIST_NUM_THREADS``, else 1.

    Raises:
        InvalidArgumentError: the variable is not a positive integer.
    """
    raw = os.environ.get(NUM_THREADS_ENV, "").strip()
    if not raw:
        return DEFAULT_THREADS
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidArgumentError(f"{NUM_THREADS_ENV} must be a positive integer; got {NUM_THREADS_ENV}={raw!r}")
    return int(raw)


@contextmanager
def torch_threads(n: int | None = None) -> Iterator[int]:
    """Run the block with ``n`` (default :func:`thread_count`) torch intra-op threads, then restore the old count."""
    n = thread_count() if n is None else n
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(old)


def images_to_float(images: np.ndarray) -> torch.Tensor:
    """uint8 images (n, 28, 28) -> float32 tensor (n, 784) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8).reshape(len(images), -1)).float().div_(255.0)


def make_generator(seed: int, stream: int) -> torch.Generator:
    """A CPU generator for one named random stream of a seed."""
    return torch.Generator().manual_seed(seed * 2_000_003 + stream)


def one_cycle(step: int, total: int) -> float:
    """Learning-rate factor at ``step`` of ``total``: linear warm-up over 10%, then cosine decay to 0."""
    warm = max(1, total // 10)
    if step < warm:
        return 0.1 + 0.9 * step / warm
    progress = (step - warm) / max(1, total - warm)
    return 0.5 * (1.0 + float(np.cos(np.pi * progress)))


def estimate_seconds(images: np.ndarray, labels: np.ndarray, latent: int, cfg: TrainConfig, seed: int, *,
                     steps: int = 8) -> tuple[float, float]:
    """How long :func:`train` will take here: ``(seconds of the whole run, seconds of one epoch)``.

    Times ``steps`` optimizer steps of the recipe's batch size on throwaway models (their own random stream,
    so the trained weights are the same as without it), in the thread setting of the caller, and scales the
    median step (the first two warm up and are left out) to the run's epochs. It costs a fraction of a second:
    the number is measured on this machine, as it is loaded now, before anything is trained.

    Examples:
        >>> estimate_seconds(images, labels, 12, TrainConfig(), 0)  # doctest: +SKIP
        (1290.4, 1.84)
    """
    gen = make_generator(seed, TIMING_STREAM)
    models = LDMNISTModels(latent, cfg, generator=gen)
    optimizer = torch.optim.Adam(models.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
    steps = max(steps, 3)
    batch = min(cfg.batch_size, len(images))
    rows = min(len(images), batch * steps)  # a step gathers its batch from shuffled rows, as train() does
    data = images_to_float(images[:rows])
    targets = torch.from_numpy(np.asarray(labels[:rows], dtype=np.int64))
    models.train()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        idx = torch.randperm(rows, generator=gen)[:batch]
        terms = models.losses(data[idx], targets[idx], gen, 1.0)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    step_seconds = float(np.median(times[2:]))
    epoch_seconds = step_seconds * ((len(images) + cfg.batch_size - 1) // cfg.batch_size)
    return epoch_seconds * cfg.epochs, epoch_seconds


def train(
    images: np.ndarray,
    labels: np.ndarray,
    latent: int,
    cfg: TrainConfig,
    seed: int,
    *,
    progress: bool = True,
    checkpoint: Path | None = None,
    checkpoint_every: int = 50,
    on_checkpoint: Callable[[int, LDMNISTModels], None] | None = None,
) -> TrainResult:
    """Train the image VAE, class VAE and middle layers together.

    Args:
        images: uint8 array (n, 28, 28), the training split.
        labels: integer array (n,) with values 0..9.
        latent: size N of both latent spaces.
        cfg: the training recipe.
        seed: the variant's seed; all randomness derives from it.
        progress: show a tqdm bar with losses and accuracies.
        checkpoint: a file to save the whole training state to every
            ``checkpoint_every`` epochs (atomically) and to resume from when it
            exists, so a run of hours survives an interruption. A resumed run
            gives the same weights as an uninterrupted one (same machine and
            torch build): the generator, optimizer and schedule state are saved.
        checkpoint_every: epochs between checkpoints.
        on_checkpoint: called as ``on_checkpoint(epoch, models)`` after each
            checkpoint is written (for snapshots or figures along the way).

    Returns:
        The trained models (in eval mode) and one history row per epoch.

    Raises:
        InvalidArgumentError: the checkpoint belongs to another recipe, size or seed.
    """
    faults.point("train:start")
    gen = make_generator(seed, TRAIN_STREAM)
    models = LDMNISTModels(latent, cfg, generator=gen)
    data = images_to_float(images)
    targets = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    n = len(data)
    steps_per_epoch = (n + cfg.batch_size - 1) // cfg.batch_size
    total_steps = cfg.epochs * steps_per_epoch
    class_params = [*models.class_encoder.parameters(), *models.class_decoder.parameters()]
    class_ids = {id(p) for p in class_params}
    other_params = [p for p in models.parameters() if id(p) not in class_ids]
    optimizer = torch.optim.Adam(
        [{"params": other_params, "peak": cfg.lr}, {"params": class_params, "peak": cfg.class_lr}], lr=cfg.lr,
        eps=cfg.adam_eps,
    )
    for group in optimizer.param_groups:
        group["lr"] = group["peak"]
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=0.9, patience=cfg.plateau_patience
    ) if cfg.lr_schedule == "plateau" else None

    result = TrainResult(models)
    identity = {"latent": latent, "seed": seed, "train": cfg.to_dict(), "n": n}
    first = 0
    if checkpoint is not None and Path(checkpoint).exists():
        first = _resume(Path(checkpoint), identity, models, optimizer, plateau, gen, result)
    start = time.perf_counter() - result.seconds
    bar = tqdm(range(first, cfg.epochs), desc=f"train latent-{latent}", unit="epoch", disable=not progress,
               initial=first, total=cfg.epochs)
    step = first * steps_per_epoch
    models.train()
    for epoch in bar:
        order = torch.randperm(n, generator=gen)
        sums: dict[str, float] = {}
        for i in range(steps_per_epoch):
            idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            if cfg.lr_schedule == "onecycle":
                for group in optimizer.param_groups:
                    group["lr"] = group["peak"] * one_cycle(step, total_steps)
            warm = cfg.kl_warmup * total_steps
            kl_scale = min(1.0, step / warm) if warm > 0 else 1.0
            terms = models.losses(data[idx], targets[idx], gen, kl_scale)
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            optimizer.step()
            step += 1
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
        row = {k: v / steps_per_epoch for k, v in sums.items()}
        row["epoch"] = epoch + 1
        row["lr"] = optimizer.param_groups[0]["lr"]
        if plateau is not None:
            plateau.step(row["total"])
        result.history.append(row)
        bar.set_postfix(
            rec=f"{row['image_rec']:.4f}", kl=f"{row['image_kl']:.4f}",
            cls_acc=f"{row['class_acc']:.4f}", mid_acc=f"{row['middle_acc']:.4f}",
        )
        if checkpoint is not None and ((epoch + 1) % checkpoint_every == 0 or epoch + 1 == cfg.epochs):
            result.seconds = time.perf_counter() - start
            _save_checkpoint(Path(checkpoint), identity, epoch + 1, models, optimizer, plateau, gen, result)
            if on_checkpoint is not None:
                models.eval()
                on_checkpoint(epoch + 1, models)
                models.train()
    models.eval()
    result.seconds = time.perf_counter() - start
    return result


def _save_checkpoint(path: Path, identity: dict, epoch: int, models: LDMNISTModels, optimizer: torch.optim.Optimizer,
                     plateau: torch.optim.lr_scheduler.ReduceLROnPlateau | None, gen: torch.Generator,
                     result: TrainResult) -> None:
    state = {"identity": identity, "epoch": epoch, "models": models.state_dict(), "optimizer": optimizer.state_dict(),
             "plateau": plateau.state_dict() if plateau is not None else None, "generator": gen.get_state(),
             "history": result.history, "seconds": result.seconds}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a kill mid-write leaves the previous checkpoint intact


def _resume(path: Path, identity: dict, models: LDMNISTModels, optimizer: torch.optim.Optimizer,
            plateau: torch.optim.lr_scheduler.ReduceLROnPlateau | None, gen: torch.Generator,
            result: TrainResult) -> int:
    state = torch.load(path, weights_only=True)
    if state.get("identity") != identity:
        raise InvalidArgumentError(
            f"checkpoint {path} was written by another run ({state.get('identity')!r}, this run is {identity!r}); "
            "delete it or pass another checkpoint path")
    models.load_state_dict(state["models"])
    optimizer.load_state_dict(state["optimizer"])
    if plateau is not None:
        plateau.load_state_dict(state["plateau"])
    gen.set_state(state["generator"])
    result.history = list(state["history"])
    result.seconds = float(state["seconds"])
    return int(state["epoch"])
