"""Heaps at a limit at realistic rounding: a stated test, a minimum effect, few false alarms."""

from __future__ import annotations

import numpy as np
import pytest

from tests.zpml_data.auditing.realistic import lab_export
from zpml_data import audit
from zpml_data.auditing.findings import HEAP_ALPHA, HEAP_MIN_RATIO, heap_p_value
from zpml_data.auditing.semantics import Neighbours


def failed(report) -> dict[str, int]:
    return {c.name: c.failed for c in report.targets[0].checks if c.failed}


def test_300_limits_written_as_numbers_beside_40_readings_per_step():
    frame = lab_export(0)
    site_a = frame["site"] == "site-A"
    written = np.flatnonzero(site_a & (frame["status"] == "censored_below"))[:300]
    at_limit = site_a & (frame["status"] == "finite") & (frame["value"] == 1.5)
    genuine = int(at_limit.sum())
    frame.loc[written, "status"] = "finite"  # `<1.5` exported as the number 1.5
    neighbours = [
        int((site_a & (frame["status"] == "finite") & (frame["value"] == v)).sum())
        for v in (1.51, 1.52, 1.53, 1.54, 1.55)
    ]
    assert 30 <= np.median(neighbours) <= 60 and 300 + genuine < 10 * np.median(neighbours)

    report = audit(frame, group_by=["site"])
    heaped = (frame["status"] == "finite") & (frame["value"] == 1.5)  # every site's 1.5s
    assert failed(report) == {"heaping_at_limit": int(heaped.sum())}
    check = {c.name: c for c in report.targets[0].checks}["heaping_at_limit"]
    [site] = [d for d in check.details if d["column"] == "site"]
    assert (site["group"], site["value"], site["count"]) == ("site-A", 1.5, 300 + genuine)
    assert site["p_value"] < HEAP_ALPHA and site["count"] >= 5 * site["expected"]


def test_at_most_one_warning_over_20_clean_seeds_of_lab_data():
    """Per-site limits, readings to two decimals (one decimal on odd seeds), saturations."""
    warnings = []
    for seed in range(20):
        frame = lab_export(seed)
        if seed % 2:
            frame["value"] = frame["value"].round(1)
        warnings += [(seed, name) for name in failed(audit(frame, group_by=["site"]))]
    assert len(warnings) <= 1, warnings


def _point(count: int, below: list[int], above: list[int]) -> Neighbours:
    point = Neighbours(1.5)
    point.count = count
    point.below = (np.arange(len(below), dtype=float), np.array(below, dtype=np.int64))
    point.above = (np.arange(len(above), dtype=float), np.array(above, dtype=np.int64))
    return point


@pytest.mark.parametrize(
    ("count", "neighbours", "significant"),
    [
        (340, [40] * 10, True),  # the planted heap: 8.5x
        (60, [40] * 10, False),  # 1.5x: within what forty per step vary by
        (25, [], True),  # every finite row of the group on the bound
        (340, [40] * 9 + [4000], True),  # a heap beside it does not hide it
    ],
)
def test_the_heap_test(count, neighbours, significant):
    point = _point(count, neighbours[:5], neighbours[5:])
    assert (heap_p_value(point) < HEAP_ALPHA) is significant


def test_a_significant_excess_below_the_minimum_ratio_is_no_heap():
    """A density that steps up at another site's limit is significant, but 2x, not a heap."""
    frame = lab_export(4)
    frame["site"] = "one lab"  # three limits in one group: the density steps at 1.0 and 2.0
    assert HEAP_MIN_RATIO >= 3
    assert failed(audit(frame, group_by=["site"])) == {}
