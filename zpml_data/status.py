"""The status vocabulary: the seven labels, their codes, semantics and groups.

This module is the only place the labels are spelled. Codes are stable: they
are written into shards and manifests. Everything else (lifting tables, group
sets, report columns) is derived from :data:`SEMANTICS`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from zpml_data.errors import StatusLabelError, UsageError


class Status(IntEnum):
    """Status codes, in the stable code order."""

    FINITE = 0
    BOTTOM = 1
    CENSORED_BELOW = 2
    CENSORED_ABOVE = 3
    DOMAIN_INVALID = 4
    MISSING = 5
    FAULT = 6

    @property
    def label(self) -> str:
        """The label as written in data files, e.g. ``"censored_below"``."""
        return self.name.lower()


class Orientation(IntEnum):
    """Which side of a limit a censored target lies on."""

    BELOW = -1
    NONE = 0
    ABOVE = 1


class BottomKind(IntEnum):
    """Why a target is bottom (⊥)."""

    NONE = 0
    FAULT = 1
    SEMANTIC = 2


@dataclass(frozen=True)
class Semantics:
    """How one status lifts to a projective pair and what it means for training.

    ``y_n`` is ``None`` for ``finite``: the numerator is the value itself.
    """

    y_n: float | None
    y_d: float
    orientation: Orientation
    bottom_kind: BottomKind


SEMANTICS: dict[Status, Semantics] = {
    Status.FINITE: Semantics(None, 1.0, Orientation.NONE, BottomKind.NONE),
    Status.BOTTOM: Semantics(1.0, 0.0, Orientation.NONE, BottomKind.SEMANTIC),
    Status.CENSORED_BELOW: Semantics(-1.0, 0.0, Orientation.BELOW, BottomKind.SEMANTIC),
    Status.CENSORED_ABOVE: Semantics(1.0, 0.0, Orientation.ABOVE, BottomKind.SEMANTIC),
    Status.DOMAIN_INVALID: Semantics(1.0, 0.0, Orientation.NONE, BottomKind.SEMANTIC),
    # Missing lifts to (0, 1) but is masked out of both the finite and the bottom loss.
    Status.MISSING: Semantics(0.0, 1.0, Orientation.NONE, BottomKind.NONE),
    Status.FAULT: Semantics(1.0, 0.0, Orientation.NONE, BottomKind.FAULT),
}

STATUS_LABELS: tuple[str, ...] = tuple(status.label for status in Status)
LABEL_TO_CODE: dict[str, int] = {label: code for code, label in enumerate(STATUS_LABELS)}

BOTTOM_STATUSES = frozenset(s for s, sem in SEMANTICS.items() if sem.y_d == 0.0)
SEMANTIC_BOTTOM_STATUSES = frozenset(
    s for s, sem in SEMANTICS.items() if sem.bottom_kind is BottomKind.SEMANTIC
)
FAULT_BOTTOM_STATUSES = frozenset(
    s for s, sem in SEMANTICS.items() if sem.bottom_kind is BottomKind.FAULT
)
UNTRAINED_STATUSES = frozenset(Status) - BOTTOM_STATUSES - {Status.FINITE}

# Legacy sentinels and the labels the default conversion gives them. Lifting
# these labels reproduces the legacy lift_targets pairs bit for bit.
DEFAULT_SENTINEL_POLICY: dict[str, Status] = {
    "nan": Status.BOTTOM,
    "posinf": Status.CENSORED_ABOVE,
    "neginf": Status.CENSORED_BELOW,
}

_MAX_POSITIONS = 5


def suggest_label(bad: object) -> str | None:
    """Return the status label a near-miss such as ``'Finite'`` was meant to be.

    Args:
        bad: The unknown label.

    Returns:
        The closest known label, or ``None`` if nothing is close.
    """
    if not isinstance(bad, str):
        return None
    normal = bad.strip().lower().replace("-", "_").replace(" ", "_")
    if normal in LABEL_TO_CODE:
        return normal
    close = difflib.get_close_matches(normal, STATUS_LABELS, n=1, cutoff=0.75)
    return close[0] if close else None


def parse_label(label: str, where: str) -> Status:
    """A status label given by a user (option or map file), checked.

    Raises:
        UsageError: Not one of the seven labels; a near miss is named.
    """
    if label in LABEL_TO_CODE:
        return Status(LABEL_TO_CODE[label])
    hint = suggest_label(label)
    raise UsageError(
        f"{where}: unknown status label {label!r}"
        + (f"; did you mean {hint!r}?" if hint else "")
        + f" Expected one of {', '.join(STATUS_LABELS)}"
    )


def encode_status(labels: Any) -> np.ndarray:
    """Encode status labels to int8 codes, vectorised.

    Args:
        labels: A label string; a list or tuple (nested for N-D) of strings; a
            numpy str or object array; a pandas Series, Index or Categorical; a
            pyarrow string, large_string or dictionary array (chunked or not);
            or integer codes (numpy, pyarrow or torch).

    Returns:
        An int8 numpy array of codes with the shape of ``labels``.

    Raises:
        StatusLabelError: Some labels are unknown or null, or codes are out of
            range. The message names each distinct bad label, its row count and
            first positions, with a hint for near misses.
    """
    if isinstance(labels, str):
        return _encode_objects(np.array([labels], dtype=object)).reshape(())
    if isinstance(labels, (list, tuple)):
        return _encode_sequence(labels)
    if isinstance(labels, (pa.Array, pa.ChunkedArray)):
        return _encode_arrow(labels)
    if isinstance(labels, (pd.Series, pd.Index, pd.Categorical)):
        return _encode_pandas(labels)
    if type(labels).__module__.startswith("torch"):
        labels = labels.detach().cpu().numpy()
    array = np.asarray(labels)
    if array.dtype.kind in "iu":
        return check_codes(array)
    return _encode_objects(array.ravel()).reshape(array.shape)


def check_codes(codes: np.ndarray) -> np.ndarray:
    """Validate integer status codes and return them as int8.

    Raises:
        StatusLabelError: A code is outside ``0..6``.
    """
    if codes.size and (codes.min() < 0 or codes.max() >= len(Status)):
        flat = codes.ravel()
        bad = (flat < 0) | (flat >= len(Status))
        values, counts = np.unique(flat[bad], return_counts=True)
        positions = np.flatnonzero(bad)
        raise _label_error(
            [
                (int(v), int(c), positions[flat[positions] == v][:_MAX_POSITIONS])
                for v, c in zip(values, counts, strict=True)
            ],
            what="status codes",
        )
    return codes.astype(np.int8, copy=False)


def _encode_sequence(labels: Sequence[Any]) -> np.ndarray:
    try:
        # The fast path: one C-level dict lookup per label, no intermediate objects.
        return np.fromiter(map(LABEL_TO_CODE.__getitem__, labels), np.int8, count=len(labels))
    except (KeyError, TypeError):
        pass  # nested, mixed or bad labels: the general path finds and names them
    if len(labels) and isinstance(labels[0], (list, tuple)):
        array = np.array(labels, dtype=object)  # nested lists: labels for N-D values
        if array.size and isinstance(array.flat[0], (list, tuple)):
            raise StatusLabelError(
                "status labels are ragged: every nested list needs the same length"
            )
    else:
        array = np.empty(len(labels), dtype=object)
        array[:] = labels
    if array.dtype == object and array.size and isinstance(array.flat[0], (int, np.integer)):
        return check_codes(array.astype(np.int64))
    return _encode_objects(array.ravel()).reshape(array.shape)


def _encode_objects(flat: np.ndarray) -> np.ndarray:
    indices, uniques = pd.factorize(flat, use_na_sentinel=True)
    return _remap(list(uniques), indices)


def _encode_pandas(labels: pd.Series | pd.Index | pd.Categorical) -> np.ndarray:
    if isinstance(labels.dtype, pd.CategoricalDtype):
        categorical = pd.Categorical(labels)
        return _remap(list(categorical.categories), categorical.codes)
    if labels.dtype.kind in "iu":
        return check_codes(np.asarray(labels))
    return _encode_objects(np.asarray(labels, dtype=object))


def _encode_arrow(labels: pa.Array | pa.ChunkedArray, *, strict: bool = True) -> np.ndarray:
    chunks = labels.chunks if isinstance(labels, pa.ChunkedArray) else [labels]
    if not chunks:
        return np.empty(0, dtype=np.int8)
    if pa.types.is_integer(labels.type):
        if strict and labels.null_count:  # name the nulls through the object path
            return _encode_objects(np.asarray(labels.to_pylist(), dtype=object))
        codes = np.concatenate([c.fill_null(-1).to_numpy(zero_copy_only=False) for c in chunks])
        if strict:
            return check_codes(codes)
        return np.where((codes < 0) | (codes >= len(Status)), -1, codes).astype(np.int8)
    encoded = []
    offset = 0
    for chunk in chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        # Nulls index -1, which the remap table's trailing sentinel turns into a null.
        indices = chunk.indices.fill_null(-1) if chunk.null_count else chunk.indices
        numbers = indices.to_numpy(zero_copy_only=False)
        encoded.append(_remap(chunk.dictionary.to_pylist(), numbers, offset=offset, strict=strict))
        offset += len(chunk)
    return encoded[0] if len(encoded) == 1 else np.concatenate(encoded)


def status_codes_lenient(labels: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Codes of an Arrow status column, with -1 for null or unknown labels (no error).

    The audit uses this to count every row, bad ones included; the checks
    report the bad labels by name.
    """
    return _encode_arrow(labels, strict=False)


