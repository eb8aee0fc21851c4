"""Predictive coding (Whittington & Bogacz, 2017): relax the hidden states, then update each layer locally.

Each layer predicts the next: ``mu1 = W1 x``, ``mu2 = W2 tanh(v1)``, ``mu3 = W3
tanh(v2)`` (biases omitted here), with free hidden states ``v1``, ``v2`` and
the energy

    F = |v1 - mu1|^2 / 2 + |v2 - mu2|^2 / 2 + output_weight * |y - mu3|^2 / 2.

For a batch the hidden states start at the feedforward pass and descend ``F``
for ``steps`` steps; then each weight moves by its layer's prediction error
times its input (``-dF/dW``): nothing but local quantities.

Two settings decide whether this learns on LD-MNIST:

- the inference step. Gradient descent on ``F`` diverges for steps above 2 /
  (its largest curvature), and the curvature grows with the weights (to about
  ``1 + |W2|^2 + output_weight |W3|^2``: |W2| reaches 7.5 after 3 epochs at
  latent 8). A fixed step (the textbook's 0.1) diverges part-way through
  training; with ``stable=True`` (default) the step is ``step_size`` over that
  curvature. The states then move a short way from the feedforward pass and
  the updates follow backprop's direction layer by layer.
- ``output_weight``: 0.01 weights the output error against the hidden ones;
  1 clamps the output fully to ``y`` (the textbook form).
"""

from __future__ import annotations

import torch

from ldmnist_hub.benchmark.rules.harness import HIDDEN, ReferenceNet, main


class PredictiveCoding(ReferenceNet):
    """N-256-256-N tanh, trained by predictive coding with a weighted output error."""

    def __init__(self, latent: int, generator: torch.Generator, hidden: int = HIDDEN, *,
                 output_weight: float = 0.01, steps: int = 10, step_size: float = 0.2,
                 stable: bool = True) -> None:
        super().__init__(latent, generator, hidden)
        self.output_weight, self.steps, self.step_size, self.stable = output_weight, steps, step_size, stable

    @staticmethod
    def norm(weight: torch.Tensor) -> torch.Tensor:
        """The spectral norm (largest singular value) of a weight matrix."""
        return torch.linalg.matrix_norm(weight, ord=2)

    def errors(self, x: torch.Tensor, y: torch.Tensor, v1: torch.Tensor,
               v2: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Each layer's state minus its prediction (the output's state is the clamped ``y``), weighted."""
        layer1, layer2, layer3 = self.layers
        h1, h2 = torch.tanh(v1), torch.tanh(v2)
        return h1, h2, v1 - layer1(x), v2 - layer2(h1), self.output_weight * (y - layer3(h2))

    @torch.no_grad()
    def set_grads(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        layer1, layer2, layer3 = self.layers
        v1 = layer1(x)  # the hidden states start at the feedforward pass: every hidden error is 0
        v2 = layer2(torch.tanh(v1))
        loss = torch.mean((layer3(torch.tanh(v2)) - y) ** 2)  # the feedforward prediction's error
        # Inference is gradient descent of F on the hidden states. It diverges for steps above 2 / (F's
        # largest curvature), which grows with the weights (to 1 + |W2|^2 + output_weight |W3|^2), so the
        # step shrinks as they grow.
        step = self.step_size
        if self.stable:
            step /= 1 + self.norm(layer2.weight) ** 2 + self.output_weight * self.norm(layer3.weight) ** 2
        for _ in range(self.steps):
            h1, h2, e1, e2, e3 = self.errors(x, y, v1, v2)
            v1 -= step * (e1 - (1 - h1**2) * (e2 @ layer2.weight))
            v2 -= step * (e2 - (1 - h2**2) * (e3 @ layer3.weight))
        h1, h2, e1, e2, e3 = self.errors(x, y, v1, v2)
        # The rule: -dF/dW, each layer's error times its input, averaged over the batch.
        for layer, error, inputs in ((layer1, e1, x), (layer2, e2, h1), (layer3, e3, h2)):
            layer.weight.grad = -error.T @ inputs / len(x)
            layer.bias.grad = -error.mean(0)
        return loss


if __name__ == "__main__":
    main(PredictiveCoding)
