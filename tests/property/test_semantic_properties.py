"""The group-level checks do not depend on row order, batch size, or other groups' rows.

That holds for what they find (limits, heaps, sentinels, skews, leaking inputs)
and for how the censoring is read (detection limits or per row).
"""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zpml_data import audit

GROUP_CHECKS = (
    "finite_beyond_limit",
    "heaping_at_limit",
    "sentinel_number",
    "status_skew_by_group",
    "input_leak",
)
LABELS = ["finite", "censored_below", "censored_above", "fault", "missing"]


@st.composite
def tables(draw, sites=("a", "b", "c")):
    """Finite values with ties (a coarse grid), censored rows at a few limits or each at its
    own bound, planted heaps, an honest input and maybe a leaking one."""
    n = draw(st.integers(30, 200))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    status = np.array(LABELS)[rng.choice(5, n, p=[0.6, 0.15, 0.1, 0.1, 0.05])]
    value = np.round(rng.normal(50.0, 15.0, n), draw(st.sampled_from([0, 1, 3])))
    value[status == "censored_below"] = rng.choice([10.0, 20.0], (status == "censored_below").sum())
    above = status == "censored_above"
    per_row = draw(st.booleans())
    value[above] = np.round(rng.uniform(60.0, 95.0, above.sum()), 3) if per_row else 90.0
    value[(status == "fault") | (status == "missing")] = np.nan
    heap = rng.random(n) < draw(st.sampled_from([0.0, 0.3]))
    value[heap & (status == "finite")] = draw(st.sampled_from([10.0, -999.0]))
    site = np.array(sites)[rng.integers(0, len(sites), n)]
    frame = pd.DataFrame({"site": site, "value": value, "status": status})
    frame["x"] = rng.normal(size=n)
    leak = draw(st.sampled_from(["none", "copy", "flag"]))
    if leak == "copy":
        frame["leak"] = value
    elif leak == "flag":
        frame["leak"] = (status == "finite").astype(float)
    return frame


def summary(frame, batch_size):
    report = audit(frame, group_by=["site"], batch_size=batch_size)
    [target] = report.targets
    return {
        c.name: (c.failed, sorted((e["file"], e["row"]) for e in c.examples), c.details)
        for c in target.checks
        if c.name in GROUP_CHECKS
    } | {"censoring": (0, [], target.censoring)}, target.histograms


def original_rows(summary_, order):
    """The same findings with example rows mapped back through a permutation."""
    checks, histograms = summary_
    return {
        name: (n, sorted(int(order[row]) for _, row in rows), details)
        for name, (n, rows, details) in checks.items()
    }, histograms


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(1, 60), st.randoms(use_true_random=False))
def test_invariant_to_row_order_and_batch_size(frame, batch_size, random):
    whole = summary(frame, 10_000)
    assert summary(frame, batch_size) == whole
    order = np.arange(len(frame))
    random.shuffle(order)
    shuffled = summary(frame.iloc[order].reset_index(drop=True), batch_size)
    checks, histograms = original_rows(shuffled, order)
    expected = {
        name: (n, sorted(row for _, row in rows), details)
        for name, (n, rows, details) in whole[0].items()
    }
    # Examples are the first rows in file order, so compare them only when all are kept.
    for name, (n, rows, details) in checks.items():
        assert (n, details) == (expected[name][0], expected[name][2])
        if n <= 20:
            assert rows == expected[name][1]
    assert sorted(histograms, key=repr) == sorted(whole[1], key=repr)


def site_verdicts(frame, column="site"):
    report = audit(frame, group_by=[column])
    [check] = [c for c in report.targets[0].checks if c.name == "finite_beyond_limit"]
    return {d["group"]: d for d in check.details if d["column"] == column}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(sites=("a", "b")), tables(sites=("c", "d")))
def test_another_groups_rows_never_change_a_groups_limits_or_verdict(frame, other):
    before = site_verdicts(frame)
    after = site_verdicts(pd.concat([frame, other], ignore_index=True))
    assert {g: d for g, d in after.items() if g in ("a", "b")} == before
