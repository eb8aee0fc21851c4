"""Predictive coding in JAX: relax the hidden states, then update each layer locally (as the torch module).

The JAX twin of :mod:`ldmnist_hub.benchmark.rules.predictive_coding` (read its
docstring for the energy ``F`` and the two settings that decide whether it
learns). Weights here are ``(in, out)``: layer ``l`` predicts ``mu = h @ W + b``.
For a batch the hidden states start at the feedforward pass and descend ``F``
for ``steps`` steps (a step within the stability bound when ``stable``); then
each weight moves by its layer's prediction error times its input.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import torch

from ldmnist_hub.benchmark.rules.harness import HIDDEN, main
from ldmnist_hub.benchmark.rules.harness_jax import JaxRule, Params, forward


class PredictiveCodingJax(JaxRule):
    """N-256-256-N tanh, trained by predictive coding with a weighted output error (JAX)."""

    def __init__(self, latent: int, generator: torch.Generator, hidden: int = HIDDEN, *,
                 output_weight: float = 0.01, steps: int = 10, step_size: float = 0.2,
                 stable: bool = True) -> None:
        super().__init__(latent, generator, hidden)
        self.output_weight, self.steps, self.step_size, self.stable = output_weight, steps, step_size, stable

    def errors(self, params: Params, x: jax.Array, y: jax.Array, v1: jax.Array,
               v2: jax.Array) -> tuple[jax.Array, ...]:
        """Each layer's state minus its prediction (the output's state is the clamped ``y``), weighted."""
        (w1, b1), (w2, b2), (w3, b3) = params
        h1, h2 = jnp.tanh(v1), jnp.tanh(v2)
        return h1, h2, v1 - (x @ w1 + b1), v2 - (h1 @ w2 + b2), self.output_weight * (y - (h2 @ w3 + b3))

    def grads(self, params: Params, x: jax.Array, y: jax.Array) -> tuple[jax.Array, Params]:
        (w1, b1), (w2, b2), (w3, _) = params
        v1 = x @ w1 + b1  # the hidden states start at the feedforward pass: every hidden error is 0
        v2 = jnp.tanh(v1) @ w2 + b2
        loss = jnp.mean((forward(params, x) - y) ** 2)  # the feedforward prediction's error
        step = self.step_size  # inference within the stability bound: 2 / (F's largest curvature)
        if self.stable:
            step /= 1 + jnp.linalg.norm(w2, 2) ** 2 + self.output_weight * jnp.linalg.norm(w3, 2) ** 2
        for _ in range(self.steps):
            h1, h2, e1, e2, e3 = self.errors(params, x, y, v1, v2)
            v1 = v1 - step * (e1 - (1 - h1**2) * (e2 @ w2.T))
            v2 = v2 - step * (e2 - (1 - h2**2) * (e3 @ w3.T))
        h1, h2, e1, e2, e3 = self.errors(params, x, y, v1, v2)
        # The rule: -dF/dW, each layer's error times its input, averaged over the batch.
        return loss, [(-inputs.T @ error / len(x), -error.mean(0))
                      for error, inputs in ((e1, x), (e2, h1), (e3, h2))]


if __name__ == "__main__":
    main(PredictiveCodingJax)
