"""Shard with a split, train, evaluate and predict, all through the CLI: the numbers agree.

``zpml evaluate`` on the validation split gives the metrics the run recorded
for the epoch in ``best.pt`` (same rows, same tau_infer); ``zpml predict`` on
those rows, read back from the source table, decodes the same statuses as the
model does on the shards' own inputs; the predictions audit clean.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_zpml
from zpml_data.datasets import assay_dose_response
from zpml_train import load_model, make_loader

INPUTS = "site,dose,temperature,incubation_h"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """The assay, sharded with a 25% validation split, and a 4-epoch run on it."""
    work = tmp_path_factory.mktemp("round-trip")
    frame = assay_dose_response(n_rows=4000, seed=3)
    frame.to_parquet(work / "assay.parquet")
    shard = run_zpml(
        "shard", work / "assay.parquet", work / "shards", "--inputs", INPUTS,
        "--split", "val=0.25", "--split-seed", "7",
    )  # fmt: skip
    assert shard.returncode == 0, shard.stderr
    shards = work / "shards"
    train = run_zpml(
        "train", shards / "train", "--val", shards / "val", "--epochs", "4", "--out", work / "run"
    )
    assert train.returncode == 0, train.stderr
    return work, frame


def _recorded_metrics(run: Path) -> tuple[float, dict[str, float | None]]:
    """The best epoch's validation metrics at the tau_infer best.pt decodes at."""
    config = json.loads((run / "config.json").read_text())
    calibration = config["calibration"]
    if calibration["validation_metrics"] is not None:
        metrics = dict(calibration["validation_metrics"])
        return float(metrics.pop("tau_infer")), metrics
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    [best] = [line for line in lines if line["epoch"] == calibration["best_epoch"]]
    metrics = {k[4:]: v for k, v in best.items() if k.startswith("val_")}
    return float(calibration["tau_infer_configured"]), metrics


def test_evaluate_on_the_validation_split_gives_the_recorded_metrics(trained):
    work, _ = trained
    tau, recorded = _recorded_metrics(work / "run")
    result = run_zpml("evaluate", work / "run", work / "shards" / "val", "--json", "-")
    assert result.returncode == 0, result.stderr
    evaluated = json.loads(result.stdout)
    assert evaluated["tau_infer"] == pytest.approx(tau, rel=1e-12)
    compared = 0
    for name, value in recorded.items():
        if name in ("epoch", "tau_calibrated"):
            continue
        got = evaluated["metrics"][name]
        if value is None:
            assert got is None, name
        else:
            assert got == pytest.approx(value, rel=1e-5, abs=1e-7), name
            compared += 1
    assert compared >= 8
    confusion = evaluated["confusion"]["value"]
    val_rows = sum(sum(row.values()) for row in confusion.values())
    assert val_rows == evaluated["rows"] == recorded["rows"]


def test_predict_on_the_validation_rows_decodes_what_the_model_decodes_on_their_shards(trained):
    work, frame = trained
    predictor = load_model(work / "run")
    loader = make_loader(work / "shards" / "val", 512, shuffle=False)
    row_ids, codes = [], []
    for batch in loader:
        assert batch.row_id is not None
        row_ids.append(batch.row_id.numpy())
        codes.append(predictor.predict_matrix(batch.inputs).codes[:, 0])
    ids = np.concatenate(row_ids)
    val_rows = frame.iloc[ids].drop(columns=["value", "status"]).reset_index(drop=True)
    val_rows.to_parquet(work / "val-rows.parquet")
    out = work / "val-pred.parquet"
    result = run_zpml("predict", work / "run", work / "val-rows.parquet", "--out", out)
    assert result.returncode == 0, result.stderr
    predicted = pd.read_parquet(out)
    assert list(predicted.columns) == [*val_rows.columns, "value_pred", "value_pred_status"]
    from_shards = pd.Categorical.from_codes(
        np.concatenate(codes), categories=list(predicted["value_pred_status"].cat.categories)
    )
    assert (predicted["value_pred_status"].to_numpy() == np.asarray(from_shards)).all()
    audit = run_zpml(
        "audit", out, "--value", "value_pred", "--status", "value_pred_status",
        "--inputs", "dose,temperature,incubation_h", "--json", "-",
    )  # fmt: skip
    assert audit.returncode == 0, audit.stderr
    report = json.loads(audit.stdout)
    # A decoded ⊥ has no value, so a censored prediction carries no limit: the
    # audit says so (a warning); nothing else may be flagged.
    flagged = {c["name"] for c in report["checks"] if c.get("failed")}
    assert flagged <= {"censored_bound_present"}, flagged
    assert report["verdict"] in ("pass", "warn")
