"""input_leak: inputs that are the target, its status in another spelling, or its proxy."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.zpml_data.auditing.realistic import lab_export, survival
from zpml_data import DatasetSpec, audit
from zpml_data.auditing.leaks import SAMPLE_ROWS, LeakTally, _row_hash
from zpml_data.auditing.rendering import render_text


def leak(report) -> tuple[int, list[dict]]:
    [check] = [c for c in report.targets[0].checks if c.name == "input_leak"]
    return check.failed, check.details


def test_a_survival_export_leaks_its_time_and_event_flag():
    frame = survival()
    failed, details = leak(audit(frame))
    assert failed == len(frame)  # the flag restates every row's status
    assert details == [
        {"column": "time", "evidence": "equals the target", "rows": 175, "of": 175},
        {"column": "event", "evidence": "restates the status"}
        | {"mapping": {"0": "censored_above", "1": "finite"}, "rows": 300, "of": 300},
    ]
    assert int((frame["status"] == "finite").sum()) == 175
    text = render_text(audit(frame))
    assert "WARNING input_leak" in text and "time: equals the target" in text


def test_a_monotone_proxy_of_the_value():
    frame = lab_export(0)
    finite = frame["status"] == "finite"
    noise = np.random.default_rng(0).normal(0.0, 1e-3, len(frame))
    frame["log_reading"] = np.where(finite, np.log(frame["value"]) + noise, np.nan)
    failed, details = leak(audit(frame))
    assert failed == int(finite.sum())
    [found] = details
    assert (found["column"], found["evidence"]) == ("log_reading", "predicts the finite value")
    assert found["spearman"] > 0.99 and found["sample"] == SAMPLE_ROWS


def test_honest_inputs_are_no_leak():
    for seed in range(5):
        frame = lab_export(seed)  # dose drives the reading, but far from perfectly
        assert leak(audit(frame, group_by=["site"])) == (0, [])
    spec = DatasetSpec(inputs=("age", "ejection_fraction"))
    assert leak(audit(survival(), spec)) == (0, [])


def test_a_constant_input_equal_to_a_mostly_constant_value_is_no_leak():
    frame = pd.DataFrame({"value": np.zeros(500), "status": "finite", "batch": 0.0})
    frame.loc[:2, "value"] = [1.0, 2.0, 3.0]
    assert leak(audit(frame)) == (0, [])


def test_a_binary_input_that_is_not_the_status():
    frame = lab_export(1)
    frame["sex"] = np.random.default_rng(1).integers(0, 2, len(frame)).astype(float)
    assert leak(audit(frame)) == (0, [])


def test_the_sample_is_the_same_whatever_the_batches():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"value": rng.normal(size=20_000), "x": rng.normal(size=20_000)})
    frame["status"] = "finite"
    totals = []
    for cuts in ([20_000], [7_000, 13_000], [123] * 162 + [74]):
        tally = LeakTally(("x",))
        for part in np.split(np.arange(len(frame)), np.cumsum(cuts)[:-1]):
            piece = LeakTally(("x",))
            rows = frame.iloc[part]
            import pyarrow as pa

            batch = pa.RecordBatch.from_pandas(rows, preserve_index=False)
            values = rows["value"].to_numpy()
            piece.add(batch, values, np.zeros(len(rows), np.int8), np.ones(len(rows), bool))
            tally.merge(piece)
        totals.append(tally)
    for other in totals[1:]:
        assert np.array_equal(np.sort(other.priority), np.sort(totals[0].priority))
        assert sorted(map(tuple, other.sample)) == sorted(map(tuple, totals[0].sample))


def test_the_sample_priority_tells_rows_apart_by_content() -> None:
    # These two rows collided when the value's raw bits were XOR-ed with the first input's.
    pair = _row_hash(np.array([0.67, 1.16]), np.array([[-0.9, 3.0], [-1.7, 3.0]]))
    assert pair[0] != pair[1]
    rng = np.random.default_rng(0)
    values = rng.normal(size=100_000).round(2) + 0.0  # + 0.0: no negative zeros
    inputs = rng.normal(size=(100_000, 3)).round(1) + 0.0
    distinct_rows = np.unique(np.column_stack([values, inputs]), axis=0).shape[0]
    assert np.unique(_row_hash(values, inputs)).size == distinct_rows
