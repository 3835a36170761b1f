"""Group-level checks: each planted defect is found with its count and rows; clean data passes."""

import json
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zpml_data import audit
from zpml_data.auditing.rendering import render_html, render_text
from zpml_data.auditing.sketches import DistinctValues, HeavyHitters, LogSketch
from zpml_data.datasets import assay_dose_response, rational_poles

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "report.schema.json").read_text())
GROUP_CHECKS = [
    "censored_bound_present",
    "finite_beyond_limit",
    "heaping_at_limit",
    "sentinel_number",
    "status_skew_by_group",
    "input_leak",
]


def clean(seed: int = 0) -> pd.DataFrame:
    frame = assay_dose_response(20_000, seed=seed)
    return frame.assign(status=frame["status"].astype(str))


def rows_of(frame: pd.DataFrame, status: str, site: str | None = None) -> np.ndarray:
    chosen = frame["status"] == status
    if site is not None:
        chosen &= frame["site"] == site
    return np.flatnonzero(chosen)


def findings(frame: pd.DataFrame, **options) -> dict:
    report = audit(frame, group_by=["site"], **options)
    jsonschema.validate(json.loads(report.to_json()), SCHEMA)
    return {c.name: c for c in report.targets[0].checks if c.name in GROUP_CHECKS}


def failed(checks: dict) -> dict[str, int]:
    return {name: check.failed for name, check in checks.items() if check.failed}


def example_rows(check) -> list[int]:
    return [e["row"] for e in check.examples]


def test_clean_bundled_data_raises_no_warning():
    assert failed(findings(clean())) == {}
    assert failed({c.name: c for c in audit(rational_poles()).targets[0].checks}) == {}


def test_at_most_one_warning_over_20_clean_seeds_with_lab_rounding():
    warnings = 0
    for seed in range(20):
        frame = clean(seed)
        if seed % 2:  # a lab reporting to one decimal: ties everywhere, none of them a heap
            frame["value"] = frame["value"].round(1)
        warnings += sum(failed(findings(frame)).values())
    assert warnings <= 1


def test_a_finite_row_below_its_sites_detection_limit():
    frame = clean()
    row = rows_of(frame, "censored_below", "site-B")[0]
    frame.loc[row, ["status", "value"]] = ["finite", 0.5]
    checks = findings(frame)
    assert failed(checks) == {"finite_beyond_limit": 1}
    assert example_rows(checks["finite_beyond_limit"]) == [row]
    beyond = [d for d in checks["finite_beyond_limit"].details if d["below"] or d["above"]]
    assert beyond == [
        {"column": None, "group": "all", "lower": 2.0, "upper": 97.0, "below": 1, "above": 0}
        | {"censoring": "limit"},
        {"column": "site", "group": "site-B", "lower": 2.0, "upper": 97.0, "below": 1, "above": 0}
        | {"censoring": "limit"},
    ]


def test_a_row_beyond_its_own_groups_limit_only_counts_once():
    frame = clean()
    # site-A's detection limit drops to 1.0: a finite 1.5 there is fine, at site-B it is not.
    frame.loc[rows_of(frame, "censored_below", "site-A")[:5], "value"] = 1.0
    row = rows_of(frame, "finite", "site-B")[0]
    frame.loc[row, "value"] = 1.5
    checks = findings(frame)
    assert failed(checks) == {"finite_beyond_limit": 1}
    details = {(d["column"], d["group"]): d for d in checks["finite_beyond_limit"].details}
    assert details[(None, "all")]["lower"] == 1.0 and details[(None, "all")]["below"] == 0
    assert details[("site", "site-B")]["below"] == 1


def test_300_rows_at_exactly_the_limit():
    frame = clean()
    heaped = rows_of(frame, "finite", "site-C")[:300]
    frame.loc[heaped, "value"] = 2.0
    checks = findings(frame)
    assert failed(checks) == {"heaping_at_limit": 300}
    assert example_rows(checks["heaping_at_limit"]) == list(heaped[:20])
    [site] = [d for d in checks["heaping_at_limit"].details if d["column"] == "site"]
    assert site.pop("p_value") < 1e-3
    assert site == {
        "column": "site",
        "group": "site-C",
        "value": 2.0,
        "count": 300,
        "expected": 1.0,
    }


def test_a_minus_999_code_in_2_percent_of_rows():
    frame = clean()
    coded = np.flatnonzero(np.random.default_rng(1).random(len(frame)) < 0.02)
    frame.loc[coded, ["status", "value"]] = ["finite", -999.0]
    checks = findings(frame)
    # -999 is also a finite value below the detection limit: both checks say so.
    assert failed(checks) == {"sentinel_number": len(coded), "finite_beyond_limit": len(coded)}
    assert example_rows(checks["sentinel_number"]) == list(coded[:20])
    [found] = checks["sentinel_number"].details
    assert found["value"] == -999.0 and found["count"] == len(coded)
    assert "zpml convert --sentinel -999=" in found["convert"]
    assert 20 < found["median"] < 60


