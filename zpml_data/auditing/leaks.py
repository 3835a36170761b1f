"""Inputs that leak the target: equal to it, its status in another spelling, or its proxy.

A model shown its own target learns nothing it can use at prediction time.
Real exports make that easy: a survival table's time column and its event
flag end up among the default inputs of the target they define. The first
pass keeps, per input column and in one vectorised sweep per batch:

* how many finite rows have an input equal to the value;
* the joint counts of (status code, input value) while the input has few
  distinct values (an event flag, a censoring indicator);
* a bounded sample of the finite rows, the same whatever the batch size or
  the order of the partitions: the rows with the smallest hash of their
  content (a bottom-k sample), for a rank correlation with the value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from scipy.stats import spearmanr

from zpml_data.checks.rules import float_column
from zpml_data.status import STATUS_LABELS

SAMPLE_ROWS = 4096  # finite rows kept for the rank correlation
MAX_LEVELS = 16  # distinct values an input may take and still restate the status
LEAK_SHARE = 0.99  # equal on, or agreeing with the status on, this share of rows
LEAK_RHO = 0.99  # |Spearman| of input and finite value on the sample
MIN_LEAK_ROWS = 20  # less evidence than this is no evidence

_CODES = len(STATUS_LABELS)
_GOLDEN, _MIX1, _MIX2 = (
    np.uint64(c) for c in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, vectorised (uint64 arithmetic wraps)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def _row_hash(values: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """A hash of each row's value and inputs: the sample's priority (content, not position).

    The value is mixed before the first input is folded in (XOR-ing the raw
    bits would let rows whose value and first input differ by the same bits
    collide); one multiply and shift folds in each input; the finaliser mixes
    the whole.
    """
    digest = _mix(np.ascontiguousarray(values).view(np.uint64))
    for column in inputs.T:
        digest ^= np.ascontiguousarray(column).view(np.uint64)
        digest *= _MIX1
        digest ^= digest >> np.uint64(29)
    return _mix(digest)


class LeakTally:
    """Running totals, per input column, of the evidence that it leaks the target."""

    def __init__(self, inputs: tuple[str, ...]) -> None:
        self.inputs = inputs
        count = len(inputs)
        self.equal = np.zeros(count, dtype=np.int64)  # finite rows: input == value
        self.paired = np.zeros(count, dtype=np.int64)  # finite rows with a finite input
        # Per input: input value -> rows per status code; None past MAX_LEVELS values.
        self.levels: list[dict[float, np.ndarray] | None] = [{} for _ in inputs]
        self.priority = np.empty(0, dtype=np.uint64)
        self.sample = np.empty((0, count + 1))  # the value, then the inputs

    def add(
        self, batch: pa.RecordBatch, values: np.ndarray, codes: np.ndarray, finite: np.ndarray
    ) -> None:
        """Count one batch: ``finite`` marks its finite rows (status and value)."""
        if not self.inputs:
            return
        matrix = np.empty((batch.num_rows, len(self.inputs)), order="F")  # columns contiguous
        for i, name in enumerate(self.inputs):
            matrix[:, i] = float_column(batch.column(name))  # nulls read as NaN
            self._add_levels(i, matrix[:, i], codes)
            self.equal[i] += np.count_nonzero((matrix[:, i] == values) & finite)
            self.paired[i] += np.count_nonzero(np.isfinite(matrix[:, i]) & finite)
        # Every row's priority (cheaper than gathering the finite rows first); only finite
        # rows below the sample's largest kept priority, once it is full, can enter it.
        priority = _row_hash(values, matrix)
        candidates = finite
        if self.priority.size == SAMPLE_ROWS:
            candidates = candidates & (priority < self.priority[-1])
        chosen = np.flatnonzero(candidates)
        if chosen.size > SAMPLE_ROWS:  # only the batch's own bottom-k can enter the sample
            # Ties at the k-th priority all stay, in row order, as the stable sort expects.
            kth = np.partition(priority[chosen], SAMPLE_ROWS - 1)[SAMPLE_ROWS - 1]
            chosen = chosen[priority[chosen] <= kth]
        self._add_sample(priority[chosen], np.column_stack([values[chosen], matrix[chosen]]))

    def _add_levels(self, i: int, column: np.ndarray, codes: np.ndarray) -> None:
        table = self.levels[i]
        if table is None:
            return
        # Most inputs are measurements with many values: a glance at the first rows says so.
        if np.unique(column[: 4 * MAX_LEVELS]).size > MAX_LEVELS:
            self.levels[i] = None
            return
        known = (codes >= 0) & ~np.isnan(column)
        levels, which = np.unique(column[known], return_inverse=True)
        if levels.size > MAX_LEVELS or len(set(table) | set(levels.tolist())) > MAX_LEVELS:
            self.levels[i] = None
            return
        counts = np.bincount(
            which * _CODES + codes[known].astype(np.int64), minlength=levels.size * _CODES
        ).reshape(levels.size, _CODES)
        for level, row in zip(levels.tolist(), counts, strict=True):
            table[level] = table.get(level, 0) + row

    def _add_sample(self, priority: np.ndarray, rows: np.ndarray) -> None:
        priority = np.concatenate([self.priority, priority])
        rows = np.concatenate([self.sample, rows])
        # Kept sorted by priority; equal priorities are equal rows, so which copy
        # is kept changes nothing.
        keep = np.argsort(priority, kind="stable")[:SAMPLE_ROWS]
        priority, rows = priority[keep], rows[keep]
        self.priority, self.sample = priority, rows

    def merge(self, other: LeakTally) -> None:
        """Add the totals of other rows (exact: the sample is the same bottom-k)."""
        if not self.inputs:
            return
        self.equal += other.equal
        self.paired += other.paired
        for i, theirs in enumerate(other.levels):
            mine = self.levels[i]
            if mine is None or theirs is None or len(set(mine) | set(theirs)) > MAX_LEVELS:
                self.levels[i] = None
                continue
            for level, row in theirs.items():
                mine[level] = mine.get(level, 0) + row
        self._add_sample(other.priority, other.sample)

    def findings(self) -> list[dict[str, Any]]:
        """Each leaking input with its evidence, JSON-ready (at most one entry per input)."""
        found = []
        for i, name in enumerate(self.inputs):
            evidence = self._equal(i) or self._status(i) or self._monotone(i)
            if evidence is not None:
                found.append({"column": name} | evidence)
        return found

    def _equal(self, i: int) -> dict[str, Any] | None:
        paired, equal = int(self.paired[i]), int(self.equal[i])
        constant = self.levels[i] is not None and len(self.levels[i] or ()) <= 1
        if paired < MIN_LEAK_ROWS or equal < LEAK_SHARE * paired or constant:
            return None  # a constant input says nothing, even where the value is that constant
        return {"evidence": "equals the target", "rows": equal, "of": paired}

    def _status(self, i: int) -> dict[str, Any] | None:
        """The status is a function of the input on LEAK_SHARE of rows, one level per label."""
        table = self.levels[i]
        if not table:
            return None
        counts = np.array([table[level] for level in sorted(table)])
        labels = counts.argmax(axis=1)
        agree, rows = int(counts.max(axis=1).sum()), int(counts.sum())
        present = int((counts.sum(axis=0) > 0).sum())
        one_each = len(set(labels.tolist())) == len(labels)
        if rows < MIN_LEAK_ROWS or present < 2 or not one_each or agree < LEAK_SHARE * rows:
            return None
        mapping = {
            f"{level:g}": STATUS_LABELS[c]
            for level, c in zip(sorted(table), labels.tolist(), strict=True)
        }
        return {"evidence": "restates the status", "mapping": mapping, "rows": agree, "of": rows}

    def _monotone(self, i: int) -> dict[str, Any] | None:
        value, column = self.sample[:, 0], self.sample[:, i + 1]
        both = np.isfinite(column)
        if both.sum() < MIN_LEAK_ROWS or np.ptp(column[both]) == 0 or np.ptp(value[both]) == 0:
            return None
        rho = float(spearmanr(value[both], column[both]).statistic)
        if not abs(rho) >= LEAK_RHO:
            return None
        return {"evidence": "predicts the finite value", "spearman": rho, "sample": int(both.sum())}
