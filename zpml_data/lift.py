"""Lifting targets to projective pairs ``(Y_n, Y_d)``.

One implementation for numpy and torch: status codes index small lookup tables
derived from :data:`zpml_data.status.SEMANTICS`; only the table's array type
differs. numpy in gives numpy out; torch in gives torch out on the same device.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from zpml_data.encode import check_codes, encode_status
from zpml_data.errors import ShapeError, TargetValueError, first_few
from zpml_data.status import DEFAULT_SENTINEL_POLICY, SEMANTICS, Status


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

    def pin_memory(self) -> SemanticTargets:
        """Pin every field (torch tensors); ``DataLoader(pin_memory=True)`` calls this."""
        return SemanticTargets(
            **{
                field.name: getattr(self, field.name).pin_memory()
                for field in dataclasses.fields(self)
            }
        )


# Each per-code column of SEMANTICS packed as {value: bitmask of the codes with
# that value}. Looking a code up is then sum(value * ((bitmask >> code) & 1)):
# a few SIMD shifts over int8 codes instead of a gather, which measured 8x
# faster per column at 10⁶ rows (0.17 ms against 1.35 ms for numpy indexing).
_PackedColumn = tuple[tuple[int, int], ...]


def _pack(column: list[float]) -> _PackedColumn:
    return tuple(
        (int(value), sum(1 << code for code, v in enumerate(column) if v == value))
        for value in sorted(set(column))
        if value != 0
    )


class _Columns(NamedTuple):
    y_n: _PackedColumn
    y_d: _PackedColumn
    orientation: _PackedColumn
    bottom_kind: _PackedColumn


_ORDER = sorted(SEMANTICS)
_COLUMNS = _Columns(
    y_n=_pack([SEMANTICS[s].y_n or 0.0 for s in _ORDER]),
    y_d=_pack([SEMANTICS[s].y_d for s in _ORDER]),
    orientation=_pack([SEMANTICS[s].orientation for s in _ORDER]),
    bottom_kind=_pack([SEMANTICS[s].bottom_kind for s in _ORDER]),
)


class _Ops(NamedTuple):
    """The few array operations that differ between numpy and torch."""

    where: Callable[..., Any]
    isfinite: Callable[[Any], Any]
    int8: Callable[[int], Any]  # an int8 scalar on the codes' device
    cast: Callable[[Any, Any], Any]  # (array, dtype) -> array


_NUMPY_OPS = _Ops(np.where, np.isfinite, np.int8, lambda x, dtype: x.astype(dtype, copy=False))


def _torch_ops(device: Any) -> _Ops:
    import torch

    return _Ops(
        torch.where,
        torch.isfinite,
        lambda n: torch.tensor(n, dtype=torch.int8, device=device),
        lambda x, dtype: x.to(dtype),
    )


def _lookup(column: _PackedColumn, codes: Any, ops: _Ops) -> Any:
    """``column[codes]`` as int8, from the packed column."""
    out = None
    for value, bitmask in column:
        term = ops.int8(bitmask) >> codes
        term &= ops.int8(1)  # in place: no temporaries beyond one array per term
        if value != 1:
            term *= ops.int8(value)
        if out is None:
            out = term
        else:
            out += term
    return out


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def lift_semantic_targets(values: Any, status_labels: Any) -> SemanticTargets:
    """Lift target values with explicit status labels to projective targets.

    Args:
        values: Target values, a numpy array (or anything ``np.asarray`` takes)
            or a torch tensor, of any shape, float16/32/64.
        status_labels: Labels or int8 codes of the same shape, in any form
            :func:`zpml_data.encode.encode_status` accepts.

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
            if status_labels.numel() and (
                status_labels.min() < 0 or status_labels.max() >= len(Status)
            ):
                check_codes(status_labels.cpu().numpy())  # raises, naming the bad codes
            codes = status_labels.to(values.device, torch.int8)
        else:
            codes = torch.from_numpy(encode_status(status_labels)).to(values.device)
        return _lift(values, codes, _torch_ops(values.device), (values.dtype, torch.int64))
    values = np.asarray(values)
    if values.dtype.kind not in "fiu":
        raise TypeError(f"values must be real numbers, got dtype {values.dtype}")
    codes = encode_status(status_labels)
    return _lift(values, codes, _NUMPY_OPS, (values.dtype, np.int64))


def _lift(values: Any, codes: Any, ops: _Ops, dtypes: tuple[Any, Any]) -> SemanticTargets:
    """The lift itself, for numpy arrays or torch tensors; ``codes`` are valid int8 codes."""
    shape = tuple(values.shape)
    if tuple(codes.shape) != shape:
        raise ShapeError(
            f"status labels have shape {tuple(codes.shape)} but values have shape {shape}; "
            "give one label per value"
        )
    value_dtype, int64 = dtypes
    # Work on flat views so 0-d inputs give 0-d arrays, not numpy scalars.
    flat_values, flat_codes = values.reshape(-1), codes.reshape(-1)
    finite = flat_codes == Status.FINITE
    # A finite row's value, else its label's numerator (always ±1 or 0): Y_n is
    # finite everywhere exactly when every finite row's value is.
    y_n = ops.cast(
        ops.where(finite, flat_values, _lookup(_COLUMNS.y_n, flat_codes, ops)), value_dtype
    )
    if not ops.isfinite(y_n).all():
        raise _nonfinite_error(flat_values, finite & ~ops.isfinite(flat_values))
    y_d = ops.cast(_lookup(_COLUMNS.y_d, flat_codes, ops), value_dtype)
    return SemanticTargets(
        Y_n=y_n.reshape(shape),
        Y_d=y_d.reshape(shape),
        mask_finite=finite.reshape(shape),
        mask_bottom=(y_d == 0).reshape(shape),
        orientation_label=ops.cast(_lookup(_COLUMNS.orientation, flat_codes, ops), int64).reshape(
            shape
        ),
        bottom_kind=ops.cast(_lookup(_COLUMNS.bottom_kind, flat_codes, ops), int64).reshape(shape),
    )


def _nonfinite_error(values: Any, nonfinite: Any) -> TargetValueError:
    if _is_torch(nonfinite):
        values, nonfinite = values.cpu().numpy(), nonfinite.cpu().numpy()
    positions = np.flatnonzero(nonfinite)
    bad = np.unique(values[positions].astype(np.float64).astype(str))
    return TargetValueError(
        f"{positions.size} value(s) labelled {Status.FINITE.label!r} are not finite "
        f"({', '.join(bad)}), "
        f"first at {first_few(positions)}; a finite target needs a "
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
