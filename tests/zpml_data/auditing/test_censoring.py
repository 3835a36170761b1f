"""Detection limits against per-row censoring, and a limit on one side only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.zpml_data.auditing.realistic import lab_export, survival
from zpml_data import DatasetSpec, audit
from zpml_data.auditing.censoring import GroupBounds
from zpml_data.auditing.rendering import render_text
from zpml_data.errors import UsageError
from zpml_data.spec import Target


def checks(report) -> dict:
    return {c.name: c for c in report.targets[0].checks}


def failed(report) -> dict[str, int]:
    return {c.name: c.failed for c in report.targets[0].checks if c.failed}


def outcome_only(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["value", "status", "age", "ejection_fraction"]]


def test_per_row_censoring_is_found_and_gives_no_limit_warning():
    frame = outcome_only(survival())
    report = audit(frame)
    assert report.targets[0].censoring == "per_row"
    assert failed(report) == {}
    [whole] = checks(report)["finite_beyond_limit"].details
    assert whole == {"column": None, "group": "all", "censoring": "per_row"} | {
        "lower": None,
        "upper": None,
        "below": 0,
        "above": 0,
    }
    assert report.to_dict()["censoring"] == "per_row"


def test_a_small_survival_table_is_per_row_too():
    frame = outcome_only(survival(seed=0, rows=20))
    assert (frame["status"] == "censored_above").sum() >= 3
    report = audit(frame)
    assert report.targets[0].censoring == "per_row" and failed(report) == {}


def test_declared_limits_apply_to_the_same_table():
    """`censoring: limit` in a spec: the largest censoring time becomes a limit."""
    frame = outcome_only(survival())
    largest = frame.loc[frame["status"] == "censored_above", "value"].max()
    frame.loc[0, ["value", "status"]] = [largest + 10.0, "finite"]
    spec = DatasetSpec(targets=(Target("value", "status", censoring="limit"),))
    report = audit(frame, spec)
    assert report.targets[0].censoring == "limit"
    assert failed(report) == {"finite_beyond_limit": 1}
    [whole] = checks(report)["finite_beyond_limit"].details
    assert (whole["lower"], whole["upper"], whole["above"]) == (None, largest, 1)
    # Auto-detected, the same row is no finding: per-row censoring has no limit.
    assert failed(audit(frame)) == {}


def test_declared_per_row_censoring_turns_the_limit_check_off():
    frame = lab_export(0)
    row = np.flatnonzero((frame["site"] == "site-A") & (frame["status"] == "censored_below"))[0]
    frame.loc[row, ["status", "value"]] = ["finite", 0.3]  # below every site's limit
    assert failed(audit(frame, group_by=["site"])) == {"finite_beyond_limit": 1}
    spec = DatasetSpec.from_mapping({"censoring": "per_row", "groups": ["site"]})
    assert failed(audit(frame, spec)) == {}


def test_only_a_lower_limit_is_no_upper_limit():
    """A lab export with `<x` rows only: no finite row is above a limit that is not there."""
    frame = lab_export(1)
    frame = frame[frame["status"] != "censored_above"].reset_index(drop=True)
    report = audit(frame, group_by=["site"])
    assert report.targets[0].censoring == "limit" and failed(report) == {}
    details = checks(report)["finite_beyond_limit"].details
    assert {d["upper"] for d in details} == {None}
    assert {(d["group"], d["lower"]) for d in details if d["column"] == "site"} == {
        ("site-A", 1.5),
        ("site-B", 1.0),
        ("site-C", 2.0),
    }
    row = np.flatnonzero((frame["site"] == "site-C") & (frame["status"] == "finite"))[0]
    frame.loc[row, "value"] = 1.2  # below site-C's limit of 2.0 only
    report = audit(frame, group_by=["site"])
    assert failed(report) == {"finite_beyond_limit": 1}
    [flagged] = [d for d in checks(report)["finite_beyond_limit"].details if d["below"]]
    assert (flagged["group"], flagged["below"], flagged["above"]) == ("site-C", 1, 0)
    assert "site=site-C: limits 2.0 .. None; 1 finite rows below, 0 above" in render_text(report)


def test_only_an_upper_limit_is_no_lower_limit():
    frame = lab_export(2)
    frame = frame[frame["status"] != "censored_below"].reset_index(drop=True)
    report = audit(frame)
    assert failed(report) == {}
    [whole] = checks(report)["finite_beyond_limit"].details
    assert (whole["lower"], whole["upper"]) == (None, 8.0)


@pytest.mark.parametrize(
    ("rows", "kind"),
    [
        ({1.0: 500, 2.0: 300}, "limit"),  # two limits, many rows each
        ({0.5: 1, 1.0: 1}, "limit"),  # two rows: too few to tell, read as limits
        ({0.5: 1, 1.0: 2, 1.7: 1, 3.0: 40}, "limit"),  # most rows on a shared bound
        ({0.5: 1, 1.0: 2, 1.7: 1, 3.0: 3}, "per_row"),  # most rows on a bound of their own
    ],
)
def test_how_bounds_are_told_apart(rows, kind):
    bounds = GroupBounds(lower=min(rows), bounds=dict(rows))
    assert bounds.kind() == kind
    assert bounds.kind("per_row") == "per_row" and bounds.kind("limit") == "limit"


def test_more_distinct_bounds_than_tracked_is_per_row():
    bounds = GroupBounds()
    values = np.arange(100, dtype=float)
    bounds.merge(0.0, 99.0, (values, np.full(100, 50)))
    assert bounds.overflow and bounds.kind() == "per_row" and bounds.candidates() == []


@pytest.mark.parametrize("where", [{"censoring": "sometimes"}, {"targets": [{"censoring": 1}]}])
def test_a_spec_names_a_known_censoring(where):
    with pytest.raises(UsageError, match=r"censoring must be one of auto, limit, per_row"):
        DatasetSpec.from_mapping(where, "spec.yaml")


def test_a_spec_file_declares_censoring(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(
        "censoring: per_row\ntargets:\n  - {value: t, status: s}\n"
        "  - {value: u, status: v, censoring: limit}\n"
    )
    spec = DatasetSpec.from_file(path)
    assert [t.censoring for t in spec.targets] == ["per_row", "limit"]


def _findings(frame: pd.DataFrame):
    """Both passes over one batch of ``frame`` (grouped by site), then the decisions."""
    import pyarrow as pa

    from zpml_data.auditing.tallies import TargetTally, values_and_codes

    batch = pa.RecordBatch.from_pandas(frame, preserve_index=False)
    target = DatasetSpec(groups=("site",)).resolve(batch.schema, "frame").targets[0]
    tally = TargetTally(target, ["site"])
    tally.add_counts("frame", batch, *values_and_codes(batch, target))
    assert tally.semantic.plan_second()
    tally.semantic.add_second(batch, *values_and_codes(batch, target))
    tally.decide(5.0)
    assert tally.findings is not None
    return tally.findings


def test_limits_that_no_finite_value_passes_ask_for_no_pass_over_the_rows():
    frame = lab_export(0)[["value", "status", "site"]]
    findings = _findings(frame)
    assert any(findings.limits.values()) and not findings.needs_rows
    # One finite reading below its own site's limit (but above the others'): a row to find.
    row = frame.index[frame["site"] == "site-C"][0]
    frame.loc[row, ["value", "status"]] = [1.8, "finite"]
    assert _findings(frame).needs_rows
    assert failed(audit(frame, group_by=["site"])) == {"finite_beyond_limit": 1}


def test_a_limit_at_zero_reads_the_same_whatever_the_batches():
    # Censored at 0.0, then at -0.0 (the same bound), then finite readings above it.
    value = np.concatenate([np.zeros(50), -np.zeros(50), np.linspace(1, 5, 300)])
    status = ["censored_below"] * 100 + ["finite"] * 300
    frame = pd.DataFrame({"value": value, "status": status})
    limits = set()
    for batch_size in (7, 50, 51, 400):
        [whole] = checks(audit(frame, batch_size=batch_size))["finite_beyond_limit"].details
        limits.add(repr(whole["lower"]))
    assert limits == {"0.0"}
