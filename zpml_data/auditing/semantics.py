"""Running totals of one target's group-level semantics, over two streaming passes.

The first pass (beside the row checks) keeps, per grouping (the whole target
and every ``--group-by`` column) and group, the censoring limits in use and
the distinct censoring bounds with their rows (:mod:`.censoring`: detection
limits or per-row censoring), over the whole target a quantile sketch and the
heavy hitters of the finite values, and the evidence of leaking inputs
(:mod:`.leaks`). That names the candidates: the values a heap or a sentinel
could sit on. The second pass
counts the finite rows at each candidate exactly, with the nearest distinct
values on either side, and fills a histogram per group for the HTML report.
Both passes keep bounded state, and both give the same totals whatever the
row order or batch size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from zpml_data.auditing.censoring import CensoredRows, Censoring, GroupBounds, batch_bounds
from zpml_data.auditing.leaks import LeakTally
from zpml_data.auditing.sketches import DistinctValues, HeavyHitters, LogSketch
from zpml_data.encode import plain_column
from zpml_data.spec import CensoringMode
from zpml_data.status import Status

WHOLE = "all"  # the one group of the whole-target grouping
NEIGHBOURS = 5  # distinct values on each side of a candidate whose counts are compared
BINS = 40  # histogram bins per group
FAR_MADS = 10.0  # a sentinel lies more than this many (scaled) MADs from the median
MIN_ROWS = 20  # fewer rows at one value are never a heap or a sentinel

# The group of rows whose group column is null: not the text "null", which is a group of its own.
NULL_GROUP = "(null)"

Grouping = str | None  # a group-by column; None is the whole target


def group_index(column: pa.Array | None, rows: int) -> tuple[list[str], np.ndarray]:
    """Each row's group as an index into distinct group keys (:data:`NULL_GROUP` for nulls).

    Args:
        column: The group column of a batch, or ``None`` for the whole target.
        rows: Rows in the batch.

    Returns:
        ``(keys, index)``: distinct keys and, per row, the position of its key.
    """
    if column is None:
        return [WHOLE], np.zeros(rows, dtype=np.int64)
    column = plain_column(column)
    encoded = column if pa.types.is_dictionary(column.type) else column.dictionary_encode()
    names = [NULL_GROUP if v is None else str(v) for v in encoded.dictionary.to_pylist()]
    names.append(NULL_GROUP)
    indices = encoded.indices.fill_null(len(names) - 1).to_numpy(zero_copy_only=False)
    keys, remap = np.unique(np.array(names, dtype=object), return_inverse=True)
    return [str(k) for k in keys], remap[indices.astype(np.int64)]


class Neighbours:
    """Exact count of finite rows at one value, and of the nearest distinct values around it."""

    def __init__(self, point: float) -> None:
        self.point = point
        self.count = 0
        self.below = (np.empty(0), np.empty(0, dtype=np.int64))
        self.above = (np.empty(0), np.empty(0, dtype=np.int64))

    def add(self, values: np.ndarray, counts: np.ndarray) -> None:
        """Add one group's distinct finite values of a batch (sorted) and their counts."""
        left = int(np.searchsorted(values, self.point, side="left"))
        right = int(np.searchsorted(values, self.point, side="right"))
        self.count += int(counts[left:right].sum())
        start = max(left - NEIGHBOURS, 0)
        self.below = _nearest(self.below, values[start:left], counts[start:left], last=True)
        stop = right + NEIGHBOURS
        self.above = _nearest(self.above, values[right:stop], counts[right:stop], last=False)

    def merge(self, other: Neighbours) -> None:
        """Add the counts of other rows around the same value (exact: the nearest stay nearest)."""
        self.count += other.count
        self.below = _nearest(self.below, *other.below, last=True)
        self.above = _nearest(self.above, *other.above, last=False)

    @property
    def expected(self) -> float:
        """Rows expected at the value: the median count of the nearest values on both sides.

        The median, so that another heap among the neighbours (a sentinel
        beside a heaped limit) does not hide this one.
        """
        counts = np.concatenate([self.below[1], self.above[1]])
        return float(np.median(counts)) if counts.size else 0.0


