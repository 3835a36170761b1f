"""Status labels in any container (list, numpy, pandas, Arrow, torch) to int8 codes.

Labels are encoded once, with vectorised dictionary lookups. pandas is
imported only when labels arrive as pandas objects or as Python strings, so a
loader worker that reads int8 codes from shards never imports it.
"""

from __future__ import annotations

import contextlib
import difflib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zpml_data.errors import StatusLabelError, UsageError, first_few
from zpml_data.status import LABEL_TO_CODE, STATUS_LABELS, Status


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

    Args:
        label: The label as the user wrote it.
        where: The option or file it came from, for the message.

    Returns:
        The :class:`~zpml_data.status.Status`.

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


def _loaded_pandas() -> ModuleType | None:
    """pandas if something already imported it: only then can a label be a pandas object."""
    return sys.modules.get("pandas")


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
    pd = _loaded_pandas()
    if pd is not None and isinstance(labels, (pd.Series, pd.Index, pd.Categorical)):
        return _encode_pandas(labels)
    if type(labels).__module__.startswith("torch"):
        labels = labels.detach().cpu().numpy()
    array = np.asarray(labels)
    if array.dtype.kind in "iu":
        return check_codes(array)
    return _encode_objects(array.ravel()).reshape(array.shape)


def check_codes(codes: np.ndarray) -> np.ndarray:
    """Validate integer status codes and return them as int8.

    Args:
        codes: An integer numpy array.

    Returns:
        The codes as int8 (no copy if they already are).

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
                (int(v), int(c), positions[flat[positions] == v])
                for v, c in zip(values, counts, strict=True)
            ],
            what="status codes",
        )
    return codes.astype(np.int8, copy=False)


def status_codes_lenient(labels: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Codes of an Arrow status column, with -1 for null or unknown labels (no error).

    The audit uses this to count every row, bad ones included; the checks
    report the bad labels by name.
    """
    return _encode_arrow(labels, strict=False)


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
    import pandas as pd  # factorize: one hash pass that also handles None, NaN and pd.NA

    indices, uniques = pd.factorize(flat, use_na_sentinel=True)
    return _remap(list(uniques), indices)


def _encode_pandas(labels: Any) -> np.ndarray:
    import pandas as pd

    if isinstance(labels.dtype, pd.CategoricalDtype):
        categorical = pd.Categorical(labels)
        return _remap(list(categorical.categories), categorical.codes)
    if labels.dtype.kind in "iu":
        return check_codes(np.asarray(labels))
    return _encode_objects(np.asarray(labels, dtype=object))


def plain_type(kind: pa.DataType) -> pa.DataType:
    """The type an extension or run-end-encoded Arrow type stands for (others as they are)."""
    if isinstance(kind, pa.BaseExtensionType):
        return plain_type(kind.storage_type)
    if pa.types.is_run_end_encoded(kind):
        return plain_type(kind.value_type)
    return kind


