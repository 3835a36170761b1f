"""The two phases of writing shards, as tasks over partitions (any engine runs them).

Phase 1, per partition (:func:`stage_part`): check every batch exactly as the
audit does, decide each row's split, lift the rows that pass and append them
to a staging file of that partition and split (Arrow IPC, beside the shards);
set the failing rows aside in a quarantine staging file. The client then
knows every partition's kept rows, so which rows each shard holds: shard
``k`` of a split holds its kept rows ``[k * rows_per_shard, (k + 1) * rows_per_shard)``
in source order. Phase 2, per shard (:func:`write_job`): read those rows from
the staging files (memory-mapped), permute them with the seed and the shard
index, and write the shard. A shard's bytes depend only on its rows and the
settings, so any process can write any shard, and every engine writes the
same bytes. Tasks write only inside the run's staging directory;
:class:`Staging` makes it, moves the finished shards into place and removes
it, and on an error the shards moved.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa

from zpml_data.checks.rules import columns_to_check, load_user_schema
from zpml_data.engines.runner import Part
from zpml_data.io.atomic import atomic_path, parquet_writer, sync_directory
from zpml_data.shards import Compression, OnError
from zpml_data.shards._batches import labelled_targets, reject_rows, shard_batch
from zpml_data.shards.directory import remove_staging_dir
from zpml_data.shards.format import column_2d, shard_name, shard_schema, status_counts
from zpml_data.shards.inputs import feature_names
from zpml_data.shards.manifest import RowGroup, ShardFile, sha256_file
from zpml_data.shards.split import Split, in_validation
from zpml_data.spec import ResolvedSpec

_SHARD = re.compile(r"^part-\d{5}\.parquet$")


@dataclass(frozen=True)
class ShardLayout:
    """How shards are laid out: their features, targets, sizes, order and codec."""

    inputs: tuple[str, ...]  # source input columns
    categories: dict[str, tuple[str, ...]]  # categories of each categorical input
    targets: int
    rows_per_shard: int
    row_group_rows: int
    seed: int | None
    compression: Compression

    @property
    def features(self) -> list[str]:
        """The feature names in each row of the ``inputs`` column."""
        return feature_names(self.inputs, self.categories)

    def schema(self) -> pa.Schema:
        """The shard schema (built where it is used: a pickled schema loses a list's child name)."""
        return shard_schema(self.features, self.targets)


@dataclass(frozen=True)
class StagePlan:
    """What phase 1 needs besides the partition."""

    spec: ResolvedSpec
    layout: ShardLayout
    on_error: OnError
    batch_size: int
    split: Split | None
    staging_dir: str  # the run's own (directory.new_staging_dir): tasks write only in it

    @property
    def splits(self) -> int:
        """How many shard sets are written: 1, or 2 (train, val) with a split."""
        return 1 if self.split is None else 2

    def rows_file(self, part: int, split: int) -> Path:
        """The staging file of a partition's kept rows of one split."""
        return Path(self.staging_dir) / f".stage-{part:05d}-{split}.rows.tmp"

    def quarantine_file(self, part: int, split: int) -> Path:
        """The staging file of a partition's quarantined rows of one split."""
        return Path(self.staging_dir) / f".stage-{part:05d}-{split}.quarantine.tmp"

    def shards_dir(self, split: int) -> Path:
        """Where phase 2 writes the shards of one split, before they are moved into place."""
        return Path(self.staging_dir) / f"set-{split}"


@dataclass(frozen=True)
class Staged:
    """Phase 1's answer for one partition: per split, rows read, kept and quarantined."""

    index: int
    read: list[int]
    kept: list[int]
    quarantined: list[int]


class _Appender(contextlib.ExitStack):
    """Arrow IPC files opened on their first batch; closed with the stack."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: dict[Path, pa.ipc.RecordBatchFileWriter] = {}

    def append(self, path: Path, batch: pa.RecordBatch) -> None:
        if path not in self.writers:
            self.writers[path] = self.enter_context(pa.ipc.new_file(str(path), batch.schema))
        self.writers[path].write_batch(batch)


def stage_part(part: Part, plan: StagePlan) -> Staged:
    """Task, phase 1: check, split, lift and stage the rows of one partition."""
    spec, layout = plan.spec, plan.layout
    targets = labelled_targets(spec)
    schema = layout.schema()
    user_schema = load_user_schema(spec.schema)
    columns = columns_to_check(spec, user_schema, part.source.schema.names)
    if plan.split is not None and plan.split.by is not None:
        columns = list(dict.fromkeys([*columns, plan.split.by]))
    n = plan.splits
    read, kept, quarantined = [0] * n, [0] * n, [0] * n
    done = 0
    with _Appender() as files:
        for batch in part.source.batches(columns, plan.batch_size):
            rows = batch.batch.num_rows
            row_ids = np.arange(part.source_row + done, part.source_row + done + rows)
            bad, rejected = reject_rows(batch, spec, user_schema, plan.on_error, row_ids)
            which = np.zeros(rows, np.int64)
            if plan.split is not None:
                which = in_validation(batch.batch, row_ids, plan.split).astype(np.int64)
            for s in range(n):
                mine = which == s
                keep = mine & ~bad
                read[s] += int(mine.sum())
                if keep.any():
                    lifted = shard_batch(
                        batch.batch.filter(pa.array(keep)),
                        layout.inputs,
                        layout.categories,
                        targets,
                        schema,
                        row_ids[keep],
                    )
                    files.append(plan.rows_file(part.index, s), lifted)
                    kept[s] += lifted.num_rows
                if rejected is not None and (mine & bad).any():
                    aside = rejected.filter(pa.array(mine[bad]))
                    files.append(plan.quarantine_file(part.index, s), aside)
                    quarantined[s] += aside.num_rows
            done += rows
            part.advance(rows)
    return Staged(part.index, read, kept, quarantined)


@dataclass(frozen=True)
class ShardJob:
    """Phase 2's work for one shard: where it goes, and the staged rows it holds."""

    directory: str
    index: int
    pieces: tuple[tuple[str, int, int], ...]  # (staging file, first row, rows)
    rows: int = field(default=0)


def plan_jobs(plan: StagePlan, staged: list[Staged], split: int) -> list[ShardJob]:
    """The shards of one split: each one's staged rows, cutting the kept rows in source order."""
    kept = np.array([s.kept[split] for s in staged], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(kept)])
    total, size = int(starts[-1]), plan.layout.rows_per_shard
    jobs = []
    for k, first in enumerate(range(0, total, size)):
        last = min(first + size, total)
        pieces = tuple(
            (
                str(plan.rows_file(s.index, split)),
                max(first - lo, 0),
                min(last, hi) - max(first, lo),
            )
            for s, lo, hi in zip(staged, starts[:-1].tolist(), starts[1:].tolist(), strict=True)
            if lo < last and hi > first
        )
        jobs.append(ShardJob(str(plan.shards_dir(split)), k, pieces, last - first))
    return jobs


