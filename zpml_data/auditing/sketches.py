"""Bounded, mergeable summaries of a stream of values.

Each summary takes batches of values and keeps a fixed amount of state, and
what it reports depends only on the multiset of values seen, never on their
order or on how they were split into batches (the Misra–Gries summary by
itself does depend on order; :attr:`HeavyHitters.guaranteed` says above
which count its answer does not).
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd

# LogSketch: buckets of relative width 2%, from 1e-12 up to float64's largest value.
_GAMMA = 1.02
_SMALLEST = 1e-12  # closer to zero than this is zero, for the median and MAD
_HALF_WIDTH = math.ceil((math.log(sys.float_info.max) - math.log(_SMALLEST)) / math.log(_GAMMA)) + 2


class LogSketch:
    """Counts of finite values in logarithmic buckets: quantiles within about 1%.

    Bucket ``k > 0`` holds values in ``(s·γ^(k-2), s·γ^(k-1)]`` (``s`` the
    smallest magnitude told apart from zero), ``-k`` the same values negated,
    and bucket 0 the values near zero; keys ordered as the values are.
    Memory is fixed (about 600 KiB) whatever the number of values.
    """

    def __init__(self) -> None:
        self.counts = np.zeros(2 * _HALF_WIDTH + 1, dtype=np.int64)

    def add(self, values: np.ndarray) -> None:
        """Count a batch of finite values."""
        magnitude = np.abs(values)
        with np.errstate(divide="ignore", over="ignore"):
            keys = np.ceil(np.log(magnitude / _SMALLEST) / math.log(_GAMMA)) + 1
        keys = np.where(magnitude < _SMALLEST, 0, np.clip(keys, 1, _HALF_WIDTH)).astype(np.int64)
        keys = np.where(values < 0, -keys, keys)
        self.counts += np.bincount(keys + _HALF_WIDTH, minlength=self.counts.size)

    def merge(self, other: LogSketch) -> None:
        """Add the counts of another sketch."""
        self.counts += other.counts

    @property
    def total(self) -> int:
        """How many values were counted."""
        return int(self.counts.sum())

    def _centres(self, keys: np.ndarray) -> np.ndarray:
        exponent = math.log(_SMALLEST) + (np.abs(keys) - 1.5) * math.log(_GAMMA)
        magnitude = np.exp(np.minimum(exponent, math.log(sys.float_info.max)))
        return np.where(keys == 0, 0.0, np.sign(keys) * magnitude)

    def quantile(self, q: float) -> float:
        """The ``q``-quantile (0 ≤ q ≤ 1) within about 1% of its magnitude; NaN when empty."""
        return _weighted_quantile(self._occupied(), q)

    def median_and_mad(self) -> tuple[float, float]:
        """The median and the median absolute deviation from it (NaN, NaN when empty)."""
        centres, counts = self._occupied()
        median = _weighted_quantile((centres, counts), 0.5)
        deviation = np.abs(centres - median)
        order = np.argsort(deviation, kind="stable")
        return median, _weighted_quantile((deviation[order], counts[order]), 0.5)

    def _occupied(self) -> tuple[np.ndarray, np.ndarray]:
        index = np.flatnonzero(self.counts)
        return self._centres(index - _HALF_WIDTH), self.counts[index]


def _weighted_quantile(points: tuple[np.ndarray, np.ndarray], q: float) -> float:
    """The ``q``-quantile of sorted ``values`` repeated ``counts`` times (NaN when empty)."""
    values, counts = points
    if not counts.size:
        return math.nan
    cumulative = np.cumsum(counts)
    rank = min(int(q * cumulative[-1]), int(cumulative[-1]) - 1)
    return float(values[np.searchsorted(cumulative, rank, side="right")])


class HeavyHitters:
    """The Misra–Gries summary of the most frequent values, merged batch by batch.

    Keeps at most ``size`` values with under-estimated counts. Every value
    seen more than :attr:`guaranteed` times is among them, whatever the order
    of the rows and the batch size; values seen fewer times may or may not be.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.values = np.empty(0, dtype=np.float64)
        self.counts = np.empty(0, dtype=np.int64)
        self.total = 0

    def add(self, values: np.ndarray) -> None:
        """Count a batch of values, then drop all but the ``size`` most frequent."""
        self.total += values.size
        distinct = DistinctValues(values)
        self._absorb(distinct.sorted, np.bincount(distinct.rank, minlength=distinct.sorted.size))

    def merge(self, other: HeavyHitters) -> None:
        """Add the summary of other rows (of the same ``size``).

        Misra–Gries summaries merge with the same guarantee (every value seen
        more than :attr:`guaranteed` times in all the rows is kept), though
        not always to the same counts as one summary over all the rows.
        """
        self.total += other.total
        self._absorb(other.values, other.counts)

    def _absorb(self, values: np.ndarray, counts: np.ndarray) -> None:
        """Add distinct values with counts, then drop all but the ``size`` most frequent."""
        merged, inverse = np.unique(np.concatenate([self.values, values]), return_inverse=True)
        counts = np.bincount(
            inverse, weights=np.concatenate([self.counts, counts]), minlength=merged.size
        ).astype(np.int64)
        if merged.size > self.size:
            # The (size+1)-th largest count; when at most ``size`` counts exceed 1 it is 1,
            # which spares partitioning the mostly-unique values of continuous data.
            repeated = counts[counts > 1]
            cut = 1
            if repeated.size > self.size:
                cut = np.partition(repeated, -(self.size + 1))[-(self.size + 1)]
            counts -= cut
        keep = counts > 0
        self.values, self.counts = merged[keep], counts[keep]

    @property
    def guaranteed(self) -> float:
        """Every value seen more often than this is among :attr:`values`."""
        return self.total / (self.size + 1)


class DistinctValues:
    """One batch's distinct values, found by hashing: no sort of the rows.

    Not a summary of the stream like the classes above, but what the
    summaries of a batch are counted from. ``rank`` gives each row's value
    as its position among the sorted distinct values ``sorted`` (NaN last,
    as :func:`numpy.unique` puts it); a grouping's (group, value) counts are
    then one bincount (:meth:`by_group`).
    """

    def __init__(self, values: np.ndarray) -> None:
        # -0.0 and 0.0 are one value, as == says; NaN is a value of its own, not -1.
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        order = np.argsort(uniques)
        ranks = np.empty(order.size, dtype=np.int64)
        ranks[order] = np.arange(order.size)
        self.sorted, self.rank = uniques[order], ranks[codes]

    def by_group(self, index: np.ndarray, groups: int) -> tuple[np.ndarray, ...]:
        """Distinct (group, value) pairs sorted by group then value, with their counts.

        Args:
            index: Each row's group, ``0 <= index < groups``.
            groups: How many groups.

        Returns:
            ``(group, value, count)``: one entry per pair that occurs.
        """
        size = self.sorted.size
        if not size:
            return np.empty(0, dtype=np.int64), self.sorted, np.empty(0, dtype=np.int64)
        if groups * size <= max(4 * index.size, 2**16):  # a dense table of counts is small
            table = np.bincount(index * size + self.rank, minlength=groups * size)
            pairs = np.flatnonzero(table)
            counts = table[pairs]
        else:
            pairs, counts = np.unique(index * size + self.rank, return_counts=True)
        return pairs // size, self.sorted[pairs % size], counts
