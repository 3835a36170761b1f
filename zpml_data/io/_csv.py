"""CSV files read as the text the user wrote, each column's type inferred over the whole file.

Arrow's CSV reader infers a column's type from the first block alone, so a
column that turns from ``1`` to ``2.5`` or ``<0.5`` further down fails to
parse, and it reads ``007`` as 7 and ``NA``/``null`` as nulls. Here every
column is read as text, with only the given null spellings (by default the
empty cell) as nulls; one streaming pass keeps a type per column, widened
as the rows require, and the batches are cast to it when read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pyarrow import csv

from zpml_data.errors import UsageError
from zpml_data.io import DEFAULT_BATCH_SIZE

NULL_VALUES = ("",)  # the null spellings of a CSV cell unless the user names others

# Digits that always fit an int64 (``+3`` and ``0x10`` are not read as integers by Arrow's cast).
_INTEGER = r"^-?\d{1,18}$"
_BOOLEAN = r"^(?:true|false|True|False|TRUE|FALSE)$"
# Each type, and the types a column of it may widen to; every wider type reads
# all the text the narrower one does, so earlier batches still cast.
_WIDER: dict[pa.DataType, tuple[pa.DataType, ...]] = {
    pa.null(): (pa.int64(), pa.float64(), pa.bool_(), pa.string()),
    pa.int64(): (pa.float64(), pa.string()),
    pa.float64(): (pa.string(),),
    pa.bool_(): (pa.string(),),
    pa.string(): (),
}


class CsvText:
    """A CSV file read column by column as text, with the given null spellings.

    Args:
        path: The CSV file.
        null_values: The cell texts that are nulls (the empty cell is always one).
    """

    def __init__(self, path: Path, null_values: Sequence[str] = NULL_VALUES) -> None:
        self.path = path
        names = _header(path)
        options = csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=sorted({"", *null_values}),
            strings_can_be_null=True,
        )
        # A quoted value may hold a line break, as every CSV writer allows.
        parse = csv.ParseOptions(newlines_in_values=True)
        self._dataset = ds.dataset(
            path, format=ds.CsvFileFormat(parse_options=parse, convert_options=options)
        )

    def batches(self, columns: list[str] | None, batch_size: int) -> Iterator[pa.RecordBatch]:
        """The file's rows as text batches of ``batch_size`` rows."""
        return self._dataset.to_batches(
            columns=columns, batch_size=batch_size, batch_readahead=1, fragment_readahead=1
        )

    def infer_schema(self) -> pa.Schema:
        """Each column's type over every row: null, int64, float64, bool or string.

        One streaming pass; only the current type of each column is kept.
        """
        kinds = dict.fromkeys(self._dataset.schema.names, pa.null())
        for batch in self.batches(None, DEFAULT_BATCH_SIZE):
            for name, column in zip(batch.schema.names, batch.columns, strict=True):
                kinds[name] = _widen(kinds[name], column)
        return pa.schema(list(kinds.items()))


def _header(path: Path) -> list[str]:
    """The column names, from the first block.

    Raises:
        UsageError: A name occurs twice (Arrow refuses such a file, in words about
            datasets and schemas).
    """
    try:
        return list(ds.dataset(path, format="csv").schema.names)
    except pa.ArrowInvalid as error:
        twice = re.search(r"multiple columns named (.*)$", str(error))
        if twice is None:
            raise
        raise UsageError(
            f"{path}: column {twice.group(1)!r} occurs more than once in the header; "
            "rename the columns so that each name is used once"
        ) from None


def _widen(kind: pa.DataType, column: pa.Array) -> pa.DataType:
    """The narrowest type at least ``kind`` that reads every value of ``column``."""
    if column.null_count == len(column):
        return kind
    for wider in (kind, *_WIDER[kind]):
        if _reads(wider, column):
            return wider
    return pa.string()


def _reads(kind: pa.DataType, column: pa.Array) -> bool:
    """Whether every non-null text of ``column`` is a value of type ``kind``."""
    if kind == pa.string():
        return True
    if kind == pa.int64() or kind == pa.bool_():
        pattern = _INTEGER if kind == pa.int64() else _BOOLEAN
        return bool(pc.all(pc.match_substring_regex(column, pattern)).as_py())
    if kind == pa.float64():
        try:
            pc.cast(column, kind)
        except pa.ArrowInvalid:
            return False
        return True
    return False  # null: the column has a value
