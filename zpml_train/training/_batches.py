"""Turn any accepted batch form into inputs and lifted targets, on the host first."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from zpml_data import encode_status
from zpml_data.errors import UsageError
from zpml_data.lift import SemanticTargets, lift_semantic_targets, sentinel_codes
from zpml_train.data.batch import Batch

BATCH_FORMS = (
    "zpml_train.Batch, (inputs, values, status_labels), (inputs, values) with NaN/±inf "
    "sentinels, or (inputs, SemanticTargets)"
)


class TrainingBatch(NamedTuple):
    """A batch as the trainer uses it.

    Attributes:
        inputs: ``[B, F]`` features.
        targets: The lifted targets.
        codes: int8 status codes when the batch carried labels or sentinels;
            ``None`` for ``(inputs, SemanticTargets)``.
        values: The stored values (the limit on censored cells; ±inf for
            legacy sentinels); ``None`` for ``(inputs, SemanticTargets)``.
    """

    inputs: torch.Tensor
    targets: SemanticTargets
    codes: torch.Tensor | None
    values: torch.Tensor | None = None

    @property
    def rows(self) -> int:
        """Rows in the batch."""
        return int(self.inputs.shape[0])

    def to(self, device: torch.device) -> TrainingBatch:
        """Everything on ``device`` (asynchronous from pinned memory).

        The host-side checks read the codes before the move.
        """
        non_blocking = device.type == "cuda"

        def moved(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor.to(device, non_blocking=non_blocking)

        return TrainingBatch(
            self.inputs.to(device, non_blocking=non_blocking),
            self.targets.to(device, non_blocking=non_blocking),
            moved(self.codes),
            moved(self.values),
        )


def as_training_batch(batch: Any) -> TrainingBatch:
    """Recognise a batch form and lift its targets where they are not lifted yet.

    Lifting happens where the values are (the host, for a loader), so the
    checks on status codes never wait for the accelerator.

    Raises:
        UsageError: The batch is none of the accepted forms.
        StatusLabelError, TargetValueError, ShapeError: From lifting.
    """
    if isinstance(batch, Batch):
        targets = batch.targets
        if targets is None:
            targets = lift_semantic_targets(batch.values, batch.status_labels)
        return TrainingBatch(batch.inputs, targets, batch.status_labels, batch.values)
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise UsageError(
            f"cannot train on a batch of type {type(batch).__name__}"
            + (f" with {len(batch)} parts" if isinstance(batch, (tuple, list)) else "")
            + f"; a batch is {BATCH_FORMS}"
        )
    inputs = _tensor(batch[0], "inputs")
    if len(batch) == 2 and isinstance(batch[1], SemanticTargets):
        return TrainingBatch(inputs, batch[1], None)
    values = _tensor(batch[1], "values")
    if len(batch) == 2:
        codes = sentinel_codes(values)
    elif isinstance(batch[2], torch.Tensor):
        codes = batch[2]
    else:
        codes = torch.from_numpy(encode_status(batch[2])).to(values.device)
    return TrainingBatch(inputs, lift_semantic_targets(values, codes), codes, values)


def _tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise UsageError(
            f"batch {name} must be a tensor or an array, got {type(value).__name__}; "
            f"a batch is {BATCH_FORMS}"
        ) from None
