"""The run directory: claimed for one run, locked against a second writer, prepared or replaced.

A run directory holds :data:`RUN_FILES` and nothing else. A new run needs an
empty (or new) directory; ``resume`` needs a run there; ``overwrite`` replaces
a previous run, and only a previous run: files that are not a run's are
never deleted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from zpml_data.errors import UsageError
from zpml_data.io.guard import check_output_path, output_lock, refuse_overlap

RUN_FILES = ("config.json", "metrics.jsonl", "last.pt", "best.pt", "report.html")


@contextlib.contextmanager
def claim_run_dir(
    run_dir: Path, inputs: list[str | Path], *, resume: bool, overwrite: bool
) -> Iterator[None]:
    """Hold the run directory for a run: checked, locked against a second writer, prepared.

    A directory this call created is removed again if the run leaves it empty.

    Args:
        run_dir: The run directory.
        inputs: The shard directories the run reads.
        resume: Continue the run there.
        overwrite: Replace a previous run there.

    Raises:
        UsageError: The directory is, holds or sits inside one of the inputs;
            is not a directory; is locked by another run; or is not free (see
            :func:`prepare_run_dir`).
    """
    check_output_path(run_dir, directory=True)
    refuse_overlap(inputs, [run_dir])
    for data in inputs:  # run files inside a shard directory would mix output into data
        if Path(run_dir).resolve().is_relative_to(Path(data).resolve()):
            raise UsageError(f"run directory {str(run_dir)!r} is inside the input {str(data)!r}")
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with output_lock(run_dir):
            prepare_run_dir(run_dir, resume, overwrite)
            yield
    finally:
        if created and not any(run_dir.iterdir()):  # a run that wrote nothing leaves nothing
            run_dir.rmdir()


def prepare_run_dir(run_dir: Path, resume: bool, overwrite: bool = False) -> None:
    """Check an existing directory for a new run or the one to resume, or clear a finished run.

    Args:
        run_dir: The run directory.
        resume: Continue the run there.
        overwrite: Replace a run there; only zpml's run files may be in it.

    Raises:
        UsageError: A new run into a directory holding files (without
            ``overwrite``, or with files that are not a run's), or ``resume``
            without a run to resume.
    """
    if resume:
        if not (run_dir / "last.pt").is_file() or not (run_dir / "config.json").is_file():
            raise UsageError(f"{run_dir}: no run to resume (no last.pt and config.json there)")
        return
    present = sorted(p.name for p in run_dir.iterdir())
    foreign = [name for name in present if name not in RUN_FILES]
    if present and (not overwrite or foreign or "config.json" not in present):
        raise UsageError(
            f"{run_dir}: holds {', '.join(present[:5])}; choose a new --out, continue the "
            "run there with --resume" + ("" if foreign else ", or replace it with --overwrite")
        )
    for name in present:  # only a previous run's own files, checked above
        (run_dir / name).unlink()
