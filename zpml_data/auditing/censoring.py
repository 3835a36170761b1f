"""Censoring bounds per group, and whether they are detection limits or per-row censoring.

A detection limit is shared: a lab reports ``<0.5`` for every reading below
it, so a group has a few distinct bounds, each carried by many censored
rows. Per-row censoring (a survival time, a follow-up that ended) gives each
row its own bound. Only detection limits say where finite values cannot be
(``finite_beyond_limit``) or where a heap means a limit written as a number
(``heaping_at_limit``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from zpml_data.auditing.sketches import DistinctValues
from zpml_data.spec import CensoringMode
from zpml_data.status import Status

Censoring = Literal["limit", "per_row"]

MAX_TRACKED = 64  # distinct censoring bounds counted per group; past that, per-row censoring
MAX_CANDIDATES = 8  # bounds per group where the second pass looks for a heap
LONELY_ROWS = 2  # a bound carried by at most this many rows is a row's own, not a limit

# One batch's bounds of one group: (distinct bounds, censored rows at each), or
# None for more than MAX_TRACKED of them.
BatchBounds = tuple[np.ndarray, np.ndarray] | None


@dataclass
class GroupBounds:
    """The censoring bounds of one group, and how many censored rows carry each."""

    lower: float = math.inf  # the smallest censored_below bound: the detection limit
    upper: float = -math.inf  # the largest censored_above bound: the saturation limit
    bounds: dict[float, int] = field(default_factory=dict)  # bound -> rows, up to MAX_TRACKED
    overflow: bool = False  # more than MAX_TRACKED distinct bounds

    @property
    def censored(self) -> bool:
        """Whether the group has censored rows with a finite bound."""
        return math.isfinite(self.lower) or math.isfinite(self.upper)

    def kind(self, mode: CensoringMode = "auto") -> Censoring:
        """Detection limits (a few bounds, each shared by many rows) or per-row censoring.

        Per row: more than MAX_TRACKED distinct bounds, or at least three with
        half the censored rows on bounds that LONELY_ROWS rows or fewer carry.
        A declared ``mode`` (the spec's ``censoring``) overrides the guess.
        """
        if mode != "auto":
            return mode
        if self.overflow:
            return "per_row"
        rows = np.array(list(self.bounds.values()), dtype=np.int64)
        lonely = int(rows[rows <= LONELY_ROWS].sum())
        return "per_row" if rows.size >= 3 and 2 * lonely >= rows.sum() else "limit"

    def limits(self) -> tuple[float, float]:
        """(lower limit, upper limit); a side without censored rows is unbounded (∓inf)."""
        lower = self.lower if math.isfinite(self.lower) else -math.inf
        upper = self.upper if math.isfinite(self.upper) else math.inf
        return lower, upper

    def candidates(self, mode: CensoringMode = "auto") -> list[float]:
        """Where a heap of finite values would mean a limit written as a number.

        The MAX_CANDIDATES bounds that most censored rows carry, in a group
        with detection limits (its extreme bounds past MAX_TRACKED); none
        where the censoring is per row: there is no limit to write.
        """
        if self.kind(mode) == "per_row":
            return []
        if self.overflow:
            return [b for b in (self.lower, self.upper) if math.isfinite(b)]
        busiest = sorted(self.bounds.items(), key=lambda item: (-item[1], item[0]))
        return sorted(bound for bound, _ in busiest[:MAX_CANDIDATES])

    def merge(self, lower: float, upper: float, distinct: BatchBounds) -> None:
        """Add other rows' extreme bounds and distinct bounds with their row counts."""
        self.lower = min(self.lower, float(lower))
        self.upper = max(self.upper, float(upper))
        if self.overflow:
            return
        if distinct is None:
            self.overflow, self.bounds = True, {}
            return
        for bound, rows in zip(distinct[0].tolist(), distinct[1].tolist(), strict=True):
            self.bounds[bound] = self.bounds.get(bound, 0) + int(rows)
        if len(self.bounds) > MAX_TRACKED:
            self.overflow, self.bounds = True, {}

    def as_batch(self) -> BatchBounds:
        """The distinct bounds in the form :meth:`merge` takes."""
        if self.overflow:
            return None
        found = sorted(self.bounds.items())
        return np.array([b for b, _ in found]), np.array([n for _, n in found], dtype=np.int64)


class CensoredRows:
    """A batch's censored rows with a finite bound, found once for every grouping."""

    def __init__(self, values: np.ndarray, codes: np.ndarray) -> None:
        finite = np.isfinite(values)
        self.below = finite & (codes == Status.CENSORED_BELOW)
        self.above = finite & (codes == Status.CENSORED_ABOVE)
        self.mask = self.below | self.above
        self.values = values
        self.bounds = DistinctValues(values[self.mask])


def batch_bounds(
    index: np.ndarray, censored: CensoredRows, groups: int
) -> tuple[np.ndarray, np.ndarray, list[BatchBounds]]:
    """Per group of a batch: lowest below-bound, highest above-bound, distinct bounds with rows."""
    lower = np.full(groups, math.inf)
    upper = np.full(groups, -math.inf)
    np.minimum.at(lower, index[censored.below], censored.values[censored.below])
    np.maximum.at(upper, index[censored.above], censored.values[censored.above])
    group_of, bound_of, rows = censored.bounds.by_group(index[censored.mask], groups)
    starts = np.searchsorted(group_of, np.arange(groups + 1))
    distinct: list[BatchBounds] = [
        (bound_of[start:stop], rows[start:stop]) if stop - start <= MAX_TRACKED else None
        for start, stop in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True)
    ]
    return lower, upper, distinct
