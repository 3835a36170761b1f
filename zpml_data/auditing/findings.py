"""What the group-level checks found, decided from the running totals of both passes.

* limits: each group's detection and saturation limit (``finite_beyond_limit``),
  for groups whose censoring is a limit, not per row (see :mod:`.censoring`);
* heaps: a censoring bound of a group where more finite rows sit than on the
  nearest distinct values around it, by a stated test (``heaping_at_limit``):
  the count at the bound against the neighbours' counts is a binomial test
  (given the total, each of the k + 1 values holds a 1/(k + 1) share under
  "no heap"), Holm-adjusted over every bound tested for the target at
  HEAP_ALPHA, and the heap must hold at least HEAP_MIN_RATIO times the
  neighbours' median: significant and large;
* sentinels: a frequent finite value far outside the body of the values and
  far more frequent than its neighbours (``sentinel_number``);
* skews: a group whose share of a label differs from the rest of the data by
  more than the threshold and significantly (``status_skew_by_group``):
  Fisher's exact test per group and label, Holm-corrected over all of them;
* leaks: inputs equal to the target, restating its status, or predicting its
  finite value near perfectly (``input_leak``, see :mod:`.leaks`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import binom, hypergeom

from zpml_data.auditing.censoring import Censoring
from zpml_data.auditing.semantics import MIN_ROWS, WHOLE, Grouping, Neighbours, SemanticTally
from zpml_data.status import STATUS_LABELS, Status

SENTINEL_RATIO = 10.0  # a sentinel holds more than this many times its neighbours' rows
HEAP_ALPHA = 1e-3  # family-wise false-positive rate of the heap tests of one target (Holm)
HEAP_MIN_RATIO = 3.0  # a heap holds at least this many times its neighbours' median count
SKEW_ALPHA = 0.01  # family-wise error rate of the skew tests (Holm)
# Labels that say how a row was recorded, not what was measured: their share
# should not depend on the group. The shares of finite, censored and bottom
# rows follow the measured values, which groups (sites, batches) may differ in.
SKEW_LABELS = (Status.DOMAIN_INVALID, Status.MISSING, Status.FAULT)


@dataclass
class Findings:
    """The group-level findings of one target, and the rows pass 3 counts against them."""

    limits: dict[Grouping, dict[str, tuple[float, float]]]
    heaps: list[dict[str, Any]]
    sentinels: list[dict[str, Any]]
    skews: list[dict[str, Any]]
    leaks: list[dict[str, Any]] = field(default_factory=list)
    # grouping -> group -> how it is censored (groups with censored rows only)
    censoring: dict[Grouping, dict[str, Censoring]] = field(default_factory=dict)
    # grouping -> group -> [finite rows below the lower limit, above the upper], from pass 3
    beyond: dict[Grouping, dict[str, list[int]]] = field(default_factory=dict)
    # False when the second pass saw every group's finite values within its limits
    beyond_possible: bool = True

    def merge_beyond(self, other: Findings) -> None:
        """Add the rows beyond the limits that pass 3 counted over other rows."""
        for grouping, table in other.beyond.items():
            mine = self.beyond.setdefault(grouping, {})
            for key, (below, above) in table.items():
                counts = mine.setdefault(key, [0, 0])
                counts[0] += below
                counts[1] += above

    @property
    def needs_rows(self) -> bool:
        """Whether a pass over the rows can find anything."""
        has_limits = self.beyond_possible and any(self.limits.values())
        return bool(has_limits or self.heaps or self.sentinels or self.skews or self.leaks)

    @property
    def censoring_found(self) -> str:
        """How the whole target is censored: ``none``, ``limit`` or ``per_row``."""
        return self.censoring.get(None, {}).get(WHOLE, "none")

    def details(self) -> dict[str, list[dict[str, Any]]]:
        """Per group-level check, what it found, as JSON-ready report details."""
        limits = [
            {"column": grouping, "group": key, "censoring": kind}
            | dict(zip(("lower", "upper"), self._limits(grouping, key), strict=True))
            | dict(
                zip(("below", "above"), self.beyond.get(grouping, {}).get(key, [0, 0]), strict=True)
            )
            for grouping, table in self.censoring.items()
            for key, kind in table.items()
        ]
        sentinels = [
            s | {"convert": f"zpml convert --sentinel {s['value']:g}=LABEL (missing, fault, ...)"}
            for s in self.sentinels
        ]
        return {
            "finite_beyond_limit": limits,
            "heaping_at_limit": self.heaps,
            "sentinel_number": sentinels,
            "status_skew_by_group": self.skews,
            "input_leak": self.leaks,
        }

    def _limits(self, grouping: Grouping, key: str) -> tuple[float | None, float | None]:
        """A group's limits for the report (None: no limit on that side, or per-row censoring)."""
        lower, upper = self.limits.get(grouping, {}).get(key, (-np.inf, np.inf))
        return _finite_or_none(lower), _finite_or_none(upper)

    def leak_kinds(self) -> dict[str, list[str]]:
        """What the leaking inputs give away: ``value`` (finite rows) or ``status`` (all)."""
        kinds: dict[str, list[str]] = {"value": [], "status": []}
        for leak in self.leaks:
            side = "status" if leak["evidence"] == "restates the status" else "value"
            kinds[side].append(leak["column"])
        return kinds

    def heap_values(self) -> dict[Grouping, dict[str, list[float]]]:
        """Grouping -> group -> the bounds a heap sits on."""
        table: dict[Grouping, dict[str, list[float]]] = {}
        for heap in self.heaps:
            table.setdefault(heap["column"], {}).setdefault(heap["group"], []).append(heap["value"])
        return table

    def sentinel_values(self) -> list[float]:
        """The finite values that are legacy codes."""
        return [s["value"] for s in self.sentinels]

    def skew_cells(self) -> dict[str, dict[str, list[int]]]:
        """Column -> group -> the codes of its skewed labels."""
        table: dict[str, dict[str, list[int]]] = {}
        for skew in self.skews:
            codes = table.setdefault(skew["column"], {}).setdefault(skew["group"], [])
            codes.append(STATUS_LABELS.index(skew["label"]))
        return table


