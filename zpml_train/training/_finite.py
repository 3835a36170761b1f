"""Watching the training loss for the first non-finite value without reading the device."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from zpml_data.errors import DataError


class LossWatch:
    """The first training step whose loss was not finite, kept on the device.

    :meth:`note` runs every step and only keeps the loss (no kernel, no sync);
    every ``flush_every`` steps, and at :meth:`check`, the kept losses are
    tested together on the device. :meth:`check` reads one number, at the
    points where the host reads the metrics anyway.

    Args:
        device: The training device.
        flush_every: Steps whose losses are kept before they are tested.
    """

    def __init__(self, device: torch.device, flush_every: int = 64) -> None:
        self.first_bad = torch.zeros((), dtype=torch.float64, device=device)  # 0: none yet
        self.flush_every = flush_every
        self._losses: list[torch.Tensor] = []
        self._first_step = 0  # the step of self._losses[0]; the others follow it one by one

    def note(self, loss: torch.Tensor, step: int) -> None:
        """Keep ``step``'s loss, to be tested with the steps around it."""
        if self._losses and step != self._first_step + len(self._losses):
            self._flush()  # not the next step: test what is kept before starting over
        if not self._losses:
            self._first_step = step
        self._losses.append(loss.detach().reshape(()))
        if len(self._losses) >= self.flush_every:
            self._flush()

    def _flush(self) -> None:
        """Remember the first kept step with a non-finite loss, unless an earlier one is known."""
        if not self._losses:
            return
        bad = ~torch.isfinite(torch.stack(self._losses))
        found = torch.where(bad.any(), bad.int().argmax() + self._first_step, 0)
        self.first_bad.copy_(torch.where(self.first_bad == 0, found, self.first_bad))
        self._losses = []

    def check(self, epoch: int, loss_weights: Mapping[str, float] | None = None) -> None:
        """Raise if a step's loss was not finite (one host read), and forget it.

        Args:
            epoch: The epoch, for the message.
            loss_weights: The weights the loss was given; those above 1 are
                named as a possible cause.

        Raises:
            DataError: Naming the first such step and ``epoch``.
        """
        self._flush()
        step = int(self.first_bad.item())
        if step:
            self.first_bad.zero_()
            # A weight multiplies its term's loss: only one above 1 can push a finite loss over.
            heavy = {name: w for name, w in (loss_weights or {}).items() if w > 1}
            weights = ", ".join(f"{name!r}: {w:g}" for name, w in heavy.items())
            raise DataError(
                f"training stopped: the loss is not finite at step {step} of epoch {epoch} "
                "(the model's weights are no longer usable); nothing of this epoch is kept. "
                "Check the inputs for non-finite values, "
                + (f"lower the loss weights above 1 ({weights}), " if heavy else "")
                + "or lower the learning rate"
            )
