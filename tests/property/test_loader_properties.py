"""The loader's epoch plan: every row exactly once, equal batch counts, bounded repeats."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from zpml_train.data._plan import EpochPlan, Layout, PlanOptions


@st.composite
def layouts(draw: st.DrawFn) -> Layout:
    shards = draw(st.integers(1, 4))
    groups = [draw(st.lists(st.integers(1, 40), min_size=1, max_size=5)) for _ in range(shards)]
    rows = np.array([r for shard in groups for r in shard], np.int64)
    shard = np.array([s for s, shard in enumerate(groups) for _ in shard], np.int64)
    group = np.array([g for shard in groups for g in range(len(shard))], np.int64)
    counts = np.zeros((len(rows), 7), np.int64)
    for i, n in enumerate(rows):  # a random split of each group's rows over the labels
        cuts = np.sort(draw(st.lists(st.integers(0, int(n)), min_size=6, max_size=6)))
        counts[i] = np.diff(np.concatenate([[0], cuts, [n]]))
    return Layout(shard, group, rows, counts)


@settings(max_examples=200, deadline=None)
@given(
    layout=layouts(),
    batch_size=st.integers(1, 50),
    world_size=st.integers(1, 4),
    window=st.integers(1, 3),
    drop_last=st.booleans(),
    shuffle=st.booleans(),
    balance=st.booleans(),
    seed=st.integers(0, 2**32),
    epoch=st.integers(0, 5),
)
def test_every_row_once_and_equal_batches_per_rank(
    layout: Layout,
    batch_size: int,
    world_size: int,
    window: int,
    drop_last: bool,
    shuffle: bool,
    balance: bool,
    seed: int,
    epoch: int,
) -> None:
    rows = int(layout.rows.sum())
    seen: Counter[tuple[int, int, int]] = Counter()
    per_rank = set()
    for rank in range(world_size):
        options = PlanOptions(
            batch_size, shuffle, seed, drop_last, window, balance, rank, world_size
        )
        plan = EpochPlan(layout, options, epoch)
        per_rank.add(plan.batches_per_rank)
        for k in range(plan.batches_per_rank):
            segments = plan.segments(k)
            sizes = sum(s.hi - s.lo for s in segments)
            assert sizes == batch_size or (not drop_last and sizes < batch_size)
            for s in segments:
                w_rows = int(plan.window_start[s.window + 1] - plan.window_start[s.window])
                if s.label is None:
                    assert 0 <= s.lo < s.hi <= w_rows
                else:
                    in_window = int(layout.status_counts[plan.windows[s.window]][:, s.label].sum())
                    assert 0 <= s.lo < s.hi <= in_window
                seen.update(
                    (s.window, -1 if s.label is None else s.label, j) for j in range(s.lo, s.hi)
                )
    assert len(per_rank) == 1
    assert len(seen) == (
        rows // (batch_size * world_size) * batch_size * world_size if drop_last else rows
    )
    repeats = sum(seen.values()) - len(seen)
    assert 0 <= repeats < world_size * batch_size
    if drop_last or world_size == 1:
        assert repeats == 0


@settings(max_examples=100, deadline=None)
@given(layout=layouts(), position=st.floats(0, 1))
def test_balanced_prefixes_hold_each_label_in_proportion(layout: Layout, position: float) -> None:
    options = PlanOptions(1, True, 0, False, 2, True, 0, 1)
    plan = EpochPlan(layout, options, 0)
    p = int(position * plan.rows)
    counts = np.array(plan.label_prefix(p))
    totals = np.array(plan.label_totals)
    assert counts.sum() == p
    # Each label's key (j + 1/2) / n is within 1/2 of its share of any prefix, so with
    # seven labels a count is within 3.5 of proportional (within 1 in practice).
    assert np.all(np.abs(counts - p * totals / max(plan.rows, 1)) <= 3.5)
    assert np.all(np.array(plan.label_prefix(min(p + 1, plan.rows))) >= counts)  # never decreases
