"""Open tabular inputs as a stream of Arrow record batches.

CSV files, Parquet files, directories of Parquet files, globs, pandas
DataFrames and pyarrow Tables all read the same way: one file after another,
a bounded batch at a time, each batch tagged with its file and the row number
of its first row in that file. Memory depends on the batch size, not on the
size of the data.

The files of one source have the same columns; a column's types across files
are unified (an int64 column in one file and float64 in the next is float64)
or refused, naming the file and the column. A CSV column's type is inferred
over the whole file (:mod:`zpml_data.io._csv`), and its text can be read as
written.
"""

from __future__ import annotations

import glob
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from zpml_data.errors import SourceError, UsageError
from zpml_data.io import DEFAULT_BATCH_SIZE
from zpml_data.io._csv import NULL_VALUES, CsvText
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
    text: bool = False  # ``read`` gives every column as the file's text (a CSV file)


@dataclass(frozen=True)
class Source:
    """An opened source: its parts (files or in-memory tables) and common schema."""

    parts: tuple[_Part, ...]
    schema: pa.Schema

    @property
    def names(self) -> list[str]:
        """The files (or in-memory names) the source reads, in order."""
        return [part.name for part in self.parts]

    @property
    def is_text(self) -> bool:
        """Whether every part is a text file (CSV), whose columns can be read as written."""
        return all(part.text for part in self.parts)

    def count_rows(self) -> int | None:
        """Total rows where that is cheap to know (Parquet metadata, tables), else ``None``."""
        counts = [part.rows for part in self.parts]
        return None if None in counts else sum(c for c in counts if c is not None)

    def batches(
        self,
        columns: Sequence[str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        keep_text: Collection[str] = (),
    ) -> Iterator[SourceBatch]:
        """Stream the source's record batches, reading only ``columns``.

        Every batch has the types of :attr:`schema`, except the ``keep_text``
        columns: those come as the file's text, exactly as written (nulls are
        the null spellings). Only a text source (:attr:`is_text`) keeps text.

        Raises:
            ConfigError: ``batch_size`` is not a positive integer.
            SourceError: A file cannot be read or parsed.
        """
        require_positive_int("batch_size", batch_size)
        assert not keep_text or self.is_text, "only text files keep their text"
        cols = list(columns) if columns is not None else None
        types = {f.name: f.type for f in self.schema} | dict.fromkeys(keep_text, pa.string())
        for part in self.parts:
            first_row = part.first_row
            try:
                for batch in part.read(cols, batch_size):
                    yield SourceBatch(part.name, first_row, _cast_batch(batch, types))
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


def _cast_batch(batch: pa.RecordBatch, types: dict[str, pa.DataType]) -> pa.RecordBatch:
    """``batch`` with its columns cast to ``types`` (the source's unified, plain types)."""
    if all(f.type == types[f.name] for f in batch.schema):
        return batch
    columns = [
        _cast(column, types[name])
        for name, column in zip(batch.schema.names, batch.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _cast(column: pa.Array, kind: pa.DataType) -> pa.Array:
    if column.type == kind:
        return column
    if pa.types.is_null(kind):  # a CSV column without a value: Arrow casts nothing to null
        return pa.nulls(len(column))
    return pc.cast(column, kind)


def open_source(source: Any, null_values: Sequence[str] = NULL_VALUES) -> Source:
    """Open files, directories, globs, a DataFrame or an Arrow table as a :class:`Source`.

    Args:
        source: A path (CSV, Parquet file, directory of Parquet files or a
            glob), a list of those, a pandas DataFrame, a pyarrow Table or
            RecordBatch, or an already opened :class:`Source`.
        null_values: The CSV cell texts that are nulls; the empty cell always is.

    Returns:
        The opened source. Every part has the same columns; their types are
        unified across parts.

    Raises:
        SourceError: A path does not exist or cannot be opened.
        UsageError: A file of a format zpml does not read, or files whose
            columns differ or whose types cannot be unified (naming the file
            and the column).
    """
    if isinstance(source, Source):
        return source
    if isinstance(source, pd.DataFrame):
        refuse_duplicate_columns([str(c) for c in source.columns], "<DataFrame>")
        return _from_table("<DataFrame>", pa.Table.from_pandas(source, preserve_index=False))
    if isinstance(source, pa.RecordBatch):
        source = pa.Table.from_batches([source])
    if isinstance(source, pa.Table):
        return _from_table("<Table>", source)
    paths = [source] if isinstance(source, (str, Path)) else list(source)
    parts = [_open_file(path, null_values) for pattern in paths for path in _expand(str(pattern))]
    return Source(tuple(parts), _unified_schema(parts))


def _unified_schema(parts: Sequence[_Part]) -> pa.Schema:
    """The schema every part is read as: the first part's columns, types promoted across parts.

    Raises:
        UsageError: A part lacks a column of the first or has one it lacks, or
            a column's types cannot be unified (text in one file, numbers in another).
    """
    first = parts[0]
    fields = {f.name: f for f in plain_schema(first.schema)}
    for part in parts[1:]:
        names = part.schema.names
        missing = [name for name in fields if name not in names]
        if missing:
            raise UsageError(
                f"{part.name} lacks column(s) {missing} that {first.name} has; "
                "every file of one source needs the same columns"
            )
        extra = [name for name in names if name not in fields]
        if extra:
            raise UsageError(
                f"{part.name} has column(s) {extra} that {first.name} lacks; every file of one "
                "source needs the same columns: drop them or add them to every file"
            )
        for field in plain_schema(part.schema):
            fields[field.name] = _promoted(fields[field.name], field, part.name)
    return pa.schema(list(fields.values()), first.schema.metadata)


def _promoted(field: pa.Field, other: pa.Field, where: str) -> pa.Field:
    """The field both types read as (int64 and float64 is float64), or refuse naming the column."""
    if field.type == other.type:
        return field
    try:
        unified = pa.unify_schemas(
            [pa.schema([field]), pa.schema([other.with_name(field.name)])],
            promote_options="permissive",
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise UsageError(
            f"{where}: column {field.name!r} is {other.type} here but {field.type} in the "
            "files before it; every file of one source needs one type per column"
        ) from None
    return unified.field(0)


def _from_table(name: str, table: pa.Table) -> Source:
    refuse_duplicate_columns(table.schema.names, name)

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


def _open_file(path: Path, null_values: Sequence[str]) -> _Part:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"{path}: unknown file type {path.suffix!r}; zpml reads .csv and .parquet")
    try:
        if path.stat().st_size == 0:
            raise SourceError(f"{path}: the file is empty (no header, no rows)")
        part = _open_parquet(path) if fmt == "parquet" else _open_csv(path, null_values)
    except (pa.ArrowInvalid, OSError) as error:
        raise SourceError(f"{path}: cannot open as {fmt}: {error}") from None
    refuse_duplicate_columns(part.schema.names, str(path))
    return part


def refuse_duplicate_columns(names: Sequence[str], where: str) -> None:
    """Refuse a table with two columns of one name: no column could be named unambiguously.

    Raises:
        UsageError: A name occurs twice, naming it and where.
    """
    twice = [(name, n) for name, n in Counter(names).items() if n > 1]
    if twice:
        raise UsageError(
            f"{where}: column {twice[0][0]!r} occurs {twice[0][1]} times; "
            "rename the columns so that each name is used once"
        )


def open_row_groups(
    path: str, row_groups: Sequence[int], first_row: int, schema: pa.Schema
) -> Source:
    """Consecutive row groups of a Parquet file as a source (a partition of a larger one).

    Args:
        path: The Parquet file.
        row_groups: The row groups to read, in order.
        first_row: The file's data row of the first row group's first row, so
            batches are tagged with the same rows as when reading the whole file.
        schema: The whole source's schema, so batches get its unified types.

    Raises:
        SourceError: The file cannot be opened.
    """
    try:
        part = _open_parquet(Path(path), row_groups, first_row)
    except (pa.ArrowInvalid, OSError) as error:
        raise SourceError(f"{path}: cannot open as parquet: {error}") from None
    return Source((part,), schema)


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


def _open_csv(path: Path, null_values: Sequence[str]) -> _Part:
    text = CsvText(path, null_values)
    return _Part(str(path), text.infer_schema(), None, text.batches, text=True)
