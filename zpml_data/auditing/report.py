"""AuditReport: what an audit found, as data (renderings live in :mod:`.rendering`)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from zpml_data.checks.levels import Level
from zpml_data.status import STATUS_LABELS

REPORT_VERSION = 1
MAX_EXAMPLES = 20


class Verdict(StrEnum):
    """An audit's outcome, from best to worst."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"

    @classmethod
    def worst(cls, verdicts: Iterable[Verdict]) -> Verdict:
        """The worst of some verdicts (``PASS`` for none)."""
        order = list(cls)
        return max(verdicts, key=order.index, default=cls.PASS)

    @classmethod
    def of_failure(cls, level: Level) -> Verdict:
        """The verdict a failed check of this level gives."""
        return cls.FAIL if level is Level.ERROR else cls.WARN


def json_value(value: Any) -> Any:
    """A cell value as JSON can hold it: NaN and ±inf become strings, numpy scalars plain."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@dataclass
class CheckResult:
    """One check's outcome: how many rows failed it and the first examples."""

    name: str
    level: Level
    failed: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    # What a group-level check found, JSON-ready: each group's limits, a heap's
    # value and counts, a sentinel and how to convert it, a skew and its p-value.
    details: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TargetReport:
    """The audit of one (value, status) target."""

    value: str
    status: str | None  # None: no status column (legacy sentinel data)
    rows: int
    status_counts: dict[str, int]
    invalid_status: int  # rows whose status is null or not one of the seven labels
    unknown_labels: dict[str, dict[str, Any]]  # label -> {"count", "did_you_mean"}
    censored: dict[str, dict[str, Any]]  # "below"/"above" -> {"count", "min", "max"}
    missing: int
    fault: int
    # column -> group value -> label (the seven, plus "invalid") -> rows
    groups: dict[str, dict[str, dict[str, int]]]
    files: dict[str, dict[str, int]]  # file -> label (plus "invalid") -> rows
    checks: list[CheckResult]
    # Finite values per group: {"column" (None: the whole target), "group", "low",
    # "high", "counts" (equal bins over [low, high]), "below", "above" (outside it)}
    histograms: list[dict[str, Any]] = field(default_factory=list)
    # How the censored rows are censored: "none" (no censored row with a bound),
    # "limit" (detection limits: a few bounds, shared) or "per_row" (each row its
    # own bound, as survival times: no limit, so finite_beyond_limit does not apply)
    censoring: str = "none"

    @property
    def status_shares(self) -> dict[str, float]:
        """Each label's share of all rows (0 for an empty source)."""
        return {
            label: n / self.rows if self.rows else 0.0 for label, n in self.status_counts.items()
        }

    @property
    def verdict(self) -> Verdict:
        """``fail`` if an error-level check failed, ``warn`` for a warning, else ``pass``."""
        return Verdict.worst(Verdict.of_failure(c.level) for c in self.checks if c.failed)


@dataclass
class SkewEntry:
    """How one label's share moved between two audits."""

    label: str
    share: float
    other_share: float

    @property
    def change_pp(self) -> float:
        """The change in percentage points, other minus this."""
        return 100.0 * (self.other_share - self.share)


@dataclass
class Comparison:
    """The status mix of this report's source against another's, per target.

    The other source is audited with every check, like the first: its own
    verdict counts in the report's, so a failing source cannot pass by
    being the one compared with.
    """

    other_sources: list[str]
    threshold_pp: float
    targets: dict[str, list[SkewEntry]]  # value column -> one entry per label
    other: AuditReport | None = None  # the other source's own audit

    @property
    def other_verdict(self) -> Verdict:
        """The other source's own verdict (``pass`` when it was not kept)."""
        return Verdict.PASS if self.other is None else self.other.verdict

    def other_failures(self) -> list[tuple[str | None, CheckResult]]:
        """The checks the other source failed, with their target (``None``: the user's schema)."""
        if self.other is None:
            return []
        failed: list[tuple[str | None, CheckResult]] = [
            (t.value, c) for t in self.other.targets for c in t.checks if c.failed
        ]
        return failed + [(None, c) for c in self.other.schema_checks if c.failed]

    @property
    def skewed(self) -> dict[str, list[str]]:
        """Per target, the labels whose share moved by more than the threshold."""
        return {
            value: [e.label for e in entries if abs(e.change_pp) > self.threshold_pp]
            for value, entries in self.targets.items()
        }


@dataclass
class AuditReport:
    """Everything an audit found, over one or more targets."""

    sources: list[str]
    spec: dict[str, Any]
    targets: list[TargetReport]
    schema_checks: list[CheckResult]  # from the user's own pandera schema
    comparison: Comparison | None = None

    @property
    def verdict(self) -> Verdict:
        """The worst verdict of any target, user check, skew warning or compared source."""
        verdicts = [t.verdict for t in self.targets]
        verdicts += [Verdict.of_failure(c.level) for c in self.schema_checks if c.failed]
        if self.comparison:
            verdicts.append(self.comparison.other_verdict)
            if any(self.comparison.skewed.values()):
                verdicts.append(Verdict.WARN)
        return Verdict.worst(verdicts)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data, documented by ``schemas/report.schema.json``.

        For a single target, its fields (``rows``, ``status_counts``,
        ``groups``, ...) are also at the top level.
        """
        targets = [_target_dict(t) for t in self.targets]
        checks = [dict(c, target=t["value"]) for t in targets for c in t["checks"]]
        checks += [dict(asdict(c), target=None) for c in self.schema_checks]
        data: dict[str, Any] = {}
        if len(targets) == 1:
            data.update(targets[0])
        data.update(
            version=REPORT_VERSION,
            sources=self.sources,
            spec=self.spec,
            targets=targets,
            checks=checks,
            verdict=self.verdict,
        )
        if self.comparison is not None:
            data["comparison"] = _comparison_dict(self.comparison)
        return data

    def to_json(self) -> str:
        """The report as a JSON document."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False)


def _target_dict(target: TargetReport) -> dict[str, Any]:
    data = asdict(target)
    data["status_shares"] = target.status_shares
    data["verdict"] = target.verdict
    return data


def _comparison_dict(comparison: Comparison) -> dict[str, Any]:
    return {
        "other_sources": comparison.other_sources,
        "threshold_pp": comparison.threshold_pp,
        "targets": {
            value: [
                {
                    "label": e.label,
                    "share": e.share,
                    "other_share": e.other_share,
                    "change_pp": e.change_pp,
                }
                for e in entries
            ]
            for value, entries in comparison.targets.items()
        },
        "skewed": comparison.skewed,
        "verdict": comparison.other_verdict,
        "checks": [
            dict(asdict(check), target=target) for target, check in comparison.other_failures()
        ],
    }


def compare_reports(
    report: AuditReport, other: AuditReport, threshold_pp: float = 5.0
) -> Comparison:
    """Compare the status mix of two audits target by target (train vs validation, say).

    Args:
        report: The audit of the first source.
        other: The audit of the second source, with the same targets.
        threshold_pp: A label whose share moves by more than this many
            percentage points is flagged as skewed.

    Returns:
        The per-label shares of both and their change, and the other audit
        itself (its verdict counts in ``report``'s).
    """
    others = {t.value: t for t in other.targets}
    targets = {}
    for target in report.targets:
        counterpart = others.get(target.value)
        if counterpart is None:
            continue
        targets[target.value] = [
            SkewEntry(label, target.status_shares[label], counterpart.status_shares[label])
            for label in STATUS_LABELS
        ]
    return Comparison(other.sources, threshold_pp, targets, other)
