"""The streaming audit: validate a source batch by batch, keep only running totals."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import pandas as pd
import pyarrow as pa

from zpml_data.auditing.findings import Findings, decide
from zpml_data.auditing.report import (
    MAX_EXAMPLES,
    AuditReport,
    CheckResult,
    Level,
    TargetReport,
    compare_reports,
    json_value,
)
from zpml_data.auditing.semantic_checks import group_column, semantic_failures, semantic_frame
from zpml_data.auditing.semantics import NULL_GROUP as NULL_GROUP  # where the tests look
from zpml_data.auditing.semantics import SemanticTally, group_index
from zpml_data.checks.rules import (
    CHECK_LEVELS,
    STATUS,
    VALUE,
    check_batch,
    checks_of,
    columns_to_check,
    finite_in_float32,
    load_user_schema,
)
from zpml_data.encode import status_codes_lenient, suggest_label
from zpml_data.engines import Engine
from zpml_data.io import DEFAULT_BATCH_SIZE
from zpml_data.io.progress import progress_bar
from zpml_data.io.sources import Source, SourceBatch, open_source
from zpml_data.lift import sentinel_codes
from zpml_data.spec import DatasetSpec, LabelledTarget, LegacyTarget, ResolvedSpec, ResolvedTarget
from zpml_data.status import STATUS_LABELS, Status
from zpml_data.validate import require_choice

if TYPE_CHECKING:
    from distributed import Client

_SLOTS = len(STATUS_LABELS) + 1  # count slot 0 is an invalid status; slot c + 1 is code c


class _CheckTally:
    """Running count and first examples of one check's failures."""

    def __init__(self, name: str, level: Level) -> None:
        self.result = CheckResult(name, level)

    def add(self, failed_rows: np.ndarray, describe: Any) -> None:
        self.result.failed += len(failed_rows)
        room = MAX_EXAMPLES - len(self.result.examples)
        self.result.examples += [describe(row) for row in failed_rows[:room]]

    def merge(self, other: _CheckTally) -> None:
        """Add the failures counted after these (the first examples stay first)."""
        self.result.failed += other.result.failed
        room = MAX_EXAMPLES - len(self.result.examples)
        self.result.examples += other.result.examples[:room]


