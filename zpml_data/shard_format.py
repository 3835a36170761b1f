"""The shard file format: its schema and a writer that buffers rows into shard files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from zpml_data._io import atomic_path, parquet_writer
from zpml_data.lift import lift_semantic_targets
from zpml_data.manifest import RowGroup, ShardFile, sha256_file
from zpml_data.status import STATUS_LABELS


def shard_name(index: int) -> str:
    """The file name of shard ``index``: zero-padded, so names sort in shard order."""
    return f"part-{index:05d}.parquet"


def shard_schema(inputs: Sequence[str], targets: int) -> pa.Schema:
    """The Arrow schema of a shard with these input columns and this many targets.

    Inputs are one float32 column per feature (``inputs.<name>``): reading a
    row group into a ``[B, F]`` array measured 2x faster that way than from a
    fixed-size list column. With more than one target, each target column is
    a fixed-size list of that length.
    """

    def shaped(dtype: pa.DataType) -> pa.DataType:
        # "element" is the child name Parquet reads lists back with.
        return dtype if targets == 1 else pa.list_(pa.field("element", dtype), targets)

    return pa.schema(
        [pa.field(f"inputs.{name}", pa.float32()) for name in inputs]
        + [
            ("values", shaped(pa.float32())),
            ("status", shaped(pa.int8())),
            ("Y_n", shaped(pa.float32())),
            ("Y_d", shaped(pa.float32())),
            ("mask_finite", shaped(pa.bool_())),
            ("mask_bottom", shaped(pa.bool_())),
            ("orientation_label", shaped(pa.int8())),
            ("bottom_kind", shaped(pa.int8())),
            ("row_id", pa.int64()),
        ]
    )


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


class ShardWriter:
    """Buffers output rows and writes full shards; remembers what it wrote."""

    def __init__(
        self,
        out_dir: Path,
        schema: pa.Schema,
        rows_per_shard: int,
        row_group_rows: int,
        seed: int | None,
    ) -> None:
        self.out_dir, self.schema = out_dir, schema
        self.rows_per_shard, self.row_group_rows, self.seed = rows_per_shard, row_group_rows, seed
        self.buffer: list[pa.RecordBatch] = []
        self.buffered = 0
        self.shards: list[ShardFile] = []

    def add(self, batch: pa.RecordBatch) -> None:
        self.buffer.append(batch)
        self.buffered += batch.num_rows
        while self.buffered >= self.rows_per_shard:
            self._flush(self.rows_per_shard)

    def finish(self) -> None:
        if self.buffered:
            self._flush(self.buffered)

    def _flush(self, rows: int) -> None:
        table = pa.Table.from_batches(self.buffer, self.schema)
        shard, rest = table.slice(0, rows), table.slice(rows)
        self.buffer, self.buffered = rest.to_batches(), rest.num_rows
        index = len(self.shards)
        if self.seed is not None:
            order = np.random.default_rng([self.seed, index]).permutation(rows)
            shard = shard.take(pa.array(order))
        self.shards.append(self._write(shard, shard_name(index)))

    def _write(self, table: pa.Table, name: str) -> ShardFile:
        path = self.out_dir / name
        with atomic_path(path) as tmp, parquet_writer(tmp, self.schema) as writer:
            writer.write_table(table, row_group_size=self.row_group_rows)
        codes = codes_of(table)
        groups = [
            RowGroup(
                start,
                min(self.row_group_rows, len(codes) - start),
                status_counts(codes[start : start + self.row_group_rows]),
            )
            for start in range(0, len(codes), self.row_group_rows)
        ]
        return ShardFile(
            name,
            table.num_rows,
            path.stat().st_size,
            sha256_file(path),
            status_counts(codes),
            groups,
        )


def codes_of(table: pa.Table) -> np.ndarray:
    """The status codes of a shard table as ``[rows, T]``."""
    column = table.column("status").combine_chunks()
    if pa.types.is_fixed_size_list(column.type):
        return column.flatten().to_numpy().reshape(len(column), -1)
    return column.to_numpy().reshape(-1, 1)