def write_job(job: ShardJob, layout: ShardLayout) -> ShardFile:
    """Task, phase 2: read one shard's staged rows and write the shard."""
    schema = layout.schema()
    slices = []
    for path, first, rows in job.pieces:
        staged = pa.ipc.open_file(pa.memory_map(path)).read_all()
        slices.append(staged.slice(first, rows))
    table = pa.concat_tables(slices) if slices else schema.empty_table()
    return write_shard(Path(job.directory), job.index, table.cast(schema), layout)


def write_shard(directory: Path, index: int, table: pa.Table, layout: ShardLayout) -> ShardFile:
    """Write shard ``index`` (its rows permuted with the seed and the index); its entry."""
    table = table.combine_chunks()
    if layout.seed is not None:
        order = np.random.default_rng([layout.seed, index]).permutation(table.num_rows)
        table = table.take(pa.array(order))
    path = directory / shard_name(index)
    with (
        atomic_path(path) as tmp,
        parquet_writer(tmp, layout.schema(), layout.compression) as writer,
    ):
        writer.write_table(table, row_group_size=layout.row_group_rows)
    codes = column_2d(table, "status")
    groups = [
        RowGroup(start, len(chunk), status_counts(chunk))
        for start in range(0, len(codes), layout.row_group_rows)
        for chunk in [codes[start : start + layout.row_group_rows]]
    ]
    return ShardFile(
        path.name, len(codes), path.stat().st_size, sha256_file(path), status_counts(codes), groups
    )


def staged_quarantine(plan: StagePlan, staged: list[Staged], split: int) -> Any:
    """The quarantined record batches of one split, in source order (read lazily)."""
    for s in staged:
        if s.quarantined[split]:
            reader = pa.ipc.open_file(pa.memory_map(str(plan.quarantine_file(s.index, split))))
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)


class Staging:
    """A run's staging directory and the shards it moves into place; a context manager.

    The directory is made on entry and removed whole on exit, and tasks write
    only inside it. Dask cannot stop a task that is running when a run fails:
    one that writes after the exit finds no directory and creates nothing, so
    it leaves no stray file for the next run, nor meets a later run's files
    (their directory has another name). On an error, the shards moved into
    the shard directories are removed too (those were prepared empty, so
    every shard file in them is this run's).

    Args:
        plan: The run's plan, naming its staging directory.
        shard_dirs: The shard directory of each split.
    """

    def __init__(self, plan: StagePlan, shard_dirs: list[Path]) -> None:
        self.plan, self.shard_dirs = plan, shard_dirs

    def __enter__(self) -> Staging:
        Path(self.plan.staging_dir).mkdir()
        for split in range(len(self.shard_dirs)):
            self.plan.shards_dir(split).mkdir()
        return self

    def move_shards(self, split: int, files: list[ShardFile]) -> None:
        """Move the written shards of one split into its shard directory (renames, fsynced)."""
        directory = self.shard_dirs[split]
        for file in files:
            os.replace(self.plan.shards_dir(split) / file.file, directory / file.file)
        sync_directory(directory)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        remove_staging_dir(Path(self.plan.staging_dir))
        if exc_type is None:
            return
        for directory in self.shard_dirs:
            with contextlib.suppress(FileNotFoundError):  # removed under us: nothing to clear
                for entry in directory.iterdir():
                    if _SHARD.match(entry.name):
                        entry.unlink(missing_ok=True)
