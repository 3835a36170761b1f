"""Thresholds: each training step's, drawn from a seeded generator; the calibration's candidates."""

from __future__ import annotations

import torch
from torch import nn

from zpml_train.model.gated import GatedHead


class ThresholdSampler:
    """Draws each step's ``tau`` uniformly from ``[low, high]``.

    The generator is private and on the CPU, so draws neither depend on nor
    disturb the global RNG, and never wait for an accelerator. With
    ``low == high`` nothing is drawn. Seeded alike, the draws equal those of
    ``torch.manual_seed(seed)`` followed by ``torch.empty(1).uniform_(low, high)``
    per step (the reference trainer's draws).

    Args:
        low: ``tau_train_min``.
        high: ``tau_train_max``.
        seed: The generator's seed.
    """

    def __init__(self, low: float, high: float, seed: int) -> None:
        self.low, self.high = low, high
        self.generator = torch.Generator().manual_seed(seed)

    def draw(self) -> float:
        """The next threshold."""
        if self.low == self.high:
            return self.low
        return float(torch.empty(1).uniform_(self.low, self.high, generator=self.generator))

    def get_state(self) -> torch.Tensor:
        """The generator's state, for checkpoints."""
        return self.generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        """Restore a state from :meth:`get_state`."""
        self.generator.set_state(state.cpu())


def candidate_thresholds(model: nn.Module) -> torch.Tensor:
    """The thresholds a calibration tries, ascending, for this model's head.

    A gated head's ``Q`` is a probability: 0.01 to 0.99 in steps of 0.01. A
    rational head's ``|Q|`` has no scale: 20 per decade from 1e-6 to 1.
    """
    if any(isinstance(module, GatedHead) for module in model.modules()):
        return torch.linspace(0.01, 0.99, 99, dtype=torch.float64)
    return torch.logspace(-6, 0, 121, dtype=torch.float64)
