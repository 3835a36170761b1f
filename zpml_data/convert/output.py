"""The converted table written to DEST: Parquet, or CSV for a ``.csv`` name."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow import csv

from zpml_data.io.atomic import parquet_writer


class ConvertedFile:
    """Writes record batches to ``path`` as Parquet or CSV; a context manager that closes it.

    The file is opened with the first batch's schema (or by :meth:`finish`,
    for a source with no rows). CSV has no dictionary type: the status
    column is written as text.
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
        if self.as_csv:
            batch = pa.RecordBatch.from_arrays(
                [pc.cast(c, pa.string()) if _is_dictionary(c.type) else c for c in batch.columns],
                schema=_csv_schema(batch.schema),
            )
        self._open(batch.schema)
        self._writer.write_batch(batch)

    def finish(self, schema: pa.Schema) -> None:
        """Make sure the file exists: a source without rows still gets its header."""
        self._open(_csv_schema(schema) if self.as_csv else schema)

    def rows_written(self) -> int:
        """The data rows in the closed file, read back from the file itself.

        Parquet: the footer's row count. CSV: the first column parsed again, as text.
        """
        if not self.as_csv:
            return int(pq.read_metadata(self.path).num_rows)
        column = self._first_column
        options = csv.ConvertOptions(include_columns=[column], column_types={column: pa.string()})
        with csv.open_csv(self.path, convert_options=options) as reader:
            return sum(batch.num_rows for batch in reader)

    def _open(self, schema: pa.Schema) -> None:
        if self._writer is None:
            self._first_column = schema.names[0]
            self._writer = (
                csv.CSVWriter(self.path, schema)
                if self.as_csv
                else parquet_writer(self.path, schema)
            )


def _is_dictionary(kind: pa.DataType) -> bool:
    return bool(pa.types.is_dictionary(kind))


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [pa.field(f.name, pa.string()) if _is_dictionary(f.type) else f for f in schema]
    )
