"""The epoch plan: which rows each batch holds, for one seed, epoch and rank.

Pure arithmetic over the manifest's row groups; nothing here reads a file, so
every process (each rank, each DataLoader worker) computes the same plan.

The epoch is one stream of positions ``0 .. N-1`` over all rows:

* Row groups are ordered shard by shard (shards permuted, then the groups of
  each shard permuted), and cut into windows of ``window`` consecutive groups.
  Rows are permuted within each window, so memory is bounded by the window.
* Global batch ``g`` holds positions ``[g*B, (g+1)*B)``. Rank ``r`` takes the
  contiguous block of global batches ``r*K .. r*K + K - 1``, so a rank reads
  only its share of the files. Slots past the last real batch are padding:
  rows from the start of the stream, repeated only so that every rank has
  ``K`` batches (DDP needs equal counts), fewer than ``world_size * B`` rows.
* With ``balance``, the stream interleaves the labels so that every prefix
  holds each label in proportion to its share of the dataset (a divisor
  method, so the counts never decrease as the prefix grows); the ``j``-th row
  of a label is that label's ``j``-th row in the unbalanced stream.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np

from zpml_data.shards.manifest import Manifest
from zpml_data.status import STATUS_LABELS

_LABELS = len(STATUS_LABELS)
# The true count of a label in a prefix lies within 6 of the proportional one;
# candidates are taken this far either side of it.
_SLACK = 8


@dataclasses.dataclass(frozen=True)
class PlanOptions:
    """What, besides the epoch, decides the order of rows."""

    batch_size: int
    shuffle: bool
    seed: int
    drop_last: bool
    window: int  # row groups per shuffle window
    balance: bool
    rank: int
    world_size: int


class Layout(NamedTuple):
    """The row groups of a shard directory, in manifest order."""

    shard: np.ndarray  # [G] index of the shard file holding each group
    group: np.ndarray  # [G] index of the group inside its file
    rows: np.ndarray  # [G] rows per group
    status_counts: np.ndarray  # [G, 7] cells per label

    @classmethod
    def of(cls, manifest: Manifest) -> Layout:
        """The row-group geometry the manifest states."""
        entries = [
            (s, g, group.rows, [group.status_counts.get(label, 0) for label in STATUS_LABELS])
            for s, shard in enumerate(manifest.shards)
            for g, group in enumerate(shard.row_groups)
        ]
        if not entries:
            empty = np.zeros(0, np.int64)
            return cls(empty, empty, empty, np.zeros((0, _LABELS), np.int64))
        shard, group, rows, counts = zip(*entries, strict=True)
        return cls(
            np.array(shard, np.int64),
            np.array(group, np.int64),
            np.array(rows, np.int64),
            np.array(counts, np.int64).reshape(-1, _LABELS),
        )


class Segment(NamedTuple):
    """Rows ``lo:hi`` of window ``window``'s permuted order, or of its rows of ``label``."""

    window: int
    lo: int
    hi: int
    label: int | None = None


