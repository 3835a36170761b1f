"""The shard file format: file names, the Arrow schema, the target columns, and reading them.

Readers (a loader worker) import this module: it needs pyarrow and numpy,
never pandas or pandera. :func:`open_shard` and :func:`read_shard` are the one
place a shard file is opened and checked against its manifest entry (with
:func:`zpml_data.shards.manifest.check_file` for its size and sha256), for
``verify_shards`` and the loader alike.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from zpml_data.errors import IntegrityError
from zpml_data.lift import lift_semantic_targets
from zpml_data.status import STATUS_LABELS

if TYPE_CHECKING:
    from zpml_data.shards.manifest import ShardFile


def shard_name(index: int) -> str:
    """The file name of shard ``index``: zero-padded, so names sort in shard order."""
    return f"part-{index:05d}.parquet"


def shard_schema(inputs: Sequence[str], targets: int) -> pa.Schema:
    """The Arrow schema of a shard with these input features and this many targets.

    The inputs are one column ``inputs`` (absent when there are none) of
    fixed-size binary values: each row's ``len(inputs)`` float32, little-endian,
    in manifest order (:func:`inputs_array` reads them back). A row group then
    reads back as a row-major ``[B, F]`` block, with nothing to decode per
    value; a shuffling loader gathers whole rows from it. Measured on 2.6e5
    rows x 64 features (read only, one thread): zstd 1.97 M rows/s against
    1.07 for a fixed-size list of float32 and 1.02 for 64 float32 columns,
    snappy 9.5 against 1.6 and 2.7 (a list decodes a repetition and a
    definition level per float). With more than one target, each target
    column is a fixed-size list of that length.
    """

    def shaped(dtype: pa.DataType, width: int) -> pa.DataType:
        # "element" is the child name Parquet reads lists back with.
        return dtype if width == 1 else pa.list_(pa.field("element", dtype), width)

    features = []
    if inputs:
        metadata = {"zpml.dtype": "<f4", "zpml.shape": f"[{len(inputs)}]"}
        features = [pa.field("inputs", pa.binary(4 * len(inputs)), False, metadata)]
    return pa.schema(
        [
            *features,
            ("values", shaped(pa.float32(), targets)),
            ("status", shaped(pa.int8(), targets)),
            ("Y_n", shaped(pa.float32(), targets)),
            ("Y_d", shaped(pa.float32(), targets)),
            ("mask_finite", shaped(pa.bool_(), targets)),
            ("mask_bottom", shaped(pa.bool_(), targets)),
            ("orientation_label", shaped(pa.int8(), targets)),
            ("bottom_kind", shaped(pa.int8(), targets)),
            ("row_id", pa.int64()),
        ]
    )


def inputs_column(features: np.ndarray) -> pa.Array:
    """The ``inputs`` column of a shard for ``[rows, F]`` float32 features."""
    rows, width = features.shape
    data = np.ascontiguousarray(features, dtype="<f4")
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(4 * width), rows, [None, pa.py_buffer(data)]
    )


def inputs_array(column: pa.Array) -> np.ndarray:
    """A shard's ``inputs`` column (one chunk) as a read-only ``[rows, F]`` float32 view."""
    width = column.type.byte_width // 4
    return np.frombuffer(
        column.buffers()[1], "<f4", count=len(column) * width, offset=column.offset * width * 4
    ).reshape(len(column), width)


def status_counts(codes: np.ndarray) -> dict[str, int]:
    """Cells per label, all seven."""
    counts = np.bincount(codes.ravel().astype(np.intp), minlength=len(STATUS_LABELS))
    return {label: int(n) for label, n in zip(STATUS_LABELS, counts, strict=True)}


def target_columns(values: np.ndarray, codes: np.ndarray, schema: pa.Schema) -> dict[str, pa.Array]:
    """Lift ``[B, T]`` values and codes into the shard's target columns."""
    lifted = lift_semantic_targets(values, codes)
    arrays = {
        "values": values,
        "status": codes,
        "Y_n": lifted.Y_n,
        "Y_d": lifted.Y_d,
        "mask_finite": lifted.mask_finite,
        "mask_bottom": lifted.mask_bottom,
        "orientation_label": lifted.orientation_label.astype(np.int8),
        "bottom_kind": lifted.bottom_kind.astype(np.int8),
    }
    columns = {}
    for name, array in arrays.items():
        flat = pa.array(array.ravel())
        shaped = schema.field(name).type
        columns[name] = (
            flat if array.shape[1] == 1 else pa.FixedSizeListArray.from_arrays(flat, type=shaped)
        )
    return columns


