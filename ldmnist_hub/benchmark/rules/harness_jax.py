"""The protocol's training loop in JAX: the split on the device, whole epochs in ``lax.scan``, optax Adam.

A JAX rule is a subclass of :class:`JaxRule` whose ``grads(params, x, y)``
returns ``(loss, grads)`` for one batch (optax's Adam takes the step), the
JAX form of the torch rules' ``set_grads``. The shared harness

(:mod:`ldmnist_hub.benchmark.rules.harness`) runs it like the torch rules:
draws, tuning, scoring and timing stay there, the same for every rule. Under the protocol's budget, training is
one ``jit``: the training rows live on the device, each epoch is a
``jax.random.permutation`` and one gather into ``(steps, batch, N)``, and
``lax.scan`` runs the steps and the epochs. An epoch has ``rows // batch``
steps: the ``rows % batch`` rows a shuffle leaves last sit that epoch out.

XLA's CPU threads are set before jax is imported, e.g.
``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` for one thread.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

from ldmnist_hub.benchmark.protocol import HIDDEN, Protocol

Params = list[tuple[jax.Array, jax.Array]]  # (weight (in, out), bias) per layer
Grads = Callable[[Params, jax.Array, jax.Array], tuple[jax.Array, Params]]


def init(key: jax.Array, sizes: tuple[int, ...]) -> Params:
    """Weights and biases uniform in +-1/sqrt(fan-in), as torch's default for the reference network."""
    params = []
    for k, a, b in zip(jax.random.split(key, len(sizes) - 1), sizes[:-1], sizes[1:], strict=True):
        kw, kb = jax.random.split(k)
        bound = 1.0 / np.sqrt(a)
        params.append((jax.random.uniform(kw, (a, b), minval=-bound, maxval=bound),
                       jax.random.uniform(kb, (b,), minval=-bound, maxval=bound)))
    return params


def forward(params: Params, x: jax.Array) -> jax.Array:
    """N-256-256-N with tanh: the prediction of ``y`` (what is scored)."""
    for w, b in params[:-1]:
        x = jnp.tanh(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def fit(grads: Grads, params: Params, x: np.ndarray, y: np.ndarray, *, lr: float, protocol: Protocol,
        key: jax.Array) -> tuple[Params, list[float]]:
    """Train under the protocol's budget (Adam, cosine decay to 0); return the params and each epoch's mean loss."""
    x, y = jnp.asarray(x), jnp.asarray(y)  # the whole split on the device
    steps = len(x) // protocol.batch_size
    opt = optax.adam(optax.cosine_decay_schedule(lr, protocol.epochs * steps))

    def step(carry: tuple, batch: tuple[jax.Array, jax.Array]) -> tuple[tuple, jax.Array]:
        params, state = carry
        loss, g = grads(params, *batch)
        updates, state = opt.update(g, state, params)
        return (optax.apply_updates(params, updates), state), loss

    def epoch(carry: tuple, key: jax.Array) -> tuple[tuple, jax.Array]:
        idx = jax.random.permutation(key, len(x))[:steps * protocol.batch_size].reshape(steps, -1)
        carry, losses = jax.lax.scan(step, carry, (x[idx], y[idx]))  # one gather: (steps, batch, N)
        return carry, losses.mean()

    run = jax.jit(lambda params, keys: jax.lax.scan(epoch, (params, opt.init(params)), keys))
    (params, _), losses = run(params, jax.random.split(key, protocol.epochs))
    return params, [float(v) for v in losses]


class JaxRule:
    """A JAX rule in the shared harness: ``make(latent, generator)`` as for the torch rules, then fit and predict.

    The harness seeds ``generator`` with the draw; initialisation and batch order
    are drawn from ``jax.random.key(draw)``.
    """

    def __init__(self, latent: int, generator: torch.Generator, hidden: int = HIDDEN) -> None:
        self.key_init, self.key_order = jax.random.split(jax.random.key(generator.initial_seed()))
        self.params = init(self.key_init, (latent, hidden, hidden, latent))

    def grads(self, params: Params, x: jax.Array, y: jax.Array) -> tuple[jax.Array, Params]:
        """The learning rule: the batch's MSE and an update direction for every parameter (Adam steps along -it)."""
        raise NotImplementedError(f"{type(self).__name__} must define grads(params, x, y): the learning rule")

    def fit(self, x: np.ndarray, y: np.ndarray, *, lr: float, protocol: Protocol) -> list[float]:
        """Train on ``(x, y)`` under the protocol; return each epoch's mean training loss."""
        self.params, losses = fit(self.grads, self.params, x, y, lr=lr, protocol=protocol,
                                  key=self.key_order)
        return losses

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions for ``x`` as float32 numpy."""
        return np.asarray(jax.jit(forward)(self.params, jnp.asarray(x)), dtype=np.float32)
