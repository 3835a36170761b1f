"""Watching the training loss for the first non-finite value without reading the device."""

from __future__ import annotations

import torch

from zpml_data.errors import DataError


class LossWatch:
    """The first training step whose loss was not finite, kept on the device.

    :meth:`note` runs every step and never syncs; :meth:`check` reads one
    number, at the points where the host reads the metrics anyway.

    Args:
        device: The training device.
    """

    def __init__(self, device: torch.device) -> None:
        self.first_bad = torch.zeros((), dtype=torch.float64, device=device)  # 0: none yet

    def note(self, loss: torch.Tensor, step: int) -> None:
        """Remember ``step`` if its loss is not finite and no step was before it."""
        bad = ~torch.isfinite(loss.detach()) & (self.first_bad == 0)
        self.first_bad.copy_(torch.where(bad, float(step), self.first_bad))

    def check(self, epoch: int) -> None:
        """Raise if a step's loss was not finite (one host read), and forget it.

        Raises:
            DataError: Naming the first such step and ``epoch``.
        """
        step = int(self.first_bad.item())
        if step:
            self.first_bad.zero_()
            raise DataError(
                f"training stopped: the loss is not finite at step {step} of epoch {epoch} "
                "(the model's weights are no longer usable); nothing of this epoch is kept. "
                "Check the inputs for non-finite values, or lower the learning rate"
            )