def _finite_or_none(value: float) -> float | None:
    return value if np.isfinite(value) else None


def _stands_out(point: Neighbours) -> bool:
    return point.count >= MIN_ROWS and point.count > SENTINEL_RATIO * point.expected


def heap_p_value(point: Neighbours) -> float:
    """One-sided p-value that the count at a bound is no larger than at its neighbours.

    Given the rows at the bound and at its k neighbouring values, with no heap
    each of the k + 1 values holds each row with probability 1/(k + 1). A
    neighbour above three times the neighbours' median (another heap nearby)
    counts as that much, so it cannot hide this one. No neighbours at all:
    every finite row of the group sits on the bound, p = 0.
    """
    counts = np.concatenate([point.below[1], point.above[1]])
    if not counts.size:
        return 0.0
    others = np.minimum(counts, 3 * max(point.expected, 1.0)).sum()
    total = point.count + round(float(others))
    return float(binom.sf(point.count - 1, total, 1.0 / (counts.size + 1)))


def _heaps(tally: SemanticTally) -> list[dict[str, Any]]:
    """The bounds where finite rows heap: significant (Holm) and at least HEAP_MIN_RATIO×."""
    tested = [
        (grouping, key, p)
        for grouping, table in tally.points.items()
        for key, points in sorted(table.items())
        for p in points
        if p.count >= MIN_ROWS
    ]
    if not tested:
        return []
    adjusted = _holm(np.array([heap_p_value(p) for _, _, p in tested]))
    return [
        {"column": grouping, "group": key, "value": p.point, "count": p.count}
        | {"expected": p.expected, "p_value": float(q)}
        for (grouping, key, p), q in zip(tested, adjusted, strict=True)
        if q < HEAP_ALPHA and p.count >= HEAP_MIN_RATIO * p.expected
    ]


def decide(
    tally: SemanticTally,
    group_counts: Mapping[str, Mapping[str, np.ndarray]],
    threshold_pp: float,
) -> Findings:
    """Decide the findings of one target after both passes.

    Args:
        tally: The target's running totals.
        group_counts: Column -> group -> rows per status slot (invalid, then the seven codes).
        threshold_pp: A skew must exceed this many percentage points.

    Returns:
        The :class:`Findings`.
    """
    heaps = _heaps(tally)
    body = tally.describe_body()
    sentinels = [
        {"value": p.point, "count": p.count, "expected": p.expected} | body
        for p in tally.sentinel_points
        if p.count > tally.hitters.guaranteed and _stands_out(p)
    ]
    limits = tally.limits()
    return Findings(
        limits,
        heaps,
        sentinels,
        skews(group_counts, threshold_pp),
        leaks=tally.leaks.findings(),
        censoring=tally.censoring_kinds(),
        beyond_possible=tally.beyond_possible(limits),
    )


def skews(
    group_counts: Mapping[str, Mapping[str, np.ndarray]], threshold_pp: float
) -> list[dict[str, Any]]:
    """Groups whose share of a SKEW_LABELS label differs from the rest of the data.

    Each (column, group, label) is one two-sided Fisher exact test of the
    group against all other rows; the p-values are Holm-adjusted over every
    test of the target. A cell is flagged when its share differs by more than
    ``threshold_pp`` points and its adjusted p-value is below SKEW_ALPHA.
    """
    cells, x, n, total, hits = [], [], [], [], []
    for column, table in group_counts.items():
        if len(table) < 2:
            continue
        keys = sorted(table)
        counts = np.array([table[k] for k in keys], dtype=np.int64)
        rows = counts.sum(axis=1)
        for status in SKEW_LABELS:
            cells += [(column, key, status.label) for key in keys]
            x.append(counts[:, status + 1])
            n.append(rows)
            total.append(np.full(len(keys), rows.sum()))
            hits.append(np.full(len(keys), counts[:, status + 1].sum()))
    if not cells:
        return []
    x_, n_, total_, hits_ = (np.concatenate(a) for a in (x, n, total, hits))
    rest = np.maximum(total_ - n_, 1)
    share, rest_share = x_ / np.maximum(n_, 1), (hits_ - x_) / rest
    p_value = _holm(_fisher_two_sided(x_, total_, hits_, n_))
    change = 100.0 * (share - rest_share)
    flagged = (np.abs(change) > threshold_pp) & (p_value < SKEW_ALPHA) & (total_ > n_)
    return [
        {"column": column, "group": key, "label": label, "rows": int(x_[i])}
        | {"group_rows": int(n_[i]), "share": float(share[i]), "rest_share": float(rest_share[i])}
        | {"change_pp": float(change[i]), "p_value": float(p_value[i])}
        for i, (column, key, label) in enumerate(cells)
        if flagged[i]
    ]


def _fisher_two_sided(
    x: np.ndarray, total: np.ndarray, hits: np.ndarray, drawn: np.ndarray
) -> np.ndarray:
    """Two-sided Fisher exact p-values (twice the smaller tail), vectorised."""
    lower = hypergeom.cdf(x, total, hits, drawn)
    upper = hypergeom.sf(x - 1, total, hits, drawn)
    return np.asarray(np.minimum(1.0, 2.0 * np.minimum(lower, upper)))


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of p-values (controls the family-wise error rate)."""
    order = np.argsort(p, kind="stable")
    factors = p.size - np.arange(p.size)
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * factors))
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out
