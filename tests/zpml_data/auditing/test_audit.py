import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from zpml_data import audit
from zpml_data.auditing.rendering import render_html, render_text
from zpml_data.errors import UsageError
from zpml_data.spec import DatasetSpec, Target


def frame():
    return pd.DataFrame(
        {
            "x": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            "y1": [1.0, 0.006, 0.002, 500.0, 800.0, np.nan],
            "s1": [
                "finite",
                "censored_below",
                "censored_below",
                "censored_above",
                "censored_above",
                "fault",
            ],
            "y2": [np.nan, 1.0, 2.0, 3.0, 4.0, 5.0],
            "s2": ["missing", "finite", "finite", "finite", "finite", "finite"],
        }
    )


def test_censored_bounds_and_breakdown():
    report = audit(frame(), DatasetSpec(targets=(Target("y1", "s1"),)))
    target = report.targets[0]
    assert target.censored["below"] == {"count": 2, "min": 0.002, "max": 0.006}
    assert target.censored["above"] == {"count": 2, "min": 500.0, "max": 800.0}
    assert target.fault == 1 and target.missing == 0
    assert report.spec["inputs"] == ["x", "y2"]  # the other numeric columns
    # y2 is an input here, and NaN on row 0, a finite y1 row: a warning.
    assert report.verdict == "warn"
    assert [e["row"] for e in target.checks[3].examples] == [0]


def test_multiple_targets():
    spec = DatasetSpec(targets=(Target("y1", "s1"), Target("y2", "s2")), inputs=("x",))
    report = audit(pa.Table.from_pandas(frame()), spec)
    assert [t.value for t in report.targets] == ["y1", "y2"]
    assert report.targets[1].status_counts["missing"] == 1
    data = report.to_dict()
    assert "rows" not in data  # per-target fields only live under "targets" for several targets
    assert {c["target"] for c in data["checks"]} == {"y1", "y2"}
    text = render_text(report)
    assert "target 'y1'" in text and "target 'y2'" in text
    assert render_html(report).count("<h2>Target") == 2


def test_unknown_status_column_named_explicitly():
    with pytest.raises(UsageError, match=r"no column 'label'; the columns are 'x', 'y1'"):
        audit(frame(), DatasetSpec(targets=(Target("y1", "label"),)))


def test_status_as_int8_codes():
    data = pd.DataFrame({"value": [1.0, np.nan, 3.0], "status": np.array([0, 6, 9], dtype=np.int8)})
    target = audit(data).targets[0]
    assert target.status_counts["fault"] == 1 and target.invalid_status == 1
    assert {c.name: c.failed for c in target.checks}["status_known"] == 1


def test_empty_source():
    data = pd.DataFrame(
        {"value": pd.Series([], dtype=float), "status": pd.Series([], dtype=object)}
    )
    report = audit(data)
    assert report.targets[0].rows == 0 and report.verdict == "pass"
    assert report.targets[0].status_shares["finite"] == 0.0
