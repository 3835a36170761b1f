"""The run directory: claimed for one run, locked against a second writer, prepared or replaced.

A run directory holds :data:`RUN_FILES` and nothing else. A new run needs an
empty (or new) directory; ``resume`` needs a run there; ``overwrite`` replaces
a previous run, and only a previous run whose every file zpml can prove it
wrote (a zpml signature inside the file: names prove nothing). Nothing is
deleted before the new run has finished its first epoch: until then the
previous run waits in :data:`STAGING` inside the directory and is put back if
the new run stops, so a run that stops before its first epoch leaves the
directory as it found it (a directory it created is removed again). A run
killed outright in that window is put back by the next run into the
directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

from zpml_data.errors import SourceError, UsageError
from zpml_data.io.atomic import sync_directory
from zpml_data.io.guard import check_output_path, output_lock, refuse_overlap
from zpml_data.shards.split import split_dirs
from zpml_train.training._checkpoint import CHECKPOINT_FORMAT

RUN_FILES = ("config.json", "metrics.jsonl", "last.pt", "best.pt", "report.html")
# The value of config.json's "format" key: the signature by which a run directory is zpml's.
RUN_FORMAT = "zpml-run"
# Where a previous run waits while a new one replaces or continues it.
STAGING = ".zpml-previous-run"
# report.html begins with this title (zpml_train.run.report).
_REPORT_SIGNATURE = b"<title>zpml training report"
_MAX_SIGNED_BYTES = 64 << 20  # a config, metrics or checkpoint pickle read to prove it is ours


@contextlib.contextmanager
def claim_run_dir(
    run_dir: Path, inputs: list[str | Path], *, resume: bool, overwrite: bool
) -> Iterator[None]:
    """Hold the run directory for a run: checked, locked against a second writer, prepared.

    If the block raises before the run has written its first ``last.pt``,
    the directory is put back as it was: the run's files removed, a previous
    run restored, a directory this call created removed.

    Args:
        run_dir: The run directory.
        inputs: The shard directories the run reads.
        resume: Continue the run there.
        overwrite: Replace a previous run there.

    Raises:
        UsageError: The directory is, holds or sits inside one of the inputs
            (or the split directory an input is a set of);
            is not a directory; is locked by another run; or is not free (see
            :func:`prepare_run_dir`).
        SourceError: The directory cannot be created or written.
    """
    run_dir = Path(run_dir)
    check_output_path(run_dir, directory=True)
    inputs = [*inputs, *_split_roots(inputs)]
    refuse_overlap(inputs, [run_dir])
    for data in inputs:  # run files inside a shard directory would mix output into data
        if Path(run_dir).resolve().is_relative_to(Path(data).resolve()):
            raise UsageError(f"run directory {str(run_dir)!r} is inside the input {str(data)!r}")
    created = [d for d in (run_dir, *run_dir.parents) if not d.exists()]
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SourceError(
            f"cannot create run directory {str(run_dir)!r}: {error.strerror}"
        ) from None
    try:
        with output_lock(run_dir):
            with _os_errors(run_dir):
                recover_interrupted(run_dir)
                previous = prepare_run_dir(run_dir, resume, overwrite)
            with _until_first_epoch(run_dir, previous, keep=resume):
                yield
    finally:
        for directory in created:  # deepest first: only what this call made, and only if empty
            with contextlib.suppress(OSError):
                directory.rmdir()


def _split_roots(inputs: list[str | Path]) -> list[Path]:
    """The split directories (``zpml shard --split``) that inputs are a set of: data too."""
    parents = {Path(data).absolute().parent for data in inputs}
    return sorted(root for root in parents if split_dirs(root) is not None)


def prepare_run_dir(run_dir: Path, resume: bool, overwrite: bool = False) -> list[str]:
    """Check an existing directory for a new run, the one to resume, or a run to replace.

    Nothing is deleted here.

    Args:
        run_dir: The run directory.
        resume: Continue the run there.
        overwrite: Replace a run there; every file in it must be one zpml wrote.

    Returns:
        The run files already there (those of the run to resume or replace).

    Raises:
        UsageError: A new run into a directory holding files (without
            ``overwrite``, or with files zpml cannot prove it wrote), or
            ``resume`` without a run to resume.
    """
    present = sorted(p.name for p in run_dir.iterdir())
    if resume:
        if not (run_dir / "last.pt").is_file() or not (run_dir / "config.json").is_file():
            raise UsageError(f"{run_dir}: no run to resume (no last.pt and config.json there)")
        return [name for name in present if name in RUN_FILES]
    if not present:
        return []
    if not overwrite:
        raise UsageError(
            f"{run_dir}: holds {', '.join(present[:5])}; choose a new --out, continue the "
            "run there with --resume, or replace it with --overwrite"
        )
    foreign = unproven_files(run_dir, present)
    if foreign:
        raise UsageError(
            f"{run_dir}: holds {', '.join(foreign[:5])}, which zpml did not write (no zpml "
            "run signature inside), so --overwrite deletes nothing there; choose a new --out, "
            "or move those files away"
        )
    return present


def unproven_files(run_dir: Path, names: list[str]) -> list[str]:
    """The names among ``names`` that are not files of a zpml run (by their content).

    A run is recognised by its ``config.json`` (a JSON object whose
    ``format`` is :data:`RUN_FORMAT`, or that holds the ``run`` and
    ``training`` tables beside the training manifest's sha256); each other
    run file must carry its own signature: a checkpoint's format inside its
    pickle, the report's title, metrics lines that are JSON objects with an
    ``epoch``.
    """
    if "config.json" not in names or not _is_run_config(run_dir / "config.json"):
        return sorted(names)
    return sorted(name for name in names if not _signed(run_dir / name))


def recover_interrupted(run_dir: Path) -> None:
    """Finish what a run killed while replacing or continuing a previous run left undone.

    When the killed run had written its own ``last.pt``, the previous run
    is discarded, as the run would have done; otherwise the killed run's
    files are removed and the previous run put back.
    """
    staging = run_dir / STAGING
    if not staging.is_dir():
        return
    staged = sorted(p.name for p in staging.iterdir())
    if unproven_files(staging, staged):
        raise UsageError(
            f"{staging}: holds files zpml did not write; move them out of {run_dir} and rerun"
        )
    last, kept = run_dir / "last.pt", staging / "last.pt"
    if last.is_file() and not (kept.exists() and os.path.samefile(last, kept)):
        shutil.rmtree(staging)
    else:
        _restore(run_dir, staging, staged)


def _is_run_config(path: Path) -> bool:
    try:
        data = json.loads(_head(path))
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    if data.get("format") == RUN_FORMAT:
        return True
    # What zpml train writes: the data's manifest fingerprint beside the run and training tables.
    return isinstance(data.get("data"), dict) and (
        {"run", "training"} <= set(data) and "train_manifest_sha256" in data["data"]
    )


def _signed(path: Path) -> bool:
    """True when the file at ``path`` carries the signature of the run file it is named as."""
    if not path.is_file() or path.is_symlink():
        return False
    try:
        if path.name == "config.json":
            return _is_run_config(path)
        if path.name == "report.html":
            return _head(path, 4096).lstrip().startswith(b"<!DOCTYPE html>") and (
                _REPORT_SIGNATURE in _head(path, 4096)
            )
        if path.name == "metrics.jsonl":
            lines = [json.loads(line) for line in _head(path).splitlines() if line.strip()]
            return all(isinstance(line, dict) and "epoch" in line for line in lines)
        if path.name in ("last.pt", "best.pt"):
            with zipfile.ZipFile(path) as archive:
                pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
                if len(pickles) != 1 or archive.getinfo(pickles[0]).file_size > _MAX_SIGNED_BYTES:
                    return False
                return CHECKPOINT_FORMAT.encode() in archive.read(pickles[0])
    except (OSError, ValueError, zipfile.BadZipFile):
        return False
    return False


def _head(path: Path, size: int = _MAX_SIGNED_BYTES) -> bytes:
    with open(path, "rb") as file:
        data = file.read(size + 1)
    if len(data) > size and size == _MAX_SIGNED_BYTES:
        raise ValueError(f"{path} is larger than a run file of zpml's")
    return data


@contextlib.contextmanager
def _until_first_epoch(run_dir: Path, previous: list[str], *, keep: bool) -> Iterator[None]:
    """Stage the previous run's files; restore them if the block fails before a new ``last.pt``.

    ``keep`` leaves the files in place (a resume reads them) and stages hard
    links (or copies) of them; else they are moved aside.
    """
    staging = run_dir / STAGING
    if previous:
        with _os_errors(run_dir):
            _stage(run_dir, staging, previous, keep=keep)
    last = _identity(run_dir / "last.pt")
    try:
        yield
    except BaseException:
        if _identity(run_dir / "last.pt") == last:  # not one epoch written: as it was
            _restore(run_dir, staging, previous)
        elif previous:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    if previous:
        shutil.rmtree(staging)


def _stage(run_dir: Path, staging: Path, previous: list[str], *, keep: bool) -> None:
    """Link (``keep``) or move the previous run's files into ``staging``; all or none."""
    staging.mkdir()
    staged: list[str] = []
    try:
        for name in previous:
            if keep:
                _link_or_copy(run_dir / name, staging / name)
            else:
                os.replace(run_dir / name, staging / name)
            staged.append(name)
        sync_directory(run_dir)
    except BaseException:
        for name in [] if keep else staged:
            os.replace(staging / name, run_dir / name)
        shutil.rmtree(staging)  # links, and a copy cut short
        raise


def _restore(run_dir: Path, staging: Path, staged: list[str]) -> None:
    """Remove the new run's files and move the staged previous run back."""
    for name in RUN_FILES:
        if name in staged and _identity(staging / name) == _identity(run_dir / name):
            (staging / name).unlink()  # a resume's untouched file: its link is in place
        elif name in staged:
            os.replace(staging / name, run_dir / name)
        else:
            (run_dir / name).unlink(missing_ok=True)
    if staging.is_dir():
        staging.rmdir()
    sync_directory(run_dir)


def _link_or_copy(source: Path, target: Path) -> None:
    """Checkpoints (large, only ever replaced whole) are linked; the rest copied."""
    if source.suffix == ".pt":
        with contextlib.suppress(OSError):  # a file system without hard links copies
            os.link(source, target)
            return
    shutil.copy2(source, target)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


@contextlib.contextmanager
def _os_errors(run_dir: Path) -> Iterator[None]:
    """An OSError while checking, staging or restoring is named as a SourceError."""
    try:
        yield
    except OSError as error:
        where = error.filename or run_dir
        raise SourceError(
            f"cannot write the run directory {str(where)!r}: {error.strerror}"
        ) from None