def _remap(
    dictionary: list[Any], indices: np.ndarray, *, offset: int = 0, strict: bool = True
) -> np.ndarray:
    """Turn (dictionary, indices) into codes; index -1 means null."""
    remap = np.array(
        [LABEL_TO_CODE.get(v, -1) if isinstance(v, str) else -1 for v in dictionary] + [-1],
        dtype=np.int8,
    )
    codes = remap[indices]
    if strict and codes.size and codes.min() < 0:
        bad_rows = np.flatnonzero(codes < 0)
        bad_indices, counts = np.unique(indices[bad_rows], return_counts=True)
        problems = []
        for index, count in zip(bad_indices, counts, strict=True):
            label = None if index < 0 else dictionary[index]
            rows = bad_rows[indices[bad_rows] == index][:_MAX_POSITIONS] + offset
            problems.append((label, int(count), rows))
        raise _label_error(problems, what="status labels")
    return codes


def _label_error(problems: list[tuple[Any, int, np.ndarray]], *, what: str) -> StatusLabelError:
    parts = []
    for label, count, rows in problems:
        shown = "null" if label is None or label is pd.NA or label != label else repr(label)
        hint = suggest_label(label)
        first = ", ".join(str(int(r)) for r in rows)
        text = f"{shown} ({count} row{'s' if count != 1 else ''}, first at {first})"
        parts.append(text + (f" — did you mean {hint!r}?" if hint else ""))
    expected = ", ".join(f"{code}={label}" for label, code in LABEL_TO_CODE.items())
    return StatusLabelError(
        f"unknown {what}: {'; '.join(parts)}. Expected one of {expected}; "
        "fix or relabel these rows (zpml convert maps legacy values to labels)."
    )
