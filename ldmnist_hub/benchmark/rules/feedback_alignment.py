"""Feedback alignment (Lillicrap et al., 2016): errors travel backwards through fixed random matrices.

The forward pass is the reference network's. In the backward pass each layer
sends the error to the layer below through a fixed random matrix ``B`` of its
weight's shape instead of the weight itself (``grad_x = grad_out @ B`` where
backprop has ``grad_out @ W``); its own weight gradient is the usual
``grad_out.T @ x``. The forward weights come to align with ``B``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ldmnist_hub.benchmark.rules.harness import HIDDEN, ReferenceNet, main


class FeedbackLinear(torch.autograd.Function):
    """``x @ weight.T + bias`` whose backward sends the error down through ``feedback``, not ``weight``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                feedback: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, feedback)
        return x @ weight.T + bias

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, None]:
        x, feedback = ctx.saved_tensors
        # The rule: the error goes down through the fixed feedback matrix (backprop: grad_out @ weight).
        return grad_out @ feedback, grad_out.T @ x, grad_out.sum(0), None


class FeedbackAlignment(ReferenceNet):
    """N-256-256-N tanh, trained with a fixed random feedback matrix per layer."""

    def __init__(self, latent: int, generator: torch.Generator, hidden: int = HIDDEN) -> None:
        super().__init__(latent, generator, hidden)
        for i, layer in enumerate(self.layers):
            bound = 1.0 / math.sqrt(layer.in_features)  # the scale of the forward weights
            feedback = torch.empty_like(layer.weight).uniform_(-bound, bound, generator=generator)
            self.register_buffer(f"feedback{i}", feedback)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = FeedbackLinear.apply(x, layer.weight, layer.bias, getattr(self, f"feedback{i}"))
            if i < last:
                x = torch.tanh(x)
        return x

    def set_grads(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = torch.nn.functional.mse_loss(self(x), y)
        loss.backward()  # through FeedbackLinear.backward
        return loss.detach()


if __name__ == "__main__":
    main(FeedbackAlignment)
