import numpy as np
import pandas as pd

from zpml_data import encode_status, lift_semantic_targets
from zpml_data.datasets import assay_dose_response, rational_poles
from zpml_data.status import STATUS_LABELS


def test_assay_is_deterministic_by_seed():
    pd.testing.assert_frame_equal(
        assay_dose_response(500, seed=3), assay_dose_response(500, seed=3)
    )
    assert not assay_dose_response(500, seed=3).equals(assay_dose_response(500, seed=4))


def test_assay_semantics():
    frame = assay_dose_response(20_000, seed=0)
    assert list(frame.columns) == ["site", "dose", "temperature", "incubation_h", "value", "status"]
    assert list(frame["status"].cat.categories) == list(STATUS_LABELS)
    counts = frame["status"].value_counts()
    for label in (
        "finite",
        "censored_below",
        "censored_above",
        "domain_invalid",
        "missing",
        "fault",
    ):
        assert counts[label] > 50, label
    below = frame[frame["status"] == "censored_below"]
    above = frame[frame["status"] == "censored_above"]
    assert (below["value"] == below["value"].iloc[0]).all()  # the detection limit
    assert (above["value"] == above["value"].iloc[0]).all()
    assert below["value"].iloc[0] < above["value"].iloc[0]
    invalid = frame["status"] == "domain_invalid"
    assert (invalid == (frame["dose"] < 0)).all()
    assert frame["site"].nunique() == 4
    # Everything the generator writes lifts cleanly.
    lift_semantic_targets(frame["value"].to_numpy(), encode_status(frame["status"]))


def test_rational_poles_are_bottom():
    frame = rational_poles(5_000, seed=1, pole_width=0.02)
    bottom = frame["status"] == "bottom"
    assert bottom.sum() > 0
    assert (np.abs(np.abs(frame.loc[bottom, "x"]) - 0.5) < 0.02).all()
    assert frame.loc[~bottom, "value"].notna().all()
    assert set(frame["status"].unique()) == {"finite", "bottom"}
