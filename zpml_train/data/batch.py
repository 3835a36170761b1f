"""The typed batch the loader yields and the trainer consumes."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from zpml_data.lift import SemanticTargets


class Batch(NamedTuple):
    """One batch of rows from a shard directory.

    The first three fields are the training guide's typed batch, so
    ``inputs, values, status = batch[:3]`` works wherever a plain
    ``(inputs, values, status_labels)`` tuple does.

    Attributes:
        inputs: float32 ``[B, F]``, the input features in manifest order.
        values: float32 ``[B]``, or ``[B, T]`` for T targets.
        status_labels: int8 status codes shaped like ``values``.
        targets: The stored lift of ``(values, status_labels)``, read from the
            shard rather than recomputed; ``None`` when the batch did not come
            from shards.
        row_id: int64 ``[B]``, each row's index in the source; ``None`` when
            unknown.
    """

    inputs: torch.Tensor
    values: torch.Tensor
    status_labels: torch.Tensor
    targets: SemanticTargets | None = None
    row_id: torch.Tensor | None = None

    def to(self, device: Any, non_blocking: bool = False) -> Batch:
        """Move every tensor, including the stored targets, to ``device``.

        Args:
            device: A torch device or device string.
            non_blocking: Passed to ``Tensor.to``; pays off from pinned memory.

        Returns:
            A new ``Batch`` on ``device``.
        """
        return Batch(
            self.inputs.to(device, non_blocking=non_blocking),
            self.values.to(device, non_blocking=non_blocking),
            self.status_labels.to(device, non_blocking=non_blocking),
            None if self.targets is None else self.targets.to(device, non_blocking=non_blocking),
            None if self.row_id is None else self.row_id.to(device, non_blocking=non_blocking),
        )

    @property
    def num_rows(self) -> int:
        """Rows in the batch (``B``)."""
        return int(self.inputs.shape[0])
