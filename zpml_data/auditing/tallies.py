"""Running totals of an audit: per check, per target; they merge in source order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from zpml_data.auditing.findings import Findings, decide
from zpml_data.auditing.report import MAX_EXAMPLES, CheckResult, Level, TargetReport, json_value
from zpml_data.auditing.semantic_checks import group_column, semantic_failures, semantic_frame
from zpml_data.auditing.semantics import SemanticTally, group_index
from zpml_data.checks.rules import CHECK_LEVELS, STATUS, VALUE, checks_of, float_column
from zpml_data.encode import status_codes_lenient, suggest_label
from zpml_data.io.sources import SourceBatch
from zpml_data.lift import sentinel_codes
from zpml_data.spec import LabelledTarget, LegacyTarget, ResolvedTarget
from zpml_data.status import STATUS_LABELS, Status

_SLOTS = len(STATUS_LABELS) + 1  # count slot 0 is an invalid status; slot c + 1 is code c


class CheckTally:
    """Running count and first examples of one check's failures."""

    def __init__(self, name: str, level: Level) -> None:
        self.result = CheckResult(name, level)

    def add(
        self, failed_rows: np.ndarray, describe: Callable[[np.ndarray], list[dict[str, Any]]]
    ) -> None:
        """Count failing rows; ``describe`` makes examples of the first few while room is left."""
        self.result.failed += len(failed_rows)
        room = MAX_EXAMPLES - len(self.result.examples)
        if room > 0 and len(failed_rows):
            self.result.examples += describe(failed_rows[:room])

    def merge(self, other: CheckTally) -> None:
        """Add the failures counted after these (the first examples stay first)."""
        self.result.failed += other.result.failed
        room = MAX_EXAMPLES - len(self.result.examples)
        self.result.examples += other.result.examples[:room]


class TargetTally:
    """Running totals of one target over the batches of a source."""

    def __init__(
        self, target: ResolvedTarget, groups: Sequence[str], inputs: Sequence[str] = ()
    ) -> None:
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
        censoring = target.censoring if isinstance(target, LabelledTarget) else "auto"
        self.semantic = SemanticTally(tuple(groups), tuple(inputs), censoring)
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

    def empty_checks(self) -> dict[str, CheckTally]:
        """A tally for each check of the target, none failed yet."""
        names = checks_of(legacy=isinstance(self.target, LegacyTarget))
        return {name: CheckTally(name, CHECK_LEVELS[name]) for name in names}

    def merge(self, other: TargetTally) -> None:
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

    def merge_checks(self, checks: dict[str, CheckTally]) -> None:
        """Add check failures counted after these."""
        for name, check in checks.items():
            self.checks[name].merge(check)

    def merge_third(self, other: TargetTally) -> None:
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
            censoring=self.findings.censoring_found if self.findings else "none",
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


def values_and_codes(
    batch: pa.RecordBatch, target: ResolvedTarget
) -> tuple[np.ndarray, np.ndarray]:
    """A target's values as float64, and its status codes (-1: null or not a label).

    Nulls read as NaN, and -0.0 as 0.0 (equal values, so a limit's sign cannot
    depend on which of them a batch met first).
    """
    values = np.add(float_column(batch.column(target.value)), 0.0, dtype=np.float64)
    if isinstance(target, LegacyTarget):
        # Legacy data: count every row as what the default sentinel policy would make it.
        return values, sentinel_codes(values)
    return values, status_codes_lenient(batch.column(target.status))


def _semantic_describer(
    file: str, frame: pd.DataFrame, groups: tuple[str, ...]
) -> Callable[[np.ndarray], list[dict[str, Any]]]:
    """A function that turns rows failing a group-level check into JSON-ready examples."""

    def example(row: int) -> dict[str, Any]:
        code = int(frame.at[row, STATUS])
        found = {"file": file, "row": int(row), "value": json_value(frame.at[row, VALUE])}
        found["status"] = STATUS_LABELS[code] if code >= 0 else None
        return found | {g: str(frame.at[row, group_column(g)]) for g in groups}

    def describe(rows: np.ndarray) -> list[dict[str, Any]]:
        return [example(row) for row in rows]

    return describe