def column_2d(table: pa.Table | pa.RecordBatch, name: str) -> np.ndarray:
    """A shard column as a ``[rows, T]`` numpy array (a single target gives ``T = 1``)."""
    column = table.column(name)
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_fixed_size_list(array.type):
        return array.flatten().to_numpy(zero_copy_only=False).reshape(len(array), -1)
    return array.to_numpy(zero_copy_only=False).reshape(-1, 1)


def open_shard(path: Path, entry: ShardFile, schema: pa.Schema, verified: bool) -> pq.ParquetFile:
    """Open a shard checked before (:func:`~zpml_data.shards.manifest.check_file`) for reading.

    The opened file must still be the one checked (same size; hashed when
    ``verified``), hold the shard schema, and the manifest's row groups.

    Raises:
        IntegrityError: Naming the file and what differs.
    """
    from zpml_data.shards.manifest import check_unchanged

    handle = pa.OSFile(str(path))
    try:
        check_unchanged(path, os.fstat(handle.fileno()), entry.bytes, entry.sha256, verified)
        file = pq.ParquetFile(handle)
    except (IntegrityError, pa.ArrowInvalid, OSError) as error:
        handle.close()
        if isinstance(error, IntegrityError):
            raise
        raise IntegrityError(f"{entry.file}: not a readable Parquet file: {error}") from None
    if not file.schema_arrow.equals(schema):
        handle.close()
        raise IntegrityError(
            f"{entry.file}: columns {file.schema_arrow.names} are not the shard schema"
        )
    if file.num_row_groups != len(entry.row_groups):
        handle.close()
        raise IntegrityError(
            f"{entry.file}: {file.num_row_groups} row groups, "
            f"the manifest says {len(entry.row_groups)}"
        )
    return file


def read_row_group(file: pq.ParquetFile, entry: ShardFile, group: int) -> pa.Table:
    """One row group of an opened shard, refused if its rows differ from the manifest's.

    Raises:
        IntegrityError: Naming the file and the row group.
    """
    table = file.read_row_group(group, use_threads=False)
    expected = entry.row_groups[group].rows
    if table.num_rows != expected:
        raise IntegrityError(
            f"{entry.file}: row group {group} has {table.num_rows} rows, "
            f"the manifest says {expected}"
        )
    problems = null_problems(entry, table)
    if not problems:
        codes = columns_numpy([table.column("status")])
        bad = bad_status_codes(codes)
        if bad.size:
            problems = [
                f"{entry.file}: {bad.size:,} status codes outside 0..{len(STATUS_LABELS) - 1} "
                f"(first at cell {bad[0]:,}, code {int(codes.ravel()[bad[0]])})"
            ]
    if problems:
        raise IntegrityError(
            f"row group {group} of {problems[0]}; write the shards again (zpml shard)"
        )
    return table


def null_problems(entry: ShardFile, table: pa.Table) -> list[str]:
    """The columns of a shard's table that hold nulls (shards never do), each naming the file."""
    problems = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        nulls = column.null_count
        if pa.types.is_fixed_size_list(column.type):
            nulls += sum(chunk.flatten().null_count for chunk in column.chunks)
        if nulls:
            problems.append(f"{entry.file}: column {name!r} holds {nulls:,} null(s)")
    return problems


def columns_numpy(columns: list[pa.ChunkedArray]) -> np.ndarray:
    """Row groups' chunks of one column as one numpy array: ``[n]``, or ``[n, width]`` for lists."""
    kind = columns[0].type
    listed = pa.types.is_fixed_size_list(kind)
    chunks = [chunk.flatten() if listed else chunk for c in columns for chunk in c.chunks]
    arrays = [_numpy(chunk) for chunk in chunks]
    flat = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
    return flat.reshape(-1, kind.list_size) if listed else flat


_NUMPY_TYPES = {pa.float32(): np.float32, pa.int8(): np.int8, pa.int64(): np.int64}


def _numpy(chunk: pa.Array) -> np.ndarray:
    """A null-free primitive Arrow array as numpy, straight from its buffers.

    ``Array.to_numpy`` would import pandas into every loader worker (measured
    0.2 s per process) for what is a zero-copy view here.
    """
    if chunk.null_count:
        raise IntegrityError(f"a shard column of type {chunk.type} holds nulls; shards never do")
    data = chunk.buffers()[1]
    if pa.types.is_boolean(chunk.type):
        bits = np.frombuffer(data, np.uint8)
        unpacked = np.unpackbits(bits, count=chunk.offset + len(chunk), bitorder="little")
        return unpacked[chunk.offset :].view(np.bool_)
    dtype = _NUMPY_TYPES[chunk.type]
    return np.frombuffer(
        data, dtype, count=len(chunk), offset=chunk.offset * np.dtype(dtype).itemsize
    )


def bad_status_codes(codes: np.ndarray) -> np.ndarray:
    """Positions (flat) of status codes outside the code table."""
    return np.flatnonzero((codes < 0) | (codes >= len(STATUS_LABELS)))