class _TargetTally:
    """Running totals of one target over the batches of a source."""

    def __init__(self, target: ResolvedTarget, groups: Sequence[str]) -> None:
        self.target = target
        self.counts = np.zeros(_SLOTS, dtype=np.int64)
        self.groups: dict[str, dict[str, np.ndarray]] = {column: {} for column in groups}
        self.files: dict[str, np.ndarray] = {}
        self.bounds = {
            Status.CENSORED_BELOW: [np.inf, -np.inf],
            Status.CENSORED_ABOVE: [np.inf, -np.inf],
        }
        self.unknown: Counter[str] = Counter()
        self.checks = self.empty_checks()
        self.semantic = SemanticTally(tuple(groups))
        self.findings: Findings | None = None

    def add_counts(
        self, file: str, batch: pa.RecordBatch, values: np.ndarray, codes: np.ndarray
    ) -> None:
        slots = codes.astype(np.int64) + 1
        counts = np.bincount(slots, minlength=_SLOTS)
        self.counts += counts
        self.files[file] = self.files.get(file, 0) + counts
        for column, table in self.groups.items():
            _add_group_counts(table, batch.column(column), slots)
        self.semantic.add_first(batch, values, codes)
        for code, bound in self.bounds.items():
            censored = values[codes == code]
            censored = censored[~np.isnan(censored)]
            if censored.size:
                bound[0] = min(bound[0], float(censored.min()))
                bound[1] = max(bound[1], float(censored.max()))

    def empty_checks(self) -> dict[str, _CheckTally]:
        """A tally for each check of the target, none failed yet."""
        names = checks_of(legacy=isinstance(self.target, LegacyTarget))
        return {name: _CheckTally(name, CHECK_LEVELS[name]) for name in names}

    def merge(self, other: _TargetTally) -> None:
        """Add the first-pass totals of the rows that follow these."""
        self.counts += other.counts
        for column, table in other.groups.items():
            for key, counts in table.items():
                self.groups[column][key] = self.groups[column].get(key, 0) + counts
        for file, counts in other.files.items():
            self.files[file] = self.files.get(file, 0) + counts
        for code, (low, high) in other.bounds.items():
            self.bounds[code] = [min(self.bounds[code][0], low), max(self.bounds[code][1], high)]
        self.unknown.update(other.unknown)
        self.merge_checks(other.checks)
        self.semantic.merge_first(other.semantic)

    def merge_checks(self, checks: dict[str, _CheckTally]) -> None:
        """Add check failures counted after these."""
        for name, check in checks.items():
            self.checks[name].merge(check)

    def merge_third(self, other: _TargetTally) -> None:
        """Add what the third pass counted over the rows that follow these."""
        assert self.findings is not None and other.findings is not None
        self.merge_checks(other.checks)
        self.findings.merge_beyond(other.findings)

    def report(self) -> TargetReport:
        if self.findings is not None:
            for name, details in self.findings.details().items():
                if name in self.checks:
                    self.checks[name].result.details = details

        def by_label(counts: np.ndarray) -> dict[str, int]:
            labelled = {label: int(n) for label, n in zip(STATUS_LABELS, counts[1:], strict=True)}
            return labelled | {"invalid": int(counts[0])}

        status_counts = by_label(self.counts)
        del status_counts["invalid"]
        censored = {
            side: {
                "count": status_counts[code.label],
                "min": json_value(self.bounds[code][0]) if status_counts[code.label] else None,
                "max": json_value(self.bounds[code][1]) if status_counts[code.label] else None,
            }
            for side, code in (("below", Status.CENSORED_BELOW), ("above", Status.CENSORED_ABOVE))
        }
        return TargetReport(
            value=self.target.value,
            status=self.target.status if isinstance(self.target, LabelledTarget) else None,
            rows=int(self.counts.sum()),
            status_counts=status_counts,
            invalid_status=int(self.counts[0]),
            unknown_labels={
                label: {"count": n, "did_you_mean": suggest_label(label)}
                for label, n in self.unknown.most_common()
            },
            censored=censored,
            missing=status_counts[Status.MISSING.label],
            fault=status_counts[Status.FAULT.label],
            groups={
                column: {key: by_label(counts) for key, counts in sorted(table.items())}
                for column, table in self.groups.items()
            },
            files={file: by_label(counts) for file, counts in self.files.items()},
            checks=[tally.result for tally in self.checks.values()],
            histograms=self.semantic.histogram_entries(),
        )

    def decide(self, threshold_pp: float) -> None:
        """Decide the group-level findings from the first two passes."""
        self.findings = decide(self.semantic, self.groups, threshold_pp)

    def add_semantic_rows(self, part: SourceBatch, values: np.ndarray, codes: np.ndarray) -> None:
        """Third pass: count and keep examples of the rows the group-level findings explain."""
        assert self.findings is not None
        groups = tuple(self.groups)
        frame = semantic_frame(part.batch, part.first_row, values, codes, groups)
        for name, rows in semantic_failures(frame, self.findings).items():
            self.checks[name].add(rows, _semantic_describer(part.file, frame, groups))


def _add_group_counts(table: dict[str, np.ndarray], column: pa.Array, slots: np.ndarray) -> None:
    """Add per-group label counts: one bincount over (group index, status slot) pairs."""
    keys, indices = group_index(column, len(slots))
    counts = np.bincount(indices * _SLOTS + slots, minlength=len(keys) * _SLOTS)
    for key, row in zip(keys, counts.reshape(len(keys), _SLOTS), strict=True):
        if row.any():
            table[key] = table.get(key, 0) + row


