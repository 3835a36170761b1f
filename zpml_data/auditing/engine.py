"""The streaming audit: validate a source batch by batch, keep only running totals.

Each pass is a task over the source's partitions (:mod:`zpml_data.engines`):
one partition, the whole source, on the local engine; Parquet partitions on
a Dask cluster. The tasks count into empty totals and the client merges them
in partition order, so both engines give the same report. Between the
passes the client plans (the second pass's candidates) and decides (the
group-level findings). The one total that does not merge to the very same
numbers is the heavy-hitter summary behind the ``sentinel_number``
candidates: it keeps the same guarantee (every value seen more than 1/257 of
the finite rows is a candidate), and the candidates are then counted exactly.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from zpml_data.auditing.report import AuditReport, compare_reports, json_value
from zpml_data.auditing.semantics import NULL_GROUP as NULL_GROUP  # where the tests look
from zpml_data.auditing.tallies import CheckTally, TargetTally, values_and_codes
from zpml_data.checks.rules import (
    check_batch,
    columns_to_check,
    finite_in_float32,
    float_column,
    load_user_schema,
)
from zpml_data.engines import DEFAULT_SCHEDULER_TIMEOUT_S, Engine
from zpml_data.engines.runner import Part, Runner, open_runner
from zpml_data.io import DEFAULT_BATCH_SIZE
from zpml_data.io.sources import Source, SourceBatch, open_source
from zpml_data.spec import DatasetSpec, LabelledTarget, ResolvedSpec, ResolvedTarget
from zpml_data.validate import MAX_BATCH_ROWS, MAX_SKEW_PP, require_float, require_positive_int

if TYPE_CHECKING:
    from distributed import Client

# The passes after the first: counts around the first pass's candidates, then the rows.
Pass = Literal["second", "third"]


class _Audit:
    """The running totals of an audit, over a source or one partition of it."""

    def __init__(self, spec: ResolvedSpec, skew_threshold_pp: float) -> None:
        self.spec, self.skew_threshold_pp = spec, skew_threshold_pp
        self.targets = {t: TargetTally(t, spec.groups, spec.numeric_inputs) for t in spec.targets}
        self.user_checks: dict[str, CheckTally] = {}

    def merge(self, other: _Audit) -> None:
        """Add the first-pass totals of the partition that follows the ones merged so far."""
        for target, tally in self.targets.items():
            tally.merge(other.targets[target])
        for name, check in other.user_checks.items():
            self.user_checks.setdefault(name, CheckTally(name, check.result.level)).merge(check)

    def finish(self, names: list[str], runner: Runner, batch_size: int) -> AuditReport:
        """The group-level passes after the first, then the report.

        Pass 2 counts around the candidates the first pass named; pass 3
        counts the rows. Each re-reads only the targets' and groups' columns
        of the source (files and tables can be read again), so memory stays bounded.
        """
        second = [t for t in self.targets.values() if t.semantic.plan_second()]
        if second:
            results = runner.map_parts(_reread, second, "second", self.spec, batch_size)
            for result in results:
                for mine, theirs in zip(second, result, strict=True):
                    mine.semantic.merge_second(theirs.semantic)
        for tally in self.targets.values():
            tally.decide(self.skew_threshold_pp)
        third = [t for t in self.targets.values() if t.findings and t.findings.needs_rows]
        if third:
            results = runner.map_parts(_reread, third, "third", self.spec, batch_size)
            for result in results:
                for mine, theirs in zip(third, result, strict=True):
                    mine.merge_third(theirs)
        return AuditReport(
            sources=names,
            spec=self.spec.to_dict(),
            targets=[t.report() for t in self.targets.values()],
            schema_checks=[tally.result for tally in self.user_checks.values()],
        )

    def add(self, part: SourceBatch, user_schema: Any) -> None:
        """Count and check one batch."""
        for tally in self.targets.values():
            tally.add_counts(part.file, part.batch, *values_and_codes(part.batch, tally.target))
        for failure in check_batch(part, self.spec, user_schema):
            describe = _describer(part, failure.target, self.spec.numeric_inputs, failure.check)
            if failure.target is None:
                check = self.user_checks.setdefault(
                    failure.check, CheckTally(failure.check, failure.level)
                )
                check.add(failure.rows, describe)
                continue
            tally = self.targets[failure.target]
            tally.checks[failure.check].add(failure.rows, describe)
            if failure.check == "status_known" and isinstance(failure.target, LabelledTarget):
                status = part.batch.column(failure.target.status)
                labels = status.take(failure.rows - part.first_row).to_pandas().astype(str)
                tally.unknown.update(labels.value_counts().to_dict())


def _first_pass(
    part: Part, spec: ResolvedSpec, batch_size: int, skew_threshold_pp: float
) -> _Audit:
    """Task: count and check every batch of one partition, into empty totals."""
    totals = _Audit(spec, skew_threshold_pp)
    user_schema = load_user_schema(spec.schema)
    columns = columns_to_check(spec, user_schema, part.source.schema.names)
    for batch in part.source.batches(columns, batch_size):
        totals.add(batch, user_schema)
        part.advance(batch.batch.num_rows)
    return totals


def _reread(
    part: Part, planned: list[TargetTally], which: Pass, spec: ResolvedSpec, batch_size: int
) -> list[TargetTally]:
    """Task: pass ``which`` over one partition, for the client's planned tallies.

    Counts into copies, never into what it was given (on the local engine that
    is the client's own totals): the second pass into the accumulators the
    plan left empty, the third into empty check tallies (and the findings'
    rows beyond the limits, empty until then). The client adds them up.
    """
    tallies = copy.deepcopy(planned)
    if which == "third":
        for tally in tallies:
            tally.checks = tally.empty_checks()
    columns = [c for t in tallies for c in t.target.columns]
    columns = list(dict.fromkeys([*columns, *spec.groups]))
    for batch in part.source.batches(columns, batch_size):
        for tally in tallies:
            values, codes = values_and_codes(batch.batch, tally.target)
            if which == "second":
                tally.semantic.add_second(batch.batch, values, codes)
            else:
                tally.add_semantic_rows(batch, values, codes)
    return tallies


def _audit_source(
    source: Source,
    spec: ResolvedSpec,
    skew_threshold_pp: float,
    batch_size: int,
    progress: bool,
    engine: dict[str, Any],
) -> AuditReport:
    """Every pass over one source on the engine; the report."""
    with open_runner(source, batch_size=batch_size, progress=progress, **engine) as runner:
        parts = runner.map_parts(_first_pass, spec, batch_size, skew_threshold_pp, label="audit")
        totals = parts[0]
        for part in parts[1:]:
            totals.merge(part)
        return totals.finish(source.names, runner, batch_size)


def _describer(
    part: SourceBatch, target: ResolvedTarget | None, inputs: Sequence[str], check: str
) -> Callable[[np.ndarray], list[dict[str, Any]]]:
    """A function that turns failing row labels into JSON-ready examples.

    It takes only those rows of the batch, as Python values, so an example
    reads the same whatever else its batch holds.
    """

    def describe(rows: np.ndarray) -> list[dict[str, Any]]:
        taken = part.batch.take(rows - part.first_row)
        found: list[dict[str, Any]] = [{"file": part.file, "row": int(row)} for row in rows]
        if target is not None:
            for example, value in zip(found, taken.column(target.value).to_pylist(), strict=True):
                example["value"] = json_value(value)
        if isinstance(target, LabelledTarget):
            for example, status in zip(found, taken.column(target.status).to_pylist(), strict=True):
                example["status"] = json_value(status)
        if check == "input_finite":
            for example in found:
                example["inputs"] = {}
            for name in inputs:
                column = taken.column(name)
                finite = finite_in_float32(float_column(column))
                for example, value, ok in zip(found, column.to_pylist(), finite, strict=True):
                    if not ok:
                        example["inputs"][name] = json_value(value)
        return found

    return describe


def audit(
    source: Any,
    spec: DatasetSpec | None = None,
    *,
    group_by: Sequence[str] = (),
    compare: Any = None,
    skew_threshold_pp: float = 5.0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    engine: Engine = "local",
    scheduler: str | Client | None = None,
    scheduler_timeout: float = DEFAULT_SCHEDULER_TIMEOUT_S,
) -> AuditReport:
    """Audit a labelled dataset: status mix, breakdowns, and the semantic checks.

    Reads the source as a stream of record batches, validates each with the
    built-in pandera schema (and the spec's own schema, if any), and keeps only
    running totals, so memory depends on ``batch_size``, not on the data.

    Args:
        source: Anything :func:`zpml_data.io.sources.open_source` opens.
        spec: Which columns are targets, inputs and groups (defaults: ``value``,
            ``status``, every other numeric column as an input).
        group_by: More columns to break the counts down by.
        compare: A second source to compare the status mix with.
        skew_threshold_pp: Flag a label whose share moves by more than this
            many percentage points: with ``compare``, between the sources; in
            ``status_skew_by_group``, between a group and the rest (if significant).
        batch_size: Rows per record batch.
        progress: Show a progress bar (only on a terminal).
        engine: ``"local"`` runs here; ``"dask"`` audits the partitions of
            Parquet files on a Dask cluster and merges their totals, for the
            same report (the files must be at the same paths on every worker).
        scheduler: With ``engine="dask"``: a scheduler address, a
            ``distributed.Client``, or ``None`` for a local cluster of one
            worker process per core.
        scheduler_timeout: With ``engine="dask"``: the longest wait in seconds
            for the scheduler to answer (connecting, and between finished tasks).

    Returns:
        The :class:`AuditReport`.

    Raises:
        UsageError: A named column does not exist; with the dask engine, Dask
            is not installed or the source is not Parquet files.
        SourceError: A file cannot be read.
    """
    skew_threshold_pp = require_float(
        "skew_threshold_pp", skew_threshold_pp, minimum=0, maximum=MAX_SKEW_PP
    )
    batch_size = require_positive_int("batch_size", batch_size, maximum=MAX_BATCH_ROWS)
    spec = spec or DatasetSpec()
    if group_by:
        spec = dataclasses.replace(spec, groups=tuple(dict.fromkeys((*spec.groups, *group_by))))
    on = {"engine": engine, "scheduler": scheduler, "scheduler_timeout": scheduler_timeout}
    opened = open_source(source)
    load_user_schema(spec.schema)  # a bad schema file is refused before any work
    resolved = spec.resolve(opened.schema, ", ".join(opened.names))
    report = _audit_source(opened, resolved, skew_threshold_pp, batch_size, progress, on)
    if compare is not None:
        other_source = open_source(compare)
        other_spec = spec.resolve(other_source.schema, ", ".join(other_source.names))
        other = _audit_source(other_source, other_spec, skew_threshold_pp, batch_size, progress, on)
        report.comparison = compare_reports(report, other, skew_threshold_pp)
    return report
