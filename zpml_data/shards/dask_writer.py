"""``write_shards`` on a Dask cluster: workers check partitions, then write shards in parallel.

The local writer cuts the stream of kept rows into shards of
``rows_per_shard``. Here that takes two phases. Phase 1: each worker checks a
partition exactly as the local writer checks a batch and returns which rows
failed and their quarantine rows. The client then knows every partition's
kept rows, so which partitions (and which of their kept rows) each shard
holds. Phase 2: each worker reads the partitions of one shard, lifts the kept
rows and writes the shard with the local writer's own ``write_shard`` (same
row ids, same permutation, same bytes). The client writes the quarantine in
source order, then the manifest, last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from zpml_data.checks.rules import columns_to_check, load_user_schema
from zpml_data.engines.dask_cluster import dask_client, map_in_order, require_dask
from zpml_data.engines.partitions import Partition, plan_partitions
from zpml_data.shards import OnError
from zpml_data.shards._batches import shard_batch
from zpml_data.shards.format import shard_name, shard_schema
from zpml_data.shards.manifest import Manifest, ShardFile
from zpml_data.shards.writer import QuarantineWriter, ShardWriter, _labelled, _manifest, reject_rows
from zpml_data.spec import ResolvedSpec

if TYPE_CHECKING:
    from distributed import Client

    from zpml_data.io.sources import Source


@dataclass(frozen=True)
class _Checked:
    """Phase 1's answer for one partition."""

    rows: int  # rows read
    bad: np.ndarray  # positions (within the partition) of the rows that failed
    quarantine: list[pa.RecordBatch]  # their quarantine rows, batch by batch


@dataclass(frozen=True)
class _Piece:
    """The kept rows ``[skip, skip + take)`` of a partition that go into one shard."""

    partition: Partition
    bad: np.ndarray
    skip: int
    take: int


def plan_for_dask(source: Source, batch_size: int) -> list[Partition]:
    """Check that Dask is installed and cut the source into partitions of four batches or more.

    A partition of several batches amortises a task's scheduling and the
    pandera schema's set-up.

    Raises:
        UsageError: Dask is not installed, or the source is not Parquet files.
    """
    require_dask()
    return plan_partitions(source, batch_size, 4 * batch_size)


def write_rows_on_dask(
    source: Source,
    partitions: list[Partition],
    spec: ResolvedSpec,
    shards: ShardWriter,
    on_error: OnError,
    batch_size: int,
    progress: bool,
    scheduler: str | Client | None,
) -> Manifest:
    """Check, lift and write every row into shards or the quarantine; the manifest to write.

    Raises:
        DataError: With ``on_error="abort"``, a row failed (the first such
            batch in source order, as the local writer reports it).
    """
    rows = [p.rows for p in partitions]
    with dask_client(scheduler) as client:
        checked = map_in_order(
            client, _check, partitions, spec, on_error, batch_size,
            rows=rows, label="check", progress=progress,
        )  # fmt: skip
        jobs = _shard_jobs(partitions, checked, shards.rows_per_shard)
        try:
            shards.shards = map_in_order(
                client, _write_shard, list(enumerate(jobs)), spec, shards, batch_size,
                rows=[sum(p.take for p in job) for job in jobs], label="shard", progress=progress,
            )  # fmt: skip
        except BaseException:
            for index in range(len(jobs)):
                (shards.out_dir / shard_name(index)).unlink(missing_ok=True)
            raise
    with QuarantineWriter(shards.out_dir) as quarantine:
        for result in checked:
            for batch in result.quarantine:
                quarantine.add(batch)
    return _manifest(spec, source, sum(r.rows for r in checked), shards, quarantine, shards.seed)


def _check(
    partition: Partition, spec: ResolvedSpec, on_error: OnError, batch_size: int
) -> _Checked:
    """Phase 1, on a worker: the local writer's checks over one partition."""
    source = partition.open()
    user_schema = load_user_schema(spec.schema)
    columns = columns_to_check(spec, user_schema, source.schema.names)
    read, bad_rows, quarantined = 0, [], []
    for part in source.batches(columns, batch_size):
        first_id = partition.source_row + read
        row_ids = np.arange(first_id, first_id + part.batch.num_rows, dtype=np.int64)
        bad, rejected = reject_rows(part, spec, user_schema, on_error, row_ids)
        if rejected is not None:
            quarantined.append(rejected)
            bad_rows.append(read + np.flatnonzero(bad))
        read += part.batch.num_rows
    bad_at = np.concatenate(bad_rows) if bad_rows else np.zeros(0, np.int64)
    return _Checked(read, bad_at, quarantined)


def _shard_jobs(
    partitions: list[Partition], checked: list[_Checked], rows_per_shard: int
) -> list[list[_Piece]]:
    """Which kept rows of which partitions each shard holds, cutting the kept rows in order."""
    kept = np.array([c.rows - len(c.bad) for c in checked], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(kept)])
    jobs = []
    for first in range(0, int(starts[-1]), rows_per_shard):
        last = min(first + rows_per_shard, int(starts[-1]))
        jobs.append(
            [
                _Piece(p, c.bad, max(first - s, 0), min(last, e) - max(first, s))
                for p, c, s, e in zip(partitions, checked, starts[:-1], starts[1:], strict=True)
                if s < last and e > first
            ]
        )
    return jobs


def _write_shard(
    job: tuple[int, list[_Piece]], spec: ResolvedSpec, shards: ShardWriter, batch_size: int
) -> ShardFile:
    """Phase 2, on a worker: lift the kept rows of one shard and write it."""
    index, pieces = job
    targets = _labelled(spec)
    # Pickling a pyarrow schema loses a fixed-size list's child name ("element"),
    # which the shard bytes hold: rebuild the schema rather than trust the copy.
    shards.schema = shard_schema(spec.inputs, len(targets))
    batches = []
    for piece in pieces:
        bad = np.zeros(piece.partition.rows, dtype=bool)
        bad[piece.bad] = True
        kept_before = 0  # kept rows of the partition before the batch
        read = 0
        for part in piece.partition.open().batches(spec.columns, batch_size):
            keep = ~bad[read : read + part.batch.num_rows]
            start, end = kept_before, kept_before + int(keep.sum())
            if end > piece.skip and start < piece.skip + piece.take:
                row_ids = np.arange(read, read + len(keep), dtype=np.int64)[keep]
                kept = part.batch.filter(pa.array(keep))
                lifted = shard_batch(
                    kept, spec.inputs, targets, shards.schema, piece.partition.source_row + row_ids
                )
                low = max(piece.skip - start, 0)
                batches.append(lifted.slice(low, min(piece.skip + piece.take, end) - start - low))
            kept_before, read = end, read + part.batch.num_rows
    return shards.write_shard(index, pa.Table.from_batches(batches, shards.schema))
