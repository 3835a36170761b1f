"""A shard run's output directory (claimed, cleared of an earlier set) and its quarantine file."""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa

from zpml_data.errors import SourceError, UsageError, first_few
from zpml_data.io.atomic import atomic_path, parquet_writer
from zpml_data.io.guard import RUN_MARKER, has_run_marker, output_lock, refuse_overlap, run_marker
from zpml_data.shards.manifest import MANIFEST_NAME, QUARANTINE_NAME, sha256_file

_OWNED = re.compile(r"^(part-\d{5}\.parquet|quarantine\.parquet|manifest\.json|\..+\.tmp)$")
_STAGING = re.compile(r"^\.zpml-staging-[0-9a-f]{12}\.tmp$")
# Tries at removing a staging directory: a task that outlived its run may add a
# file between rmtree's listing and its rmdir, and each try removes what is there.
_REMOVE_TRIES = 100


def new_staging_dir(out_dir: Path) -> Path:
    """A name of its own for one run's staging directory in ``out_dir`` (not created here)."""
    return out_dir / f".zpml-staging-{secrets.token_hex(6)}.tmp"


def remove_staging_dir(directory: Path) -> None:
    """Remove a staging directory whole, and what a late task writes into it meanwhile.

    Once it is gone, a task still running (Dask cannot stop one) creates
    nothing: its files' directory does not exist. If files keep appearing
    through every try, the directory is left, under a name only zpml gives,
    for :func:`prepare_out_dir` to clear.
    """
    for _ in range(_REMOVE_TRIES):
        if not directory.exists():
            return
        with contextlib.suppress(OSError):  # a file added, or removed, under rmtree
            shutil.rmtree(directory)


class QuarantineWriter:
    """Rows that failed a check, with their reasons, in ``quarantine.parquet``; a context manager.

    The file is created with the first row; a clean exit commits it, an
    exception discards it. ``entry`` then describes it for the manifest.
    """

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / QUARANTINE_NAME
        self.rows = 0
        self.entry: dict[str, Any] | None = None
        self._files = contextlib.ExitStack()
        self._writer: Any = None

    def __enter__(self) -> QuarantineWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Closes the Parquet writer, then commits the file (or removes it on an error).
        self._files.__exit__(exc_type, exc, traceback)
        if exc_type is None and self._writer is not None:
            self.entry = {
                "file": QUARANTINE_NAME,
                "rows": self.rows,
                "bytes": self.path.stat().st_size,
                "sha256": sha256_file(self.path),
            }

    def add(self, batch: pa.RecordBatch) -> None:
        """Append quarantined rows."""
        if self._writer is None:
            tmp = self._files.enter_context(atomic_path(self.path))
            self._writer = self._files.enter_context(parquet_writer(tmp, batch.schema))
        self._writer.write_batch(batch)
        self.rows += batch.num_rows


def prepare_out_dir(out_dir: Path, overwrite: bool, marked: bool, subdirs: tuple[str, ...]) -> None:
    """Make ``out_dir`` ready: clear a previous (or interrupted) shard set of zpml's.

    zpml's own files are recognised by what zpml wrote, not by their names
    alone: a manifest (a complete set, replaced only with ``overwrite``) or
    the run marker (``marked``: an interrupted run, cleared). Files named like
    shards without either may be the user's: they are replaced only with
    ``overwrite``. Files of other names, and directories other than the
    ``subdirs`` (the split sets, prepared the same way) and a run's staging
    directory (cleared like a file), are never touched.

    Raises:
        UsageError: The directory holds files zpml did not write, a shard set
            without ``overwrite``, or shard-like files of unknown origin.
    """
    entries = sorted(e for e in out_dir.iterdir() if e.name != RUN_MARKER)
    foreign = [e.name for e in entries if not _owned(e, subdirs)]
    if foreign:
        raise UsageError(
            f"{out_dir} holds files zpml did not write ({first_few(foreign)}); "
            "choose an empty or new directory"
        )
    files = [e for e in entries if e.name not in subdirs]
    manifest = out_dir / MANIFEST_NAME
    if manifest.exists() and not overwrite:
        raise UsageError(f"{out_dir} already holds a shard set; pass --overwrite to replace it")
    if files and not (overwrite or marked):
        raise UsageError(
            f"{out_dir} holds {first_few(e.name for e in files)} without a manifest or "
            "a run marker of zpml's, so they may be yours; pass --overwrite to replace "
            "them, or choose an empty or new directory"
        )
    for name in subdirs:
        sub = out_dir / name
        sub.mkdir(exist_ok=True)
        prepare_out_dir(sub, overwrite, marked, ())
    manifest.unlink(missing_ok=True)  # first: a half-cleared directory must not look complete
    for entry in files:
        if entry.is_dir() and not entry.is_symlink():  # a run's staging directory (_owned)
            remove_staging_dir(entry)
        else:
            entry.unlink(missing_ok=True)


def _owned(entry: Path, subdirs: tuple[str, ...]) -> bool:
    """A name zpml writes: a directory only as a split set or a run's staging directory."""
    if entry.is_dir() and not entry.is_symlink():
        return entry.name in subdirs or bool(_STAGING.match(entry.name))
    return bool(_OWNED.match(entry.name))


@contextlib.contextmanager
def claim_output(
    out: Path, sources: list[str], overwrite: bool, subdirs: tuple[str, ...]
) -> Iterator[None]:
    """Create, lock, prepare and mark the output directory for one run."""
    refuse_overlap(sources, [out])
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SourceError(f"cannot create {str(out)!r}: {error.strerror}") from None
    with output_lock(out):
        prepare_out_dir(out, overwrite, has_run_marker(out), subdirs)
        with run_marker(out):
            yield