def _values_and_codes(
    batch: pa.RecordBatch, target: ResolvedTarget
) -> tuple[np.ndarray, np.ndarray]:
    """A target's values as float64, and its status codes (-1: null or not a label)."""
    values = batch.column(target.value).to_numpy(zero_copy_only=False).astype(np.float64)
    if isinstance(target, LegacyTarget):
        # Legacy data: count every row as what the default sentinel policy would make it.
        return values, sentinel_codes(values)
    return values, status_codes_lenient(batch.column(target.status))


def _semantic_describer(
    file: str, frame: pd.DataFrame, groups: tuple[str, ...]
) -> Callable[[int], dict[str, Any]]:
    """A function that turns a row failing a group-level check into a JSON-ready example."""

    def describe(row: int) -> dict[str, Any]:
        code = int(frame.at[row, STATUS])
        example = {"file": file, "row": int(row), "value": json_value(frame.at[row, VALUE])}
        example["status"] = STATUS_LABELS[code] if code >= 0 else None
        return example | {g: str(frame.at[row, group_column(g)]) for g in groups}

    return describe


# The passes after the first: counts around the first pass's candidates, then the rows.
Pass = Literal["second", "third"]
# Runs a pass over the whole source for these tallies (here, or on a cluster and merged).
Reread = Callable[[list[_TargetTally], Pass], None]


class _Audit:
    """The running totals of an audit, over a source or one partition of it."""

    def __init__(self, spec: ResolvedSpec, batch_size: int, skew_threshold_pp: float) -> None:
        self.spec = spec
        self.batch_size, self.skew_threshold_pp = batch_size, skew_threshold_pp
        self.targets = {t: _TargetTally(t, spec.groups) for t in spec.targets}
        self.user_checks: dict[str, _CheckTally] = {}

    def run(self, source: Source, user_schema: Any, show_progress: bool) -> AuditReport:
        """Every pass over a source in this process; the report."""
        with progress_bar(source.count_rows(), "audit", show_progress) as bar:
            self.first_pass(source, user_schema, bar)

        def reread_here(tallies: list[_TargetTally], which: Pass) -> None:
            reread(source, self.spec, self.batch_size, tallies, which)

        return self.finish(source.names, reread_here)

    def first_pass(self, source: Source, user_schema: Any, bar: Any = None) -> None:
        """Count and check every batch of the source (or partition)."""
        columns = columns_to_check(self.spec, user_schema, source.schema.names)
        for part in source.batches(columns, self.batch_size):
            self._add(part, user_schema)
            if bar is not None:
                bar.update(part.batch.num_rows)

    def merge(self, other: _Audit) -> None:
        """Add the first-pass totals of the partition that follows the ones merged so far."""
        for target, tally in self.targets.items():
            tally.merge(other.targets[target])
        for name, check in other.user_checks.items():
            self.user_checks.setdefault(name, _CheckTally(name, check.result.level)).merge(check)

    def finish(self, names: list[str], reread_source: Reread) -> AuditReport:
        """The group-level passes after the first, then the report.

        Pass 2 counts around the candidates the first pass named; pass 3
        counts the rows. Each re-reads only the targets' and groups' columns
        of the source (files and tables can be read again), so memory stays bounded.
        """
        second = [t for t in self.targets.values() if t.semantic.plan_second()]
        if second:
            reread_source(second, "second")
        for tally in self.targets.values():
            tally.decide(self.skew_threshold_pp)
        third = [t for t in self.targets.values() if t.findings and t.findings.needs_rows]
        if third:
            reread_source(third, "third")
        return AuditReport(
            sources=names,
            spec=self.spec.to_dict(),
            targets=[t.report() for t in self.targets.values()],
            schema_checks=[tally.result for tally in self.user_checks.values()],
        )

    def _add(self, part: SourceBatch, user_schema: Any) -> None:
        for tally in self.targets.values():
            tally.add_counts(part.file, part.batch, *_values_and_codes(part.batch, tally.target))
        checked = check_batch(part, self.spec, user_schema)
        frame = checked.frame
        for failure in checked.failures:
            describe = _describer(part.file, frame, failure.target, self.spec.inputs, failure.check)
            if failure.target is None:
                check = self.user_checks.setdefault(
                    failure.check, _CheckTally(failure.check, failure.level)
                )
                check.add(failure.rows, describe)
                continue
            tally = self.targets[failure.target]
            tally.checks[failure.check].add(failure.rows, describe)
            if failure.check == "status_known" and isinstance(failure.target, LabelledTarget):
                labels = frame.loc[failure.rows, failure.target.status].astype(str)
                tally.unknown.update(labels.value_counts().to_dict())


