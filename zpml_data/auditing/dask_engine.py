"""``audit`` on a Dask cluster: each pass runs over Parquet partitions on workers, merged in order.

Workers run the local engine's own passes over their partitions (the same
batches, so the same checks, examples and running totals) and the client
merges the totals in partition order, as if one process had read the
partitions one after the other. Between the passes the client plans (the
second pass's candidates) and decides (the group-level findings), as the
local engine does. The one total that does not merge to the very same
numbers is the heavy-hitter summary behind the ``sentinel_number``
candidates: it keeps the same guarantee (every value seen more than 1/257 of
the finite rows is a candidate), and the candidates are then counted exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zpml_data.auditing.engine import Pass, _Audit, _TargetTally, reread
from zpml_data.auditing.report import AuditReport
from zpml_data.checks.rules import load_user_schema
from zpml_data.engines.dask_cluster import dask_client, map_in_order, require_dask
from zpml_data.engines.partitions import Partition, plan_partitions
from zpml_data.spec import ResolvedSpec

if TYPE_CHECKING:
    from distributed import Client

    from zpml_data.io.sources import Source


def audit_on_dask(
    totals: _Audit,
    source: Source,
    batch_size: int,
    progress: bool,
    scheduler: str | Client | None,
) -> AuditReport:
    """Every pass of the audit over the source's partitions on a Dask cluster; the report.

    Args:
        totals: The empty totals the local engine would fill.
        source: The opened source (Parquet files).
        batch_size: Rows per record batch; partitions start on batch boundaries.
        progress: Show a progress bar of the first pass (only on a terminal).
        scheduler: See :func:`zpml_data.engines.dask_cluster.dask_client`.

    Raises:
        UsageError: Dask is not installed, or the source is not Parquet files.
    """
    require_dask()
    partitions = plan_partitions(source, batch_size, 4 * batch_size)
    spec, skew = totals.spec, totals.skew_threshold_pp
    with dask_client(scheduler) as client:
        parts = map_in_order(
            client, _first_pass, partitions, spec, batch_size, skew,
            rows=[p.rows for p in partitions], label="audit", progress=progress,
        )  # fmt: skip
        for part in parts:
            totals.merge(part)

        def reread_partitions(tallies: list[_TargetTally], which: Pass) -> None:
            results = map_in_order(client, _reread, partitions, tallies, which, spec, batch_size)
            for result in results:
                for mine, theirs in zip(tallies, result, strict=True):
                    if which == "second":
                        mine.semantic.merge_second(theirs.semantic)
                    else:
                        mine.merge_third(theirs)

        return totals.finish(source.names, reread_partitions)


def _first_pass(
    partition: Partition, spec: ResolvedSpec, batch_size: int, skew_threshold_pp: float
) -> _Audit:
    """On a worker: the first pass over one partition, into empty totals."""
    totals = _Audit(spec, batch_size, skew_threshold_pp)
    totals.first_pass(partition.open(), load_user_schema(spec.schema))
    return totals


def _reread(
    partition: Partition,
    tallies: list[_TargetTally],
    which: Pass,
    spec: ResolvedSpec,
    batch_size: int,
) -> list[_TargetTally]:
    """On a worker: pass ``which`` over one partition, for the client's planned tallies.

    The second pass counts into accumulators that the client's plan left
    empty; the third counts rows into checks (and into the findings' rows
    beyond the limits, empty until then), so it starts from empty check
    tallies here, and the client adds them to its own.
    """
    if which == "third":
        for tally in tallies:
            tally.checks = tally.empty_checks()
    reread(partition.open(), spec, batch_size, tallies, which)
    return tallies
