"""evaluate: the training metrics on labelled data, a confusion table that agrees with them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_zpml
from tests.zpml_train._models import gated_with_bottoms
from zpml_data import DatasetSpec, write_shards
from zpml_data.errors import DataError, UsageError
from zpml_data.spec import Target
from zpml_train import load_model
from zpml_train.evaluate import evaluate
from zpml_train.evaluate_page import render_evaluation
from zpml_train.model.gated import GatedHead
from zpml_train.model.spec import RECORD_KEY, ModelRecord, model_spec
from zpml_train.training._checkpoint import write_checkpoint
from zpml_train.training.config import TrainingConfig

pytestmark = pytest.mark.usefixtures("single_thread")

LABELS = ["finite", "censored_below", "censored_above", "domain_invalid"]


def _table(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=rows) * 3, rng.normal(size=rows)
    status = rng.choice(LABELS, size=rows, p=[0.6, 0.15, 0.15, 0.1])
    value = np.where(status == "domain_invalid", np.nan, a * 2 + b)
    return pd.DataFrame({"a": a, "b": b, "y": value, "state": status})


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path, Path, pd.DataFrame]:
    """A gated model's checkpoint, a labelled table and its shards."""
    work = tmp_path_factory.mktemp("evaluate")
    model = gated_with_bottoms(2, tau=0.6, seed=1)
    table = _table()
    counts = table["state"].value_counts().to_dict()
    record = ModelRecord(
        model_spec(model),
        ["a", "b"],
        ["y"],
        0.6,
        0.5,
        0.6,
        status_columns=["state"],
        status_counts={k: int(v) for k, v in counts.items()},
    )
    config = TrainingConfig(**GatedHead.DEFAULT_THRESHOLDS).to_dict()
    state = {"model": model.state_dict(), RECORD_KEY: record.to_dict(), "config": config}
    write_checkpoint(work / "best.pt", state)
    table.to_parquet(work / "table.parquet")
    spec = DatasetSpec(targets=(Target("y", "state"),), inputs=("a", "b"))
    write_shards(work / "table.parquet", work / "shards", spec, rows_per_shard=250)
    return work / "best.pt", work / "table.parquet", work / "shards", table


def test_shards_and_the_table_they_came_from_evaluate_the_same(setup):
    model, table_path, shards, table = setup
    from_shards = evaluate(model, shards, batch_size=128)
    from_table = evaluate(model, table_path, batch_size=100)
    assert from_shards.rows == from_table.rows == len(table)
    assert from_shards.confusion == from_table.confusion
    for name, value in from_shards.metrics.items():
        assert from_table.metrics[name] == pytest.approx(value, rel=1e-6, nan_ok=True), name
    assert from_shards.tau_infer == 0.6


def test_the_confusion_table_counts_every_row_and_agrees_with_the_metrics(setup):
    model, table_path, _, table = setup
    evaluation = evaluate(model, table_path)
    confusion = evaluation.confusion["y"]
    true_counts = {label: sum(row.values()) for label, row in confusion.items()}
    assert true_counts == {label: int((table["state"] == label).sum()) for label in confusion}
    predicted = load_model(model).predict(table)["y_pred_status"].astype(str).value_counts()
    decoded = {p: sum(confusion[t][p] for t in confusion) for p in confusion}
    assert {k: v for k, v in decoded.items() if v} == predicted.to_dict()
    cells = len(table)
    assert evaluation.metrics["coverage"] == pytest.approx(decoded["finite"] / cells)
    bottoms = [t for t in confusion if t not in ("finite", "missing")]
    caught = sum(confusion[t][p] for t in bottoms for p in confusion if p != "finite")
    assert evaluation.metrics["bottom_recall"] == pytest.approx(
        caught / sum(true_counts[t] for t in bottoms)
    )
    # A censored row decoded censored on its own side is ⊥ on that side.
    on_side = confusion["censored_below"]["censored_below"]
    on_side += confusion["censored_above"]["censored_above"]
    censored = true_counts["censored_below"] + true_counts["censored_above"]
    assert evaluation.metrics["censored_bottom_side"] >= on_side / censored


def test_the_page_is_self_contained_and_shows_the_confusion(setup):
    model, table_path, _, _ = setup
    html = render_evaluation(evaluate(model, table_path))
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert 'class="confusion" data-target="y"' in html
    assert 'data-label="censored_below"' in html and "scatter-target" in html


def test_data_that_fail_their_checks_or_do_not_fit_are_refused(setup, tmp_path):
    model, _, _, table = setup
    bad = table.copy()
    bad.loc[3, ["y", "state"]] = [np.nan, "finite"]
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(
        DataError, match=r"bad.parquet: the data fail their checks \(finite_value\)"
    ):
        evaluate(model, tmp_path / "bad.parquet")
    table.drop(columns="state").to_parquet(tmp_path / "no-status.parquet")
    with pytest.raises(UsageError, match=r"missing input, value or status column\(s\) 'state'"):
        evaluate(model, tmp_path / "no-status.parquet")
    other = table.rename(columns={"b": "c"})
    other.to_parquet(tmp_path / "other.parquet")
    spec = DatasetSpec(targets=(Target("y", "state"),), inputs=("a", "c"))
    write_shards(tmp_path / "other.parquet", tmp_path / "other", spec)
    with pytest.raises(UsageError, match=r"shards of inputs \['a', 'c'\].*the model reads"):
        evaluate(model, tmp_path / "other")


def test_the_cli_writes_json_and_html_and_exits_1_on_failing_data(setup, tmp_path):
    model, table_path, shards, table = setup
    out = tmp_path / "e.json"
    result = run_zpml("evaluate", model, shards, "--json", out, "--html", tmp_path / "e.html")
    assert result.returncode == 0, result.stderr
    assert "true label (rows) x decoded status (columns)" in result.stdout
    written = json.loads(out.read_text())
    assert written["rows"] == len(table) and written["tau_infer"] == 0.6
    assert set(written["metrics"]) >= {"loss", "coverage", "bottom_f1", "censored_any_side"}
    assert (tmp_path / "e.html").read_text().startswith("<!DOCTYPE html>")
    bad = table.assign(state="Finite")
    bad.to_parquet(tmp_path / "bad.parquet")
    failed = run_zpml("evaluate", model, tmp_path / "bad.parquet", "--json", tmp_path / "f.json")
    assert failed.returncode == 1, failed.stderr
    assert "status_known" in failed.stderr and not (tmp_path / "f.json").exists()
    before = table_path.read_bytes()
    onto = run_zpml("evaluate", model, table_path, "--json", table_path)
    assert onto.returncode == 2 and "would overwrite the input" in onto.stderr
    assert table_path.read_bytes() == before