def plain_column(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """An extension or run-end-encoded Arrow column as the plain column it stands for."""
    kind = column.type
    if isinstance(kind, pa.BaseExtensionType):
        if isinstance(column, pa.ChunkedArray):
            storage = [chunk.storage for chunk in column.chunks]
            return plain_column(pa.chunked_array(storage, kind.storage_type))
        return plain_column(column.storage)
    if pa.types.is_run_end_encoded(kind):
        return plain_column(pc.run_end_decode(column))
    return column


def _encode_arrow(labels: pa.Array | pa.ChunkedArray, *, strict: bool = True) -> np.ndarray:
    labels = plain_column(labels)
    chunks = labels.chunks if isinstance(labels, pa.ChunkedArray) else [labels]
    if not chunks:
        return np.empty(0, dtype=np.int8)
    # Integer codes with nulls, as pandas writes them (NaN): whole numbers are codes.
    if pa.types.is_floating(labels.type) and not strict:
        numbers = labels.to_numpy(zero_copy_only=False)  # nulls read as NaN
        with np.errstate(invalid="ignore"):
            whole = (numbers == np.floor(numbers)) & (numbers >= 0) & (numbers < len(Status))
        return np.where(whole, numbers, -1).astype(np.int8)
    if pa.types.is_floating(labels.type):  # strict: anything else is named as a bad label
        with contextlib.suppress(pa.ArrowInvalid):
            labels = labels.cast(pa.int64())
            chunks = labels.chunks if isinstance(labels, pa.ChunkedArray) else [labels]
    if pa.types.is_integer(labels.type):
        if strict and labels.null_count:  # name the nulls through the object path
            return _encode_objects(np.asarray(labels.to_pylist(), dtype=object))
        # int64 first: an unsigned code must not wrap when nulls become -1.
        codes = np.concatenate(
            [
                c.cast(pa.int64(), safe=False).fill_null(-1).to_numpy(zero_copy_only=False)
                for c in chunks
            ]
        )
        if strict:
            return check_codes(codes)
        return np.where((codes < 0) | (codes >= len(Status)), -1, codes).astype(np.int8)
    encoded = []
    offset = 0
    for chunk in chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        # Nulls index -1, which the remap table's trailing sentinel turns into a null
        # (int64 first: unsigned indices cannot hold -1).
        indices = chunk.indices
        if chunk.null_count:
            indices = indices.cast(pa.int64()).fill_null(-1)
        numbers = indices.to_numpy(zero_copy_only=False)
        dictionary = chunk.dictionary.to_pylist()
        if _in_code_order(dictionary, numbers):  # as zpml writes it: the indices are the codes
            encoded.append(numbers.astype(np.int8))
        else:
            encoded.append(_remap(dictionary, numbers, offset=offset, strict=strict))
        offset += len(chunk)
    return encoded[0] if len(encoded) == 1 else np.concatenate(encoded)


def _in_code_order(dictionary: list[Any], indices: np.ndarray) -> bool:
    """Whether ``dictionary`` lists labels in code order and every index points into it."""
    n = len(dictionary)
    return (
        0 < n <= len(STATUS_LABELS)
        and dictionary == list(STATUS_LABELS[:n])
        and (not indices.size or (indices.min() >= 0 and indices.max() < n))
    )


def _remap(
    dictionary: list[Any], indices: np.ndarray, *, offset: int = 0, strict: bool = True
) -> np.ndarray:
    """Turn (dictionary, indices) into codes; index -1 means null."""
    remap = np.array(
        [LABEL_TO_CODE.get(v, -1) if isinstance(v, str) else -1 for v in dictionary] + [-1],
        dtype=np.int8,
    )
    codes = np.take(remap, indices)  # half the time of remap[indices]; -1 takes the sentinel
    if strict and codes.size and codes.min() < 0:
        bad_rows = np.flatnonzero(codes < 0)
        bad_indices, counts = np.unique(indices[bad_rows], return_counts=True)
        problems = []
        for index, count in zip(bad_indices, counts, strict=True):
            label = None if index < 0 else dictionary[index]
            rows = bad_rows[indices[bad_rows] == index] + offset
            problems.append((label, int(count), rows))
        raise _label_error(problems, what="status labels")
    return codes


def _is_null(label: Any) -> bool:
    pd = _loaded_pandas()
    if label is None or (pd is not None and label is pd.NA):
        return True
    return bool(label != label)  # NaN


def _label_error(problems: list[tuple[Any, int, np.ndarray]], *, what: str) -> StatusLabelError:
    parts = []
    for label, count, rows in problems:
        shown = "null" if _is_null(label) else repr(label)
        hint = suggest_label(label)
        text = f"{shown} ({count} row{'s' if count != 1 else ''}, first at {first_few(rows)})"
        parts.append(text + (f" — did you mean {hint!r}?" if hint else ""))
    expected = ", ".join(f"{code}={label}" for label, code in LABEL_TO_CODE.items())
    return StatusLabelError(
        f"unknown {what}: {'; '.join(parts)}. Expected one of {expected}; "
        "fix or relabel these rows (zpml convert maps legacy values to labels)."
    )
