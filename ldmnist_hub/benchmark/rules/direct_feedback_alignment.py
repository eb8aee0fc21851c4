"""Direct feedback alignment (Nøkland, 2016): the output error goes straight to every hidden layer.

No error travels layer by layer: hidden layer ``l`` receives the output error
``e`` through its own fixed random matrix ``B_l`` (``delta_l = (e @ B_l) *
tanh'(a_l)``), and every weight's update is its layer's ``delta`` times the
layer's input. The output layer's update is the exact gradient.
"""

from __future__ import annotations

import math

import torch

from ldmnist_hub.benchmark.rules.harness import HIDDEN, ReferenceNet, main


class DirectFeedbackAlignment(ReferenceNet):
    """N-256-256-N tanh, hidden layers trained from the output error through fixed random matrices."""

    def __init__(self, latent: int, generator: torch.Generator, hidden: int = HIDDEN) -> None:
        super().__init__(latent, generator, hidden)
        bound = 1.0 / math.sqrt(latent)
        # One (N, hidden) matrix per hidden layer, never trained.
        self.register_buffer("feedback1", torch.empty(latent, hidden).uniform_(-bound, bound, generator=generator))
        self.register_buffer("feedback2", torch.empty(latent, hidden).uniform_(-bound, bound, generator=generator))

    @torch.no_grad()
    def set_grads(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        layer1, layer2, layer3 = self.layers
        h1 = torch.tanh(layer1(x))
        h2 = torch.tanh(layer2(h1))
        out = layer3(h2)
        e = 2 * (out - y) / out.numel()  # d(mean squared error)/d(out)
        # The rule: each hidden layer gets the output error through its fixed random matrix.
        delta2 = (e @ self.feedback2) * (1 - h2**2)
        delta1 = (e @ self.feedback1) * (1 - h1**2)
        for layer, delta, inputs in ((layer3, e, h2), (layer2, delta2, h1), (layer1, delta1, x)):
            layer.weight.grad = delta.T @ inputs
            layer.bias.grad = delta.sum(0)
        return torch.mean((out - y) ** 2)


if __name__ == "__main__":
    main(DirectFeedbackAlignment)
