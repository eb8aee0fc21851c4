"""Backpropagation in JAX: ``jax.value_and_grad`` of the mean squared error, trained by optax Adam.

The JAX twin of :mod:`ldmnist_hub.benchmark.rules.backprop`. Copy this file to
try a rule of your own in JAX: change ``grads`` (it returns the batch's loss and
one update direction per parameter; Adam takes the step). The training loop
(whole epochs in ``lax.scan``) is :mod:`ldmnist_hub.benchmark.rules.harness_jax`;
the protocol (data, draws, budget, tuning) stays in
:mod:`ldmnist_hub.benchmark.rules.harness`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ldmnist_hub.benchmark.rules.harness import main
from ldmnist_hub.benchmark.rules.harness_jax import JaxRule, Params, forward


def mse(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
    """The batch's mean squared error."""
    return jnp.mean((forward(params, x) - y) ** 2)


class BackpropJax(JaxRule):
    """N-256-256-N tanh, trained by backpropagation of the mean squared error (JAX autodiff)."""

    def grads(self, params: Params, x: jax.Array, y: jax.Array) -> tuple[jax.Array, Params]:
        return jax.value_and_grad(mse)(params, x, y)  # the rule: the exact gradient


if __name__ == "__main__":
    main(BackpropJax)
