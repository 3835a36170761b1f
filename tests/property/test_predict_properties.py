"""zpml predict's file, whatever the data and batch size: the source kept, the rows predicted once.

Streaming in batches must give the file that predicting the whole table at
once gives: every source column unchanged and in order, and the predictions
of :meth:`Predictor.predict` row for row. From CSV to CSV the kept columns
are the text as written.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zpml_train import Predictor, ProjectiveMLP
from zpml_train.model.spec import ModelRecord, model_spec
from zpml_train.predict_file import predict_file


def _predictor() -> Predictor:
    torch.manual_seed(0)
    model = ProjectiveMLP(2, 1, (4,))
    with torch.no_grad():  # Q crosses zero in the data's range: both decodes happen
        model.head.denominator.bias.zero_()  # type: ignore[operator]
    record = ModelRecord(model_spec(model), ["a", "b"], ["y"], 0.05, 0.05)
    return Predictor(model, record)


PREDICTOR = _predictor()
numbers = st.floats(-1e3, 1e3) | st.sampled_from([np.nan, np.inf, -np.inf])
words = st.sampled_from(["x", "", 'say "hi"', "a,b", "line\nbreak", "007", None])


@st.composite
def tables(draw) -> pd.DataFrame:
    n = draw(st.integers(0, 60))
    return pd.DataFrame(
        {
            "note": pd.Series(draw(st.lists(words, min_size=n, max_size=n)), dtype=object),
            "b": draw(st.lists(numbers, min_size=n, max_size=n)),
            "id": np.arange(n, dtype=np.int64),
            "a": draw(st.lists(numbers, min_size=n, max_size=n)),
        }
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(1, 25))
def test_streaming_keeps_the_source_and_predicts_as_the_whole_table(frame, batch_size):
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "s.parquet", Path(tmp) / "p.parquet"
        frame.to_parquet(source)
        summary = predict_file(PREDICTOR, source, out, batch_size=batch_size)
        written = pd.read_parquet(out)
    assert summary.rows == len(frame) == len(written)
    assert list(written.columns) == [*frame.columns, "y_pred", "y_pred_status"]
    pd.testing.assert_frame_equal(written[list(frame.columns)], frame, check_dtype=False)
    whole = PREDICTOR.predict(frame)
    np.testing.assert_array_equal(written["y_pred"].to_numpy(), whole["y_pred"].to_numpy())
    assert (written["y_pred_status"].astype(str) == whole["y_pred_status"].astype(str)).all()
    status = written["y_pred_status"].astype(str)
    assert (written["y_pred"].isna() == (status != "finite")).all()
    bad_input = ~np.isfinite(frame[["a", "b"]].to_numpy(np.float32)).all(axis=1)
    assert ((status == "missing") == bad_input).all()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(1, 25))
def test_csv_to_csv_keeps_every_kept_cell_as_written(frame, batch_size):
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "s.csv", Path(tmp) / "p.csv"
        frame.to_csv(source, index=False)
        predict_file(PREDICTOR, source, out, keep=["note", "id"], batch_size=batch_size)
        text = dict(dtype=str, keep_default_na=False)
        kept = pd.read_csv(out, **text)[["note", "id"]]
        original = pd.read_csv(source, **text)[["note", "id"]]
    pd.testing.assert_frame_equal(kept, original)
