"""Atomic file writes: a temporary name in the same directory, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from zpml_data.errors import SourceError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it to ``path``.

    Readers see the old file or the complete new one, never half of it. On an
    exception the temporary file is removed and ``path`` is left as it was.

    Raises:
        SourceError: The directory does not exist or is not writable.
    """
    path = Path(path)
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise SourceError(f"cannot write {str(path)!r}: {error.strerror}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def commit(tmp: Path, path: Path) -> None:
    """Make a finished temporary file durable (fsync) and move it to ``path`` atomically."""
    with open(tmp, "rb+") as file:
        os.fsync(file.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def parquet_writer(
    path: str | Path, schema: pa.Schema, compression: str = "snappy"
) -> pq.ParquetWriter:
    """A Parquet writer that dictionary-encodes only text and dictionary columns.

    Trying dictionary encoding on float columns (pyarrow's default) cost 8x the
    write time of 10⁶-row float batches for no gain: measured 1.91 s against
    0.23 s for 2·10⁶ rows of 9 float32 columns.
    """
    encode = [
        f.name
        for f in schema
        if pa.types.is_dictionary(f.type)
        or pa.types.is_string(f.type)
        or pa.types.is_large_string(f.type)
    ]
    return pq.ParquetWriter(path, schema, use_dictionary=encode or False, compression=compression)
