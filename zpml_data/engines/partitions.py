"""A Parquet source cut into partitions: runs of whole row groups that workers read alone.

A partition reads the same record batches as a single pass over the whole
source would, tagged with the same file rows: it starts at a row group whose
first row is a multiple of the batch size (pyarrow's batches run across row
groups). So per-batch results, examples and quarantined rows come out the
same, and merged in partition order they equal the single pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from zpml_data.errors import UsageError
from zpml_data.io.sources import Source, open_row_groups


@dataclass(frozen=True)
class Partition:
    """Consecutive row groups of one Parquet file."""

    file: str
    row_groups: tuple[int, ...]
    first_row: int  # within the file
    rows: int
    source_row: int  # within the whole source: rows of the partitions before this one
    # The whole source's schema as Arrow IPC bytes: its types are the ones every
    # batch is cast to, and pickling a schema would drop a list's child field name.
    schema: bytes

    def open(self) -> Source:
        """The partition as a source (on the worker that reads it)."""
        schema = pa.ipc.read_schema(pa.py_buffer(self.schema))
        return open_row_groups(self.file, self.row_groups, self.first_row, schema)


def plan_partitions(source: Source, batch_size: int, target_rows: int) -> list[Partition]:
    """Cut a source of Parquet files into partitions of about ``target_rows`` rows.

    A partition ends at a file's end, or at a row group boundary that is also
    a batch boundary once it holds at least ``target_rows`` rows.

    Raises:
        UsageError: A part of the source is not a Parquet file.
    """
    partitions: list[Partition] = []
    source_row = 0
    schema = source.schema.serialize().to_pybytes()
    for name in source.names:
        if Path(name).suffix.lower() not in (".parquet", ".pq") or not Path(name).is_file():
            raise UsageError(
                f"{name}: the dask engine reads Parquet files (a directory, glob or list of "
                "them); write the data as Parquet (zpml convert), or use --engine local"
            )
        metadata = pq.read_metadata(name)
        groups: list[int] = []
        first = rows = 0
        for index in range(metadata.num_row_groups):
            if rows >= target_rows and (first + rows) % batch_size == 0:
                partitions.append(Partition(name, tuple(groups), first, rows, source_row, schema))
                source_row, first, groups, rows = source_row + rows, first + rows, [], 0
            groups.append(index)
            rows += metadata.row_group(index).num_rows
        partitions.append(Partition(name, tuple(groups), first, rows, source_row, schema))
        source_row += rows
    return partitions