def test_one_site_with_ten_times_the_fault_share():
    frame = clean()
    finite_d = rows_of(frame, "finite", "site-D")
    extra = finite_d[np.random.default_rng(2).random(finite_d.size) < 0.1]
    frame.loc[extra, ["status", "value"]] = ["fault", np.nan]
    checks = findings(frame)
    faults_d = rows_of(frame, "fault", "site-D")
    assert failed(checks) == {"status_skew_by_group": faults_d.size}
    assert example_rows(checks["status_skew_by_group"]) == list(faults_d[:20])
    [skew] = checks["status_skew_by_group"].details
    assert (skew["group"], skew["label"], skew["rows"]) == ("site-D", "fault", faults_d.size)
    assert skew["change_pp"] > 5 and skew["p_value"] < 1e-10


def test_a_small_skew_is_not_flagged_however_significant():
    frame = clean()
    finite_d = rows_of(frame, "finite", "site-D")
    extra = finite_d[np.random.default_rng(2).random(finite_d.size) < 0.1]
    frame.loc[extra, ["status", "value"]] = ["fault", np.nan]
    assert failed(findings(frame, skew_threshold_pp=10.0)) == {}


def test_censored_rows_without_their_bound():
    frame = clean()
    unbounded = np.r_[rows_of(frame, "censored_above")[:4], rows_of(frame, "censored_below")[:3]]
    frame.loc[unbounded, "value"] = [np.nan, np.inf, np.nan, np.nan, -np.inf, np.nan, np.nan]
    checks = findings(frame)
    assert failed(checks) == {"censored_bound_present": 7}
    assert example_rows(checks["censored_bound_present"]) == sorted(unbounded)


def test_every_rendering_names_what_was_found():
    frame = clean()
    frame.loc[rows_of(frame, "finite", "site-C")[:300], "value"] = 2.0
    frame.loc[rows_of(frame, "missing"), ["status", "value"]] = ["finite", -999.0]
    frame["site"] = frame["site"].astype(str).replace("site-C", "<b>site-C</b>")
    report = audit(frame, group_by=["site"])
    text = render_text(report)
    assert "site=<b>site-C</b>: 300 finite rows at the bound 2" in text
    assert "zpml convert --sentinel -999=" in text
    html = render_html(report)
    assert "&lt;b&gt;site-C&lt;/b&gt;" in html and "<b>site-C" not in html
    assert "heap 2 ×300" in html and "← sentinel -999" in html
    assert html.count("<svg class='hist'") == 5  # all rows and four sites


def test_legacy_data_gets_the_sentinel_check():
    values = np.random.default_rng(3).normal(10.0, 2.0, 5000)
    values[::50] = 9999.0
    values[1::97] = np.nan
    report = audit(pd.DataFrame({"value": values}))
    checks = {c.name: c.failed for c in report.targets[0].checks}
    coded, nan = int((values == 9999.0).sum()), int(np.isnan(values).sum())
    assert checks == {
        "legacy_sentinel": nan,
        "sentinel_number": coded,
        "status_skew_by_group": 0,
        "input_leak": 0,
    }


def test_sketch_quantiles_are_within_two_percent():
    values = np.random.default_rng(4).lognormal(3.0, 1.0, 100_000)
    sketch = LogSketch()
    for part in np.array_split(values, 7):
        sketch.add(part)
    assert sketch.quantile(0.5) == pytest.approx(np.median(values), rel=0.02)
    _, mad = sketch.median_and_mad()
    assert mad == pytest.approx(np.median(np.abs(values - np.median(values))), rel=0.02)


def test_heavy_hitters_keep_every_value_above_the_guarantee():
    rng = np.random.default_rng(5)
    values = np.r_[rng.normal(size=50_000), np.full(400, -999.0), np.full(150, 7.0)]
    rng.shuffle(values)
    hitters = HeavyHitters(size=256)
    for part in np.array_split(values, 13):
        hitters.add(part)
    assert hitters.values.size <= 256
    assert hitters.guaranteed < 400 and -999.0 in hitters.values


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 3), st.sampled_from([0.0, -0.0, 1.5, -2.0, np.nan, np.inf, 5e-324])
        )
    )
)
def test_distinct_values_by_group_are_numpys_unique_values_per_group(rows):
    index = np.array([g for g, _ in rows], dtype=np.int64)
    values = np.array([v for _, v in rows], dtype=np.float64)
    group, value, count = DistinctValues(values).by_group(index, 4)
    for g in range(4):  # numpy's answer: sorted, -0.0 equal to 0.0, one NaN, last
        want, want_counts = np.unique(values[index == g], return_counts=True)
        mine = group == g
        assert np.array_equal(value[mine], want, equal_nan=True)  # == : -0.0 matches 0.0
        assert count[mine].tolist() == want_counts.tolist()
    assert np.all(np.diff(group) >= 0)
