"""Backpropagation: the loss's exact gradient through every layer, the reference for every other rule.

Copy this file to try a rule of your own: change ``set_grads`` (it fills each
parameter's ``.grad`` for one batch; Adam takes the step) and run
``python your_rule.py --latent 8``. The protocol (data, draws, budget, tuning)
stays in :mod:`ldmnist_hub.benchmark.rules.harness`.
"""

from __future__ import annotations

import torch

from ldmnist_hub.benchmark.rules.harness import ReferenceNet, main


class Backprop(ReferenceNet):
    """N-256-256-N tanh, trained by backpropagation of the mean squared error."""

    def set_grads(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = torch.nn.functional.mse_loss(self(x), y)
        loss.backward()  # the rule: autograd's exact gradient
        return loss.detach()


if __name__ == "__main__":
    main(Backprop)
