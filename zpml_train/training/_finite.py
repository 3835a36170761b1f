"""The error for a training loss that was not finite.

:class:`~zpml_train.training.metrics.MetricSums` finds the first such step on
the device, with the other sums (``first_nonfinite_loss``); the trainer reads
it where it reads the metrics anyway and raises this error.
"""

from __future__ import annotations

from collections.abc import Mapping

from zpml_data.errors import DataError


def loss_not_finite(
    step: int, epoch: int, loss_weights: Mapping[str, float] | None = None
) -> DataError:
    """The error naming the first step of ``epoch`` whose loss was not finite.

    Args:
        step: The training step (global, from 1).
        epoch: The epoch, for the message.
        loss_weights: The weights the loss was given; those above 1 are
            named as a possible cause.
    """
    # A weight multiplies its term's loss: only one above 1 can push a finite loss over.
    heavy = {name: w for name, w in (loss_weights or {}).items() if w > 1}
    weights = ", ".join(f"{name!r}: {w:g}" for name, w in heavy.items())
    return DataError(
        f"training stopped: the loss is not finite at step {step} of epoch {epoch} "
        "(the model's weights are no longer usable); nothing of this epoch is kept. "
        "Check the inputs for non-finite values, "
        + (f"lower the loss weights above 1 ({weights}), " if heavy else "")
        + "or lower the learning rate"
    )