def _nearest(
    kept: tuple[np.ndarray, np.ndarray], values: np.ndarray, counts: np.ndarray, last: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Merge distinct values with counts; keep the NEIGHBOURS closest (the last or the first)."""
    merged, inverse = np.unique(np.concatenate([kept[0], values]), return_inverse=True)
    total = np.bincount(inverse, weights=np.concatenate([kept[1], counts]), minlength=merged.size)
    window = slice(-NEIGHBOURS, None) if last else slice(None, NEIGHBOURS)
    return merged[window], total[window].astype(np.int64)


@dataclass
class Histogram:
    """Finite values per group in BINS equal bins over ``[low, high]``, plus those outside."""

    low: float
    high: float
    # group key -> BINS + 2 counts: below the range, the bins, above the range
    counts: dict[str, np.ndarray] = field(default_factory=dict)

    def merge(self, other: Histogram) -> None:
        """Add the counts of other rows over the same bins."""
        for key, row in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + row

    def add(
        self, keys: list[str], index: np.ndarray, values: np.ndarray, counts: np.ndarray
    ) -> None:
        """Count one batch's finite values of a grouping, given as its distinct (group,
        value) pairs with how many rows hold each."""
        scaled = np.floor((values - self.low) / (self.high - self.low) * BINS)
        slot = np.clip(np.where(values == self.high, BINS - 1, scaled), -1, BINS) + 1
        table = np.bincount(
            index * (BINS + 2) + slot.astype(np.int64),
            weights=counts,
            minlength=len(keys) * (BINS + 2),
        ).reshape(len(keys), BINS + 2)
        for key, row in zip(keys, table.astype(np.int64), strict=True):
            if row.any():
                self.counts[key] = self.counts.get(key, 0) + row


class SemanticTally:
    """One target's group-level running totals over the first and second pass."""

    def __init__(
        self,
        groups: tuple[str, ...],
        inputs: tuple[str, ...] = (),
        censoring: CensoringMode = "auto",
    ) -> None:
        self.censoring: CensoringMode = censoring  # what the spec declares, or "auto"
        self.leaks = LeakTally(inputs)
        self.groupings: list[Grouping] = [None, *groups]
        self.bounds: dict[Grouping, dict[str, GroupBounds]] = {g: {} for g in self.groupings}
        self.sketch = LogSketch()
        self.hitters = HeavyHitters()
        self.points: dict[Grouping, dict[str, list[Neighbours]]] = {}  # heap candidates
        self.sentinel_points: list[Neighbours] = []
        self.histograms: dict[Grouping, Histogram] = {}
        # Per grouping and group: the lowest and highest finite value (second pass).
        self.extremes: dict[Grouping, dict[str, tuple[float, float]]] = {}

    def add_first(self, batch: pa.RecordBatch, values: np.ndarray, codes: np.ndarray) -> None:
        """First pass: censoring bounds per group; sketch and heavy hitters of finite values."""
        is_finite = (codes == Status.FINITE) & np.isfinite(values)
        finite = values[is_finite]
        self.sketch.add(finite)
        self.hitters.add(finite)
        self.leaks.add(batch, values, codes, is_finite)
        censored = CensoredRows(values, codes)
        for grouping, table in self.bounds.items():
            column = None if grouping is None else batch.column(grouping)
            keys, index = group_index(column, batch.num_rows)
            lower, upper, distinct = batch_bounds(index, censored, len(keys))
            for key, low, high, found in zip(keys, lower, upper, distinct, strict=True):
                if found is None or found[0].size:
                    table.setdefault(key, GroupBounds()).merge(low, high, found)

    def merge_first(self, other: SemanticTally) -> None:
        """Add the first-pass totals of other rows (exact, but for the heavy hitters' counts)."""
        self.sketch.merge(other.sketch)
        self.hitters.merge(other.hitters)
        self.leaks.merge(other.leaks)
        for grouping, table in other.bounds.items():
            for key, theirs in table.items():
                mine = self.bounds[grouping].setdefault(key, GroupBounds())
                mine.merge(theirs.lower, theirs.upper, theirs.as_batch())

    def merge_second(self, other: SemanticTally) -> None:
        """Add the second-pass counts of other rows, planned alike (:meth:`plan_second`)."""
        for grouping, table in other.points.items():
            for key, points in table.items():
                for mine, theirs in zip(self.points[grouping][key], points, strict=True):
                    mine.merge(theirs)
        for mine, theirs in zip(self.sentinel_points, other.sentinel_points, strict=True):
            mine.merge(theirs)
        for grouping, histogram in other.histograms.items():
            self.histograms[grouping].merge(histogram)
        for grouping, extremes in other.extremes.items():
            for key, (low, high) in extremes.items():
                self._widen(grouping, key, low, high)

    def _widen(self, grouping: Grouping, key: str, low: float, high: float) -> None:
        extremes = self.extremes.setdefault(grouping, {})
        mine = extremes.get(key, (low, high))
        extremes[key] = (min(mine[0], low), max(mine[1], high))

    def beyond_possible(self, limits: dict[Grouping, dict[str, tuple[float, float]]]) -> bool:
        """Whether some group's finite values reach beyond its limits (after the second pass).

        False means no row can fail ``finite_beyond_limit``, so the limits
        alone ask for no pass over the rows.
        """
        return any(
            low < lower or high > upper
            for grouping, table in limits.items()
            for key, (lower, upper) in table.items()
            for low, high in [self.extremes.get(grouping, {}).get(key, (lower, upper))]
        )

    def sentinel_candidates(self) -> list[float]:
        """Frequent finite values far outside the body (median ± FAR_MADS scaled MADs)."""
        median, mad = self.sketch.median_and_mad()
        possible = self.hitters.counts + self.hitters.guaranteed >= MIN_ROWS
        far = np.abs(self.hitters.values - median) > FAR_MADS * 1.4826 * mad
        return [float(v) for v in self.hitters.values[possible & far]]

    def plan_second(self) -> bool:
        """Set up the second pass: its candidates and histogram range; False if nothing to do."""
        if not self.sketch.total:
            return False
        for grouping, table in self.bounds.items():
            self.points[grouping] = {
                key: [Neighbours(v) for v in bounds.candidates(self.censoring)]
                for key, bounds in table.items()
            }
        taken = {n.point for n in self.points[None].get(WHOLE, [])}
        self.sentinel_points = [Neighbours(v) for v in self.sentinel_candidates() if v not in taken]
        low, high = self._histogram_range()
        if math.isfinite(high - low):  # else values near float64's limits: no histogram
            self.histograms = {g: Histogram(low, high) for g in self.groupings}
        return True

    def _histogram_range(self) -> tuple[float, float]:
        """The range the histograms show, padded by 5%.

        Between the limits where the target has both (finite values belong
        there); otherwise the 0.5% to 99.5% quantiles, but no further than
        Tukey's far-out fences (3 IQR beyond the quartiles), so that a
        sentinel does not squash the body of the values into one bin.
        """
        q1, q3 = self.sketch.quantile(0.25), self.sketch.quantile(0.75)
        low = max(self.sketch.quantile(0.005), q1 - 3 * (q3 - q1))
        high = min(self.sketch.quantile(0.995), q3 + 3 * (q3 - q1))
        lower = [b.lower for b in self.bounds[None].values() if math.isfinite(b.lower)]
        upper = [b.upper for b in self.bounds[None].values() if math.isfinite(b.upper)]
        if lower and upper and lower[0] < upper[0]:
            low, high = lower[0], upper[0]
        with np.errstate(over="ignore"):
            pad = 0.05 * (high - low) or max(abs(low), 1.0) * 0.05
            return low - pad, high + pad

    def add_second(self, batch: pa.RecordBatch, values: np.ndarray, codes: np.ndarray) -> None:
        """Second pass: exact counts around every candidate; the histograms; the extremes."""
        finite = (codes == Status.FINITE) & np.isfinite(values)
        distinct = DistinctValues(values[finite])
        for grouping in self.groupings:
            column = None if grouping is None else batch.column(grouping)
            keys, index = group_index(column, batch.num_rows)
            groups, kept, counts = distinct.by_group(index[finite], len(keys))
            if self.histograms:
                self.histograms[grouping].add(keys, groups, kept, counts)
            points = {key: list(p) for key, p in self.points[grouping].items()}
            if grouping is None:
                points[WHOLE] = points.get(WHOLE, []) + self.sentinel_points
            # Only groups with censored rows have limits, so only they need the extremes.
            bounded = self.bounds[grouping]
            starts = np.searchsorted(groups, np.arange(len(keys) + 1))
            for g in [g for g, key in enumerate(keys) if key in bounded or key in points]:
                key, lo, hi = keys[g], starts[g], starts[g + 1]
                if lo == hi:
                    continue
                if key in bounded:
                    self._widen(grouping, key, float(kept[lo]), float(kept[hi - 1]))
                for point in points.get(key, ()):
                    point.add(kept[lo:hi], counts[lo:hi])

    def limits(self) -> dict[Grouping, dict[str, tuple[float, float]]]:
        """Per grouping and group with detection limits: (lower limit, upper limit).

        A side without censored rows is unbounded (∓inf); a group whose
        censoring is per row has no limits and is left out.
        """
        return {
            grouping: {
                key: b.limits()
                for key, b in sorted(table.items())
                if b.censored and b.kind(self.censoring) == "limit"
            }
            for grouping, table in self.bounds.items()
        }

    def censoring_kinds(self) -> dict[Grouping, dict[str, Censoring]]:
        """Per grouping and group with censored rows: detection limits or per-row censoring."""
        return {
            grouping: {
                key: b.kind(self.censoring) for key, b in sorted(table.items()) if b.censored
            }
            for grouping, table in self.bounds.items()
        }

    def histogram_entries(self) -> list[dict[str, Any]]:
        """The histograms as report entries, one per grouping and group."""
        return [
            {"column": grouping, "group": key, "low": hist.low, "high": hist.high}
            | {"counts": row[1:-1].tolist(), "below": int(row[0]), "above": int(row[-1])}
            for grouping, hist in self.histograms.items()
            for key, row in sorted(hist.counts.items())
        ]

    def describe_body(self) -> dict[str, Any]:
        """The median and MAD of the finite values (from the sketch, within about 1%)."""
        median, mad = self.sketch.median_and_mad()
        return {"median": median, "mad": mad}
