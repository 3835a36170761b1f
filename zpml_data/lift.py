"""Lifting targets to projective pairs ``(Y_n, Y_d)``.

One implementation for numpy and torch: status codes index small lookup tables
derived from :data:`zpml_data.status.SEMANTICS`; only the table's array type
differs. numpy in gives numpy out; torch in gives torch out on the same device.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from zpml_data.errors import ShapeError, TargetValueError
from zpml_data.status import (
    DEFAULT_SENTINEL_POLICY,
    SEMANTICS,
    Status,
    check_codes,
    encode_status,
)

_MAX_POSITIONS = 5


@dataclasses.dataclass(frozen=True)
class SemanticTargets:
    """Projective targets and masks lifted from values and status labels.

    Attributes:
        Y_n: Numerator, in the values' dtype.
        Y_d: Denominator, in the values' dtype; 0 marks a bottom (⊥) target.
        mask_finite: True where the target is a finite value to regress.
        mask_bottom: True where the target is ⊥ (semantic or fault).
        orientation_label: int64; -1 censored below, +1 censored above, else 0.
        bottom_kind: int64; 0 none, 1 fault, 2 semantic.
    """

    Y_n: Any
    Y_d: Any
    mask_finite: Any
    mask_bottom: Any
    orientation_label: Any
    bottom_kind: Any

    @property
    def mask_untrained(self) -> Any:
        """True where the target is neither trained as finite nor as bottom (``missing``)."""
        return ~(self.mask_finite | self.mask_bottom)

    def to(self, device: Any, non_blocking: bool = False) -> SemanticTargets:
        """Move every field (torch tensors) to ``device``.

        Args:
            device: A torch device or device string.
            non_blocking: Passed to ``Tensor.to``.

        Returns:
            A new ``SemanticTargets`` on ``device``.
        """
        return SemanticTargets(
            **{
                field.name: getattr(self, field.name).to(device, non_blocking=non_blocking)
                for field in dataclasses.fields(self)
            }
        )


class _Tables(NamedTuple):
    """Per-code lookup tables, as numpy arrays or torch tensors."""

    y_n: Any
    y_d: Any
    bottom: Any
    orientation: Any
    bottom_kind: Any


def _numpy_tables(dtype: np.dtype) -> _Tables:
    order = sorted(SEMANTICS)
    return _Tables(
        y_n=np.array([SEMANTICS[s].y_n or 0.0 for s in order], dtype=dtype),
        y_d=np.array([SEMANTICS[s].y_d for s in order], dtype=dtype),
        bottom=np.array([SEMANTICS[s].y_d == 0.0 for s in order], dtype=bool),
        orientation=np.array([SEMANTICS[s].orientation for s in order], dtype=np.int64),
        bottom_kind=np.array([SEMANTICS[s].bottom_kind for s in order], dtype=np.int64),
    )


_cached_numpy_tables = functools.cache(_numpy_tables)


@functools.cache
def _torch_tables(dtype: Any, device: Any) -> _Tables:
    import torch

    numpy_dtype = torch.empty((), dtype=dtype).numpy().dtype
    return _Tables(*(torch.from_numpy(table).to(device) for table in _numpy_tables(numpy_dtype)))


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def lift_semantic_targets(values: Any, status_labels: Any) -> SemanticTargets:
    """Lift target values with explicit status labels to projective targets.

    Args:
        values: Target values, a numpy array (or anything ``np.asarray`` takes)
            or a torch tensor, of any shape, float16/32/64.
        status_labels: Labels or int8 codes of the same shape, in any form
            :func:`zpml_data.status.encode_status` accepts.

    Returns:
        ``SemanticTargets`` as numpy arrays, or as torch tensors on the values'
        device when ``values`` is a tensor.

    Raises:
        ShapeError: The labels' shape differs from the values' shape.
        StatusLabelError: A label is unknown or null, or a code out of range.
        TargetValueError: A value labelled ``finite`` is NaN or infinite.
    """
    codes: Any
    if _is_torch(values):
        import torch

        if isinstance(status_labels, torch.Tensor) and not (
            status_labels.is_floating_point() or status_labels.dtype == torch.bool
        ):
            codes = status_labels.to(values.device, torch.int64)
            if codes.numel() and (codes.min() < 0 or codes.max() >= len(Status)):
                check_codes(codes.cpu().numpy())  # raises, naming the bad codes
        else:
            codes = torch.from_numpy(encode_status(status_labels)).to(values.device, torch.int64)
        tables = _torch_tables(values.dtype, values.device)
        return _lift(values, codes, tables, torch.where, torch.isfinite)
    values = np.asarray(values)
    if values.dtype.kind not in "fiu":
        raise TypeError(f"values must be real numbers, got dtype {values.dtype}")
    codes = encode_status(status_labels).astype(np.intp)
    return _lift(values, codes, _cached_numpy_tables(values.dtype), np.where, np.isfinite)


def _lift(
    values: Any,
    codes: Any,
    tables: _Tables,
    where: Callable[..., Any],
    isfinite: Callable[[Any], Any],
) -> SemanticTargets:
    shape = tuple(values.shape)
    if tuple(codes.shape) != shape:
        raise ShapeError(
            f"status labels have shape {tuple(codes.shape)} but values have shape {shape}; "
            "give one label per value"
        )
    # Work on flat views so 0-d inputs give 0-d arrays, not numpy scalars.
    flat_values, flat_codes = values.reshape(-1), codes.reshape(-1)
    finite = flat_codes == Status.FINITE
    nonfinite = finite & ~isfinite(flat_values)
    if nonfinite.any():
        raise _nonfinite_error(flat_values, nonfinite)
    return SemanticTargets(
        Y_n=where(finite, flat_values, tables.y_n[flat_codes]).reshape(shape),
        Y_d=tables.y_d[flat_codes].reshape(shape),
        mask_finite=finite.reshape(shape),
        mask_bottom=tables.bottom[flat_codes].reshape(shape),
        orientation_label=tables.orientation[flat_codes].reshape(shape),
        bottom_kind=tables.bottom_kind[flat_codes].reshape(shape),
    )


def _nonfinite_error(values: Any, nonfinite: Any) -> TargetValueError:
    if _is_torch(nonfinite):
        values, nonfinite = values.cpu().numpy(), nonfinite.cpu().numpy()
    positions = np.flatnonzero(nonfinite)
    bad = np.unique(values[positions].astype(np.float64).astype(str))
    return TargetValueError(
        f"{positions.size} value(s) labelled 'finite' are not finite ({', '.join(bad)}), "
        f"first at {', '.join(map(str, positions[:_MAX_POSITIONS]))}; a finite target needs a "
        "number: label these rows bottom, censored_*, missing or fault instead"
    )


def sentinel_codes(values: Any, policy: Mapping[str, Status] = DEFAULT_SENTINEL_POLICY) -> Any:
    """Status codes for legacy sentinel values: finite, or per ``policy`` for NaN/±inf.

    Args:
        values: A numpy array or torch tensor.
        policy: The label for each of ``"nan"``, ``"posinf"`` and ``"neginf"``.

    Returns:
        int8 codes of the values' shape, numpy or torch like ``values``.
    """
    codes: Any
    kinds: tuple[Callable[[Any], Any], ...]
    if _is_torch(values):
        import torch

        codes = torch.zeros_like(values, dtype=torch.int8)
        kinds = (torch.isnan, torch.isposinf, torch.isneginf)
    else:
        values = np.asarray(values)
        codes = np.zeros(values.shape, dtype=np.int8)
        kinds = (np.isnan, np.isposinf, np.isneginf)
    for name, is_kind in zip(("nan", "posinf", "neginf"), kinds, strict=True):
        codes[is_kind(values)] = policy[name]
    return codes


def lift_targets(values: Any) -> tuple[Any, Any]:
    """Lift legacy sentinels: ``y`` → ``(y, 1)``, ``±inf`` → ``(±1, 0)``, NaN → ``(1, 0)``.

    This is the default sentinel policy lifted through the same tables as
    :func:`lift_semantic_targets`, so the two paths agree bit for bit.

    Args:
        values: A numpy array or torch tensor.

    Returns:
        ``(Y_n, Y_d)`` in the values' array type, dtype and device.
    """
    targets = lift_semantic_targets(values, sentinel_codes(values))
    return targets.Y_n, targets.Y_d
