"""Open tabular inputs as a stream of Arrow record batches.

CSV files, Parquet files, directories of Parquet files, globs, pandas
DataFrames and pyarrow Tables all read the same way: one file after another,
a bounded batch at a time, each batch tagged with its file and the row number
of its first row in that file. Memory depends on the batch size, not on the
size of the data.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow import csv

from zpml_data.errors import SourceError, UsageError
from zpml_data.io import DEFAULT_BATCH_SIZE
from zpml_data.validate import require_positive_int

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class SourceBatch(NamedTuple):
    """One record batch of a source, with where it came from."""

    file: str
    first_row: int  # 0-based data row of the batch's first row in ``file``
    batch: pa.RecordBatch


@dataclass(frozen=True)
class _Part:
    """One file or in-memory table: its schema, row count if cheap, and a batch reader."""

    name: str
    schema: pa.Schema
    rows: int | None
    read: Callable[[list[str] | None, int], Iterator[pa.RecordBatch]]
    first_row: int = 0  # the file's data row that ``read`` starts at (a slice of row groups)


@dataclass(frozen=True)
class Source:
    """An opened source: its parts (files or in-memory tables) and common schema."""

    parts: tuple[_Part, ...]
    schema: pa.Schema

    @property
    def names(self) -> list[str]:
        """The files (or in-memory names) the source reads, in order."""
        return [part.name for part in self.parts]

    def count_rows(self) -> int | None:
        """Total rows where that is cheap to know (Parquet metadata, tables), else ``None``."""
        counts = [part.rows for part in self.parts]
        return None if None in counts else sum(c for c in counts if c is not None)

    def batches(
        self, columns: Sequence[str] | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[SourceBatch]:
        """Stream the source's record batches, reading only ``columns``.

        Raises:
            ConfigError: ``batch_size`` is not a positive integer.
            SourceError: A file cannot be read or parsed.
        """
        require_positive_int("batch_size", batch_size)
        cols = list(columns) if columns is not None else None
        for part in self.parts:
            first_row = part.first_row
            try:
                for batch in part.read(cols, batch_size):
                    yield SourceBatch(part.name, first_row, _plain_batch(batch))
                    first_row += batch.num_rows
            except (pa.ArrowInvalid, OSError) as error:
                raise SourceError(
                    f"{part.name}: cannot read past data row {first_row}: {error}"
                ) from None


# View types (Arrow 16+) that many compute kernels lack: read as their plain equivalents.
_PLAIN = {pa.string_view(): pa.string(), pa.binary_view(): pa.binary()}


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with ``string_view``/``binary_view`` columns as ``string``/``binary``."""
    return pa.schema([f.with_type(_PLAIN.get(f.type, f.type)) for f in schema], schema.metadata)


def _plain_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    if not any(f.type in _PLAIN for f in batch.schema):
        return batch
    return batch.cast(plain_schema(batch.schema))


def open_source(source: Any) -> Source:
    """Open files, directories, globs, a DataFrame or an Arrow table as a :class:`Source`.

    Args:
        source: A path (CSV, Parquet file, directory of Parquet files or a
            glob), a list of those, a pandas DataFrame, a pyarrow Table or
            RecordBatch, or an already opened :class:`Source`.

    Returns:
        The opened source. Every part must have the columns of the first.

    Raises:
        SourceError: A path does not exist or cannot be opened.
        UsageError: A file of a format zpml does not read.
    """
    if isinstance(source, Source):
        return source
    if isinstance(source, pd.DataFrame):
        return _from_table("<DataFrame>", pa.Table.from_pandas(source, preserve_index=False))
    if isinstance(source, pa.RecordBatch):
        source = pa.Table.from_batches([source])
    if isinstance(source, pa.Table):
        return _from_table("<Table>", source)
    paths = [source] if isinstance(source, (str, Path)) else list(source)
    parts = [_open_file(path) for pattern in paths for path in _expand(str(pattern))]
    schema = plain_schema(parts[0].schema)
    for part in parts[1:]:
        missing = [name for name in schema.names if name not in part.schema.names]
        if missing:
            raise UsageError(
                f"{part.name} lacks column(s) {missing} that {parts[0].name} has; "
                "every file of one source needs the same columns"
            )
    return Source(tuple(parts), schema)


def _from_table(name: str, table: pa.Table) -> Source:
    def read(cols: list[str] | None, batch_size: int) -> Iterator[pa.RecordBatch]:
        return iter((table if cols is None else table.select(cols)).to_batches(batch_size))

    return Source((_Part(name, table.schema, table.num_rows, read),), plain_schema(table.schema))


def _expand(pattern: str) -> list[Path]:
    path = Path(pattern)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in _FORMATS and p.is_file())
        if not files:
            raise SourceError(f"{pattern}: directory holds no .parquet or .csv files")
        return files
    if path.exists():
        return [path]
    if glob.has_magic(pattern):
        matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
        if matches:
            return [p for m in matches for p in _expand(str(m))]
        raise SourceError(f"{pattern}: the pattern matches no file")
    raise SourceError(f"{pattern}: no such file or directory")


def _open_file(path: Path) -> _Part:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"{path}: unknown file type {path.suffix!r}; zpml reads .csv and .parquet")
    try:
        if path.stat().st_size == 0:
            raise SourceError(f"{path}: the file is empty (no header, no rows)")
        return _open_parquet(path) if fmt == "parquet" else _open_csv(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise SourceError(f"{path}: cannot open as {fmt}: {error}") from None


def open_row_groups(path: str, row_groups: Sequence[int], first_row: int) -> Source:
    """Consecutive row groups of a Parquet file as a source (a partition of a larger one).

    Args:
        path: The Parquet file.
        row_groups: The row groups to read, in order.
        first_row: The file's data row of the first row group's first row, so
            batches are tagged with the same rows as when reading the whole file.

    Raises:
        SourceError: The file cannot be opened.
    """
    try:
        part = _open_parquet(Path(path), row_groups, first_row)
    except (pa.ArrowInvalid, OSError) as error:
        raise SourceError(f"{path}: cannot open as parquet: {error}") from None
    return Source((part,), part.schema)


def _open_parquet(path: Path, row_groups: Sequence[int] | None = None, first_row: int = 0) -> _Part:
    # One row group at a time, without pre-buffering: the dataset scanner reads
    # ahead across row groups, so its peak memory followed the file size.
    metadata = pq.read_metadata(path)
    groups = list(range(metadata.num_row_groups) if row_groups is None else row_groups)
    rows = sum(metadata.row_group(i).num_rows for i in groups)

    def read(cols: list[str] | None, batch_size: int) -> Iterator[pa.RecordBatch]:
        with pq.ParquetFile(path, pre_buffer=False) as file:
            yield from file.iter_batches(batch_size=batch_size, columns=cols, row_groups=groups)

    return _Part(str(path), metadata.schema.to_arrow_schema(), rows, read, first_row)


def _open_csv(path: Path) -> _Part:
    # Empty CSV cells (and NA, null, ...) are nulls in text columns too, as in pandas.
    file_format = ds.CsvFileFormat(convert_options=csv.ConvertOptions(strings_can_be_null=True))
    dataset = ds.dataset(path, format=file_format)

    def read(cols: list[str] | None, batch_size: int) -> Iterator[pa.RecordBatch]:
        return dataset.to_batches(
            columns=cols, batch_size=batch_size, batch_readahead=1, fragment_readahead=1
        )

    return _Part(str(path), dataset.schema, None, read)