def reread(
    source: Source, spec: ResolvedSpec, batch_size: int, tallies: list[_TargetTally], which: Pass
) -> None:
    """Pass ``which`` over a source (or partition) for these tallies."""
    columns = [c for t in tallies for c in t.target.columns]
    columns = list(dict.fromkeys([*columns, *spec.groups]))
    for part in source.batches(columns, batch_size):
        for tally in tallies:
            values, codes = _values_and_codes(part.batch, tally.target)
            if which == "second":
                tally.semantic.add_second(part.batch, values, codes)
            else:
                tally.add_semantic_rows(part, values, codes)


def _describer(
    file: str,
    frame: pd.DataFrame,
    target: ResolvedTarget | None,
    inputs: Sequence[str],
    check: str,
) -> Callable[[int], dict[str, Any]]:
    """A function that turns a failing row label into a JSON-ready example."""

    def describe(row: int) -> dict[str, Any]:
        example: dict[str, Any] = {"file": file, "row": int(row)}
        if target is not None:
            example["value"] = json_value(frame.at[row, target.value])
        if isinstance(target, LabelledTarget):
            status = frame.at[row, target.status]
            example["status"] = None if pd.isna(status) else json_value(status)
        if check == "input_finite":
            cells = frame.loc[row, list(inputs)]
            finite = finite_in_float32(cells)
            example["inputs"] = {
                c: json_value(v) for (c, v), ok in zip(cells.items(), finite, strict=True) if not ok
            }
        return example

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
) -> AuditReport:
    """Audit a labelled dataset: status mix, breakdowns, and the semantic checks.

    Reads the source as a stream of record batches, validates each with the
    built-in pandera schema (and the spec's own schema, if any), and keeps only
    running totals, so memory depends on ``batch_size``, not on the data.

    Args:
        source: Anything :func:`zpml_data.sources.open_source` opens.
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

    Returns:
        The :class:`AuditReport`.

    Raises:
        UsageError: A named column does not exist; with the dask engine, Dask
            is not installed or the source is not Parquet files.
        SourceError: A file cannot be read.
    """
    spec = spec or DatasetSpec()
    if group_by:
        spec = dataclasses.replace(spec, groups=tuple(dict.fromkeys((*spec.groups, *group_by))))
    require_choice("engine", engine, get_args(Engine))
    opened = open_source(source)
    user_schema = load_user_schema(spec.schema)

    def run(source: Source, resolved: ResolvedSpec) -> AuditReport:
        totals = _Audit(resolved, batch_size, skew_threshold_pp)
        if engine == "local":
            return totals.run(source, user_schema, progress)
        from zpml_data.auditing.dask_engine import audit_on_dask

        return audit_on_dask(totals, source, batch_size, progress, scheduler)

    report = run(opened, spec.resolve(opened.schema, ", ".join(opened.names)))
    if compare is not None:
        other_source = open_source(compare)
        other = run(other_source, spec.resolve(other_source.schema, ", ".join(other_source.names)))
        report.comparison = compare_reports(report, other, skew_threshold_pp)
    return report
