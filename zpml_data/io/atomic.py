"""Atomic file writes: a temporary name in the same directory, fsync, rename."""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import secrets
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from zpml_data.errors import SourceError
from zpml_data.io.guard import check_output_path, new_file_mode


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it to ``path``.

    Readers see the old file or the complete new one, never half of it, and
    after a crash or power loss the directory holds one of the two (its
    entry is fsynced after the rename). On an exception the temporary file
    is removed and ``path`` is left as it was. The new file gets the mode of
    the file it replaces, else the mode ``open()`` gives (``0666 & ~umask``,
    applied by the kernel: the process-wide umask is never changed); a
    symlink to a file is written through to its target.

    Raises:
        SourceError: The directory does not exist or is not writable.
        UsageError: ``path`` is a directory, FIFO or device, not a file.
    """
    path = check_output_path(path)
    tmp = _create_temporary(path)
    try:
        yield tmp
        commit(tmp, path)
    except (OSError, RuntimeError) as error:
        # Writers that wrap the OS error (torch's zip writer) hide ENOSPC: ask the disk.
        reason = out_of_space(tmp, error)
        if reason is None:
            raise
        raise SourceError(
            f"cannot write {str(path)!r}: {reason}; "
            + ("the previous file is unchanged" if path.exists() else "nothing was written")
        ) from None
    finally:
        tmp.unlink(missing_ok=True)


# Less free space than this after a failed write: the write failed for want of space.
_NEARLY_FULL = 1 << 20


def out_of_space(file: Path, error: BaseException) -> str | None:
    """Why a write to ``file`` failed, when the reason is space: a full disk or a size limit.

    Args:
        file: The file being written (still there).
        error: What the writer raised.

    Returns:
        ``"the disk is full (...)"``, ``"the file size limit (ulimit -f) ..."``,
        or ``None`` when space is not why.
    """
    code = getattr(error, "errno", None)
    if code == errno.EFBIG or _at_size_limit(file):
        return "the file size limit (ulimit -f) is reached; raise it or write elsewhere"
    try:
        info = os.statvfs(file.parent)
    except OSError:
        info = None
    free = None if info is None else info.f_bavail * info.f_frsize
    if code in (errno.ENOSPC, errno.EDQUOT) or (free is not None and free < _NEARLY_FULL):
        left = "" if free is None else f" ({free:,} bytes free in {str(file.parent)!r})"
        return f"the disk is full{left}; free some space and run again"
    return None


def _at_size_limit(file: Path) -> bool:
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    try:
        return limit != resource.RLIM_INFINITY and file.stat().st_size >= limit
    except OSError:
        return False


def _create_temporary(path: Path) -> Path:
    """A new empty file beside ``path``, created as ``open()`` creates files."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        except OSError as error:
            raise SourceError(f"cannot write {str(path)!r}: {error.strerror}") from None
        return tmp
    raise SourceError(f"cannot write {str(path)!r}: no free temporary name beside it")


def commit(tmp: Path, path: Path) -> None:
    """Make a finished temporary file durable and move it to ``path`` atomically.

    The file is fsynced before the rename and its directory after it, so a
    power loss leaves either the old file or the complete new one.
    """
    with open(tmp, "rb+") as file:
        if path.exists():
            os.fchmod(file.fileno(), new_file_mode(path))
        os.fsync(file.fileno())
    os.replace(tmp, path)
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """Fsync a directory, so that a rename or a new entry in it survives a power loss."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
