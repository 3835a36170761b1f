"""The converted table written to DEST: Parquet, or CSV for a ``.csv`` name."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow import csv

from zpml_data.errors import UsageError
from zpml_data.io.atomic import parquet_writer


class ConvertedFile:
    """Writes record batches to ``path`` as Parquet or CSV; a context manager that closes it.

    The file is opened with the first batch's schema (or by :meth:`finish`,
    for a source with no rows). CSV is written as each value's text, quoted
    only where a value holds a quote, comma or line break, so text read from
    a CSV file is written back as it was; the status column is its label.
    """

    def __init__(self, path: Path, as_csv: bool) -> None:
        self.path, self.as_csv = path, as_csv
        self._writer: Any = None
        self._first_column = ""

    def __enter__(self) -> ConvertedFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._writer is not None:
            self._writer.close()

    def write(self, batch: pa.RecordBatch) -> None:
        """Append a batch."""
        self._open(batch.schema)
        if self.as_csv:
            self._writer.write(_csv_rows(batch.columns).encode())
        else:
            self._writer.write_batch(batch)

    def finish(self, schema: pa.Schema) -> None:
        """Make sure the file exists: a source without rows still gets its header."""
        self._open(schema)

    def rows_written(self) -> int:
        """The data rows in the closed file, read back from the file itself.

        Parquet: the footer's row count. CSV: the first column parsed again, as text.
        """
        if not self.as_csv:
            return int(pq.read_metadata(self.path).num_rows)
        column = self._first_column
        options = csv.ConvertOptions(include_columns=[column], column_types={column: pa.string()})
        parse = csv.ParseOptions(newlines_in_values=True)
        with csv.open_csv(self.path, parse_options=parse, convert_options=options) as reader:
            return sum(batch.num_rows for batch in reader)

    def _open(self, schema: pa.Schema) -> None:
        if self._writer is not None:
            return
        self._first_column = schema.names[0]
        if self.as_csv:
            self._writer = self.path.open("wb")
            self._writer.write(_csv_rows([pa.array([name]) for name in schema.names]).encode())
        else:
            self._writer = parquet_writer(self.path, schema)


def _csv_rows(columns: Sequence[pa.Array]) -> str:
    """CSV lines of ``columns``: each value's text, quoted only where it must be; null is empty."""
    cells = [_csv_cell(column) for column in columns]
    cells[-1] = pc.binary_join_element_wise(cells[-1], "\n", "")
    lines = pc.binary_join_element_wise(*cells, ",").cast(pa.large_string())
    return str(
        pc.binary_join(
            pa.LargeListArray.from_arrays([0, len(lines)], lines), pa.scalar("", pa.large_string())
        )[0].as_py()
    )


def _csv_cell(column: pa.Array) -> pa.Array:
    text = pc.cast(column, pa.string())
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    must_quote = pc.match_substring_regex(text, '[",\r\n]')
    return pc.fill_null(pc.if_else(must_quote, quoted, text), "")


def refuse_nested_in_csv(schema: pa.Schema, sources: list[str]) -> None:
    """Refuse writing list, struct or map columns to CSV: a cell holds one value.

    Raises:
        UsageError: Naming the first such column, its type, and the way out.
    """
    nested = [f for f in schema if pa.types.is_nested(f.type)]
    if nested:
        raise UsageError(
            f"{', '.join(sources)}: column {nested[0].name!r} holds {nested[0].type}, which a "
            "CSV cell cannot hold; convert to a .parquet file instead"
        )
