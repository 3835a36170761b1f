"""Audit totals match an independent count, whatever the data and batch size."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zpml_data import audit
from zpml_data.auditing.engine import NULL_GROUP
from zpml_data.status import STATUS_LABELS

labels = st.sampled_from([*STATUS_LABELS, None, "bogus", "Fault"])


@st.composite
def tables(draw):
    n = draw(st.integers(0, 80))
    status = draw(st.lists(labels, min_size=n, max_size=n))
    groups = draw(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=n, max_size=n))
    values = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "g": pd.Series(groups, dtype=object),
            "value": pd.Series(values, dtype=float),
            "status": pd.Series(status, dtype=object),
        }
    )


# Bounded: every audit streams each pass batch by batch, so a batch of one row made an
# example cost 120 batches a pass; 5..40 rows still splits a table into up to 16 batches.
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(5, 40))
def test_counts_equal_value_counts_for_any_batch_size(frame, batch_size):
    report = audit(frame, group_by=["g"], batch_size=batch_size)
    [target] = report.targets
    counts = frame["status"].value_counts(dropna=False)
    assert target.status_counts == {label: int(counts.get(label, 0)) for label in STATUS_LABELS}
    valid = frame["status"].isin(STATUS_LABELS)
    assert target.invalid_status == int((~valid).sum())
    assert target.rows == len(frame)
    # Every row is in exactly one group, the null group (not the text "null") included.
    assert sum(sum(c.values()) for c in target.groups["g"].values()) == len(frame)
    for group, rows in frame.groupby(frame["g"].fillna(NULL_GROUP)):
        got = target.groups["g"][group]
        expected = rows["status"].value_counts()
        assert all(got[label] == expected.get(label, 0) for label in STATUS_LABELS)
    # The same totals in one batch.
    whole = audit(frame, group_by=["g"], batch_size=10_000).targets[0]
    assert whole.status_counts == target.status_counts and whole.groups == target.groups
    failed = {c.name: c.failed for c in target.checks}
    assert failed == {c.name: c.failed for c in whole.checks}
    assert failed["status_present"] == int(frame["status"].isna().sum())
    finite = frame["status"] == "finite"
    with np.errstate(over="ignore"):  # shards store float32: 1e39 is not a finite value there
        as_float32 = frame["value"].to_numpy().astype(np.float32)
    assert failed["finite_value"] == int((finite & ~np.isfinite(as_float32)).sum())
