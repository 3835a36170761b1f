"""Guards around every output zpml writes: never onto an input, one writer, only our own files.

Every verb that writes goes through these few functions, so the rules hold
for all of them (and for ``zpml train``'s run directory):

* :func:`refuse_overlap`: an output that is, or contains, an input is refused.
* :func:`check_output_path`: an output must be a regular file (or absent);
  a FIFO, a device such as ``/dev/stdout`` or a directory is refused.
* :func:`output_lock`: an exclusive ``flock`` for the whole run, so a second
  writer to the same output stops at once instead of interleaving.
* :func:`run_marker`: a file written first and removed last inside an output
  directory, by which zpml recognises its own interrupted run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from zpml_data.errors import SourceError, UsageError

RUN_MARKER = ".zpml-run"


def _resolved(path: str | Path) -> Path:
    return Path(os.path.abspath(path)).resolve()


def _same_or_inside(candidate: Path, output: Path) -> bool:
    """True when ``candidate`` is ``output`` itself or lies under it (paths resolved)."""
    if candidate == output or output in candidate.parents:
        return True
    try:
        return os.path.samefile(candidate, output)
    except OSError:
        return False


def refuse_overlap(inputs: Iterable[str | Path], outputs: Iterable[str | Path]) -> None:
    """Refuse outputs that are, or contain, one of the inputs.

    Paths are compared resolved (symlinks followed, ``..`` removed) and by
    ``os.path.samefile``, so another spelling or a hard link of an input is
    caught too.

    Args:
        inputs: Files, directories or glob patterns that are read (strings
            that are not paths, such as ``"<DataFrame>"``, never match).
        outputs: Files or directories that are written.

    Raises:
        UsageError: Naming the output and the input it would overwrite (exit 2).
    """
    names = [str(i) for i in inputs]
    names += [match for name in names if glob.has_magic(name) for match in glob.glob(name)]
    resolved_inputs = [(name, _resolved(name)) for name in names]
    for output in outputs:
        target = _resolved(output)
        for name, source in resolved_inputs:
            if _same_or_inside(source, target):
                raise UsageError(
                    f"output {str(output)!r} would overwrite the input {name!r}; "
                    "write to another path"
                )


def check_output_path(path: str | Path, *, directory: bool = False) -> Path:
    """Refuse an output path that exists as something other than what zpml writes.

    Args:
        path: The output.
        directory: The output is a directory (else a regular file).

    Returns:
        ``path``, with a symlink to a regular file resolved to its target, so
        the file is written into, never replaced by one.

    Raises:
        UsageError: The path is a FIFO, a device (``/dev/stdout``), a socket,
            or a directory where a file is expected (or the reverse).
    """
    path = Path(path)
    spelled = {Path(os.path.abspath(path)), _resolved(path)}
    if any(p.parts[1:2] in (("dev",), ("proc",)) for p in spelled):
        raise UsageError(
            f"output {str(path)!r} is a device or process file, not a file path to write"
            " (for stdout use '-' where the option allows it)"
        )
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return path
    except OSError as error:
        raise SourceError(f"cannot write {str(path)!r}: {error.strerror}") from None
    if directory and not stat.S_ISDIR(mode):
        raise UsageError(f"output directory {str(path)!r} exists and is not a directory")
    if not directory and not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        hint = " (for stdout use '-' where the option allows it)" if not stat.S_ISDIR(mode) else ""
        raise UsageError(f"output {str(path)!r} is {kind}; name a file path to write{hint}")
    return path.resolve() if path.is_symlink() else path


def _lock_busy(path: Path) -> UsageError:
    return UsageError(
        f"{path} is being written by another zpml run; wait for it to finish "
        "or choose another output"
    )


@contextlib.contextmanager
def output_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking ``flock`` on an output for the duration of the block.

    A directory is locked through its own file descriptor (no file is added
    to it); a file through ``.<name>.lock`` beside it, removed on exit.

    Raises:
        UsageError: Another process holds the lock (exit 2, naming ``path``).
        SourceError: The lock cannot be taken (a read-only directory).
    """
    path = Path(path)
    if path.is_dir():
        with _flock(path, path, remove=False):
            yield
        return
    with _flock(path.parent / f".{path.name}.lock", path, remove=True):
        yield


@contextlib.contextmanager
def _flock(lock: Path, names: Path, *, remove: bool) -> Iterator[None]:
    """Lock ``lock`` (created if ``remove``); errors name the output ``names``."""
    flags = os.O_RDONLY if lock.is_dir() else os.O_RDWR | os.O_CREAT
    try:
        fd = os.open(lock, flags, 0o666)
    except OSError as error:
        raise SourceError(f"cannot lock {str(names)!r}: {error.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise _lock_busy(names) from None
            raise SourceError(f"cannot lock {str(names)!r}: {error.strerror}") from None
        # The lock file may have been removed by its previous holder after we opened it.
        if remove and not _same_inode(lock, fd):
            raise _lock_busy(names)
        try:
            yield
        finally:
            if remove:
                lock.unlink(missing_ok=True)
    finally:
        os.close(fd)


def _same_inode(path: Path, fd: int) -> bool:
    try:
        here, held = path.stat(), os.fstat(fd)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


@contextlib.contextmanager
def run_marker(directory: str | Path) -> Iterator[Path]:
    """Write ``.zpml-run`` into ``directory`` first and remove it when the block ends.

    The block's own context managers clean up after an exception, so the
    marker outlives only a run that was killed outright (SIGKILL, power
    loss): a directory holding it is zpml's own interrupted run, whose files
    may be cleared.
    """
    marker = Path(directory) / RUN_MARKER
    marker.write_text(f"zpml run by process {os.getpid()}\n", encoding="utf-8")
    try:
        yield marker
    finally:
        marker.unlink(missing_ok=True)


def has_run_marker(directory: str | Path) -> bool:
    """True when ``directory`` holds the marker of an interrupted zpml run."""
    return (Path(directory) / RUN_MARKER).is_file()


def new_file_mode(existing: str | Path | None = None) -> int:
    """The permission bits for a file zpml writes.

    Args:
        existing: The file being replaced, if any: its mode is kept.

    Returns:
        The existing file's mode, else ``0o666 & ~umask``, as ``open()`` creates.
    """
    if existing is not None:
        with contextlib.suppress(OSError):
            return stat.S_IMODE(os.stat(existing).st_mode)
    return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process's umask, read without setting it.

    ``os.umask`` can only read the mask by replacing it, which other threads
    (loader workers, Dask) would see for that moment. Linux states it in
    ``/proc/self/status``; elsewhere a probe file shows what the kernel applies.
    """
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    with tempfile.TemporaryDirectory() as directory:
        probe = Path(directory) / "probe"
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o777))
        return 0o777 & ~stat.S_IMODE(probe.stat().st_mode)
