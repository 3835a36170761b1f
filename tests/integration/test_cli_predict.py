"""zpml predict through the real CLI: columns kept, predictions audited, outputs guarded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_zpml
from tests.zpml_train._models import gated_with_bottoms
from zpml_train import load_model
from zpml_train.model.spec import RECORD_KEY, ModelRecord, model_spec
from zpml_train.training._checkpoint import write_checkpoint


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A run directory whose best.pt holds a gated model over inputs a, b."""
    model = gated_with_bottoms(2, tau=0.7)
    record = ModelRecord(
        model_spec(model),
        ["a", "b"],
        ["y"],
        0.7,
        0.5,
        0.7,
        status_counts={"finite": 5, "censored_below": 2, "domain_invalid": 1},
    )
    run = tmp_path_factory.mktemp("run")
    write_checkpoint(run / "best.pt", {"model": model.state_dict(), RECORD_KEY: record.to_dict()})
    return run


def _source(path: Path, rows: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "b": rng.normal(size=rows) * 4,
            "note": ["n,1"] * rows,
            "a": rng.normal(size=rows) * 4,
        }
    )
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return frame


def test_predict_keeps_every_column_in_order_adds_two_and_the_output_audits_clean(
    model_dir, tmp_path
):
    source = tmp_path / "new.parquet"
    frame = _source(source)
    out = tmp_path / "pred.parquet"
    result = run_zpml("predict", model_dir, source, "--out", out, "--batch-size", "64")
    assert result.returncode == 0, result.stderr
    assert "500 rows predicted" in result.stdout
    written = pd.read_parquet(out)
    assert list(written.columns) == ["id", "b", "note", "a", "y_pred", "y_pred_status"]
    pd.testing.assert_frame_equal(written[list(frame.columns)], frame)
    expected = load_model(model_dir).predict(frame)
    pd.testing.assert_frame_equal(written[["y_pred", "y_pred_status"]], expected)
    assert set(written["y_pred_status"].astype(str)) > {"finite"}  # some ⊥ decoded
    audit = run_zpml(
        "audit", out, "--value", "y_pred", "--status", "y_pred_status", "--inputs", "a,b",
        "--json", "-",
    )  # fmt: skip
    assert audit.returncode == 0, audit.stderr
    # A decoded ⊥ has no value: a censored prediction carries no limit (a warning at most).
    flagged = {c["name"] for c in json.loads(audit.stdout)["checks"] if c.get("failed")}
    assert flagged <= {"censored_bound_present"}, flagged


def test_csv_to_csv_keeps_the_text_written_and_keep_chooses_columns(model_dir, tmp_path):
    source = tmp_path / "new.csv"
    _source(source)
    out = tmp_path / "pred.csv"
    result = run_zpml("predict", model_dir, source, "--out", out, "--keep", "note,id")
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "note,id,y_pred,y_pred_status"
    assert lines[1].startswith('"n,1",0,')
    names = ["--value-name", "{target}_hat", "--status-name", "{target}_hat_status"]
    again = run_zpml("predict", model_dir, source, "--out", tmp_path / "p2.parquet", *names)
    assert again.returncode == 0, again.stderr
    assert pq.read_schema(tmp_path / "p2.parquet").names[-2:] == ["y_hat", "y_hat_status"]


def _refused(*args, files: list[Path], pattern: str) -> None:
    before = {p: p.read_bytes() for p in files if p.exists()}
    result = run_zpml("predict", *args)
    assert result.returncode == 2, result.stderr
    assert pattern in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert {p: p.read_bytes() for p in files if p.exists()} == before


def test_bad_input_is_refused_in_one_line_and_nothing_is_written(model_dir, tmp_path):
    source = tmp_path / "new.parquet"
    frame = _source(source)
    out = tmp_path / "pred.parquet"
    _refused(
        model_dir, source, "--out", source, files=[source], pattern="would overwrite the input"
    )
    foreign = tmp_path / "mine.parquet"
    frame.to_parquet(foreign)
    _refused(
        model_dir,
        source,
        "--out",
        foreign,
        files=[source, foreign],
        pattern="not a predictions file zpml wrote",
    )
    frame.drop(columns="a").to_parquet(tmp_path / "no-a.parquet")
    _refused(
        model_dir,
        tmp_path / "no-a.parquet",
        "--out",
        out,
        files=[],
        pattern="missing input column(s) 'a'",
    )
    frame.assign(y_pred=1.0).to_parquet(tmp_path / "clash.parquet")
    _refused(
        model_dir,
        tmp_path / "clash.parquet",
        "--out",
        out,
        files=[],
        pattern="'y_pred' already exist in the source",
    )
    frame.assign(a="text").to_parquet(tmp_path / "text.parquet")
    _refused(
        model_dir,
        tmp_path / "text.parquet",
        "--out",
        out,
        files=[],
        pattern="input column 'a' is string",
    )
    (tmp_path / "bad.pt").write_bytes(b"\x80\x04not really")
    _refused(tmp_path / "bad.pt", source, "--out", out, files=[], pattern="bad.pt")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_previous_prediction_is_replaced(model_dir, tmp_path):
    source = tmp_path / "new.parquet"
    _source(source, rows=50)
    out = tmp_path / "pred.parquet"
    assert run_zpml("predict", model_dir, source, "--out", out).returncode == 0
    _source(source, rows=20)
    result = run_zpml("predict", model_dir, source, "--out", out)
    assert result.returncode == 0, result.stderr
    assert pq.read_metadata(out).num_rows == 20