class EpochPlan:
    """The batches of one epoch on one rank, as segments of shuffle windows."""

    def __init__(self, layout: Layout, options: PlanOptions, epoch: int) -> None:
        self.layout, self.options, self.epoch = layout, options, epoch
        order = self._group_order(np.random.default_rng([options.seed, epoch]))
        self.windows = [order[i : i + options.window] for i in range(0, len(order), options.window)]
        window_rows = np.array([layout.rows[w].sum() for w in self.windows], np.int64)
        self.window_start = np.concatenate([[0], np.cumsum(window_rows)])
        self.rows = int(self.window_start[-1])
        batch, world = options.batch_size, options.world_size
        if options.drop_last:
            self.real_batches = self.rows // (batch * world) * world
        else:
            self.real_batches = math.ceil(self.rows / batch)
        self.batches_per_rank = math.ceil(self.real_batches / world)
        if options.balance:
            per_window = [layout.status_counts[w].sum(axis=0) for w in self.windows]
            counts = np.array(per_window, np.int64).reshape(-1, _LABELS)
            self.label_start = np.concatenate([np.zeros((1, _LABELS), np.int64), counts.cumsum(0)])
            self.label_totals = [int(n) for n in self.label_start[-1]]

    def _group_order(self, rng: np.random.Generator) -> np.ndarray:
        shards = np.unique(self.layout.shard)
        if not self.options.shuffle:
            return np.arange(len(self.layout.shard))
        groups = [np.flatnonzero(self.layout.shard == s) for s in rng.permutation(shards)]
        return np.concatenate([rng.permutation(g) for g in groups] or [np.zeros(0, np.int64)])

    def window_permutation(self, window: int) -> np.ndarray:
        """The order of window ``window``'s rows (indices into its groups, concatenated)."""
        rows = int(self.window_start[window + 1] - self.window_start[window])
        if not self.options.shuffle:
            return np.arange(rows)
        return np.random.default_rng([self.options.seed, self.epoch, window]).permutation(rows)

    def batch_range(self, k: int) -> tuple[int, int]:
        """Stream positions ``[start, stop)`` of this rank's batch ``k``; may run past the end."""
        g = self.options.rank * self.batches_per_rank + k
        batch = self.options.batch_size
        if g < self.real_batches:
            return g * batch, min((g + 1) * batch, self.rows)
        start = (g - self.real_batches) * batch  # padding: the stream again from its start
        return start, start + batch

    def segments(self, k: int) -> list[Segment]:
        """Where the rows of this rank's batch ``k`` lie, in batch order."""
        start, stop = self.batch_range(k)
        pieces = []
        while start < stop:  # split at the end of the stream (padding wraps around)
            begin = start % self.rows
            end = min(begin + stop - start, self.rows)
            pieces.append((begin, end))
            start += end - begin
        split = self._balanced if self.options.balance else self._plain
        return [segment for begin, end in pieces for segment in split(begin, end)]

    def _plain(self, start: int, stop: int) -> list[Segment]:
        return _cut(self.window_start, start, stop, None)

    def _balanced(self, start: int, stop: int) -> list[Segment]:
        before, upto = self.label_prefix(start), self.label_prefix(stop)
        return [
            segment
            for label in range(_LABELS)
            for segment in _cut(self.label_start[:, label], before[label], upto[label], label)
        ]

    def label_prefix(self, position: int) -> list[int]:
        """Rows of each label among the first ``position`` of the balanced stream.

        The ``j``-th row of label ``L`` has the key ``(j + 1/2) / n_L``; the
        stream orders rows by key, then by label code.
        """
        totals, rows = self.label_totals, self.rows
        if position >= rows:
            return list(totals)
        approx = [position * n // rows for n in totals]
        base = [max(0, a - _SLACK) for a in approx]
        keys, labels = [], []
        for label, n in enumerate(totals):
            j = np.arange(base[label], min(n, approx[label] + _SLACK + 1))
            keys.append((2 * j + 1) / (2 * n) if n else j.astype(float))
            labels.append(np.full(len(j), label))
        key, label_of = np.concatenate(keys), np.concatenate(labels)
        need = position - sum(base)
        assert 0 <= need <= len(key), "balanced stream: candidate window too small"
        taken = label_of[np.lexsort((label_of, key))[:need]]
        return [b + int(np.count_nonzero(taken == label)) for label, b in enumerate(base)]


def _cut(starts: np.ndarray, lo: int, hi: int, label: int | None) -> list[Segment]:
    """Split ``[lo, hi)`` of a stream whose window ``w`` begins at ``starts[w]``."""
    segments = []
    while lo < hi:
        window = int(np.searchsorted(starts, lo, side="right")) - 1
        end = min(hi, int(starts[window + 1]))
        segments.append(Segment(window, lo - int(starts[window]), end - int(starts[window]), label))
        lo = end
    return segments
