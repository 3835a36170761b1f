"""Every script in examples/ runs to the end and does what its docstring says."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.conftest import run_zpml
from zpml_data.datasets import assay_dose_response
from zpml_data.status import STATUS_LABELS

EXAMPLES = Path(__file__).parents[2] / "examples"


def run(script, *args):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_there_are_exactly_the_examples_tested_here():
    assert {p.name for p in EXAMPLES.glob("*.py")} == {
        "assay_pipeline.py",
        "train_val_skew.py",
        "train_from_shards.py",
        "predict_and_evaluate.py",
    }
    assert {p.name for p in EXAMPLES.glob("*.yaml")} == {"custom_schema.yaml"}
    assert {p.name for p in EXAMPLES.glob("*.sh")} == {"ddp_train.sh"}


def test_ddp_train_trains_on_two_ranks_and_rank_0_writes_the_run(tmp_path):
    work = tmp_path / "ddp"
    bin_dir = Path(sys.executable).parent  # zpml and torchrun, installed beside this python
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", str(EXAMPLES / "ddp_train.sh"), str(work)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    config = json.loads((work / "run" / "config.json").read_text())
    assert config["ranks"] == 2
    metrics = [
        json.loads(line) for line in (work / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [m["epoch"] for m in metrics] == [0, 1, 2]
    # Each row once, plus fewer than world_size x batch_size repeats that even out the ranks.
    assert 20_000 <= metrics[-1]["rows"] < 20_000 + 2 * 256
    assert 4_000 <= metrics[-1]["val_rows"] < 4_000 + 2 * 256


def test_assay_pipeline_recovers_the_labels_audits_by_site_and_verifies_shards(tmp_path):
    stdout = run("assay_pipeline.py", tmp_path / "work")
    frame = assay_dose_response(n_rows=50_000, seed=1)  # what the script exports
    assert "rows in: 50,000  rows out: 50,000" in stdout
    # The legacy export wrote censored rows as ±inf: their limits are lost, and the
    # audit says so (censored_bound_present, a warning).
    assert "audit verdict: warn" in stdout
    for site, rows in frame.groupby("site", observed=True):
        counts = rows["status"].astype(str).value_counts()
        finite, below = int(counts.get("finite", 0)), int(counts.get("censored_below", 0))
        assert f"  {site}: {finite:,} finite, {below:,} below LOD" in stdout
    assert re.search(r"^50,000 rows in \d+ verified shards at ", stdout, re.M)
    labelled = pd.read_parquet(tmp_path / "work" / "assay-labelled.parquet")
    assert (labelled["status"].astype(str) == frame["status"].astype(str)).all()


def test_train_val_skew_flags_exactly_the_labels_whose_share_moved_over_5_pp():
    stdout = run("train_val_skew.py")
    frame = assay_dose_response(n_rows=40_000, seed=2)
    status = frame["status"].astype(str)
    train = status[frame["site"] != "site-A"].value_counts(normalize=True)
    validation = status[frame["site"] == "site-A"].value_counts(normalize=True)
    moved = {
        label
        for label in STATUS_LABELS
        if abs(validation.get(label, 0.0) - train.get(label, 0.0)) > 0.05
    }
    assert "censored_above" in moved  # the planted skew: site-A saturates more often
    flagged = {line.split()[0] for line in stdout.splitlines() if line.endswith("<- skew")}
    assert flagged == moved
    assert stdout.rstrip().endswith("verdict: warn")


def test_train_from_shards_prints_per_status_metrics_each_epoch_and_the_loss_falls(tmp_path):
    stdout = run("train_from_shards.py", tmp_path)
    epochs = re.findall(
        r"^epoch (\d+)  loss (\S+)  val coverage (\S+)  finite_rmse (\S+)  "
        r"bottom_recall (\S+)  bottom_precision (\S+)$",
        stdout,
        re.M,
    )
    assert [int(e[0]) for e in epochs] == list(range(8))
    losses = [float(e[1]) for e in epochs]
    assert losses[-1] < 0.2 * losses[0]
    assert all(0.0 <= float(e[2]) <= 1.0 for e in epochs)  # coverage is a share
    assert f"loss fell from {losses[0]:.4f} to {losses[-1]:.4f}" in stdout
    report = (tmp_path / "report.html").read_text()
    assert 'id="chart-bottom_recall"' in report and 'id="scatter-target"' in report
    assert {p.name for p in tmp_path.iterdir()} >= {"train", "val", "report.html"}


def _audit_with_custom_schema(path):
    schema = EXAMPLES / "custom_schema.yaml"
    return run_zpml("audit", path, "--schema", schema, "--inputs", "dose,temperature,incubation_h")


def test_custom_schema_passes_clean_assay_data_and_flags_a_planted_dose(tmp_path):
    frame = assay_dose_response(n_rows=5_000, seed=3)
    frame.to_parquet(tmp_path / "clean.parquet")
    clean = _audit_with_custom_schema(tmp_path / "clean.parquet")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "verdict: pass" in clean.stdout and "[your schema]" not in clean.stdout

    frame.loc[17, "dose"] = 2_500.0  # µM typed for nM: over the plate's top concentration
    frame.loc[40, "incubation_h"] = 36.0  # not a protocol read time
    frame.to_parquet(tmp_path / "planted.parquet")
    planted = _audit_with_custom_schema(tmp_path / "planted.parquet")
    assert planted.returncode == 1, planted.stdout + planted.stderr
    failed = [line.strip() for line in planted.stdout.splitlines() if "[your schema]" in line]
    assert len(failed) == 2, planted.stdout
    assert failed[0].startswith("ERROR in_range(-100.0, 100.0)") and "1 rows" in failed[0]
    assert "row 17)" in failed[0]
    assert "isin" in failed[1] and "row 40)" in failed[1]
    assert "verdict: fail" in planted.stdout


def test_predict_and_evaluate_scores_val_predicts_new_rows_and_the_predictions_audit(tmp_path):
    stdout = run("predict_and_evaluate.py", tmp_path)
    scores = json.loads((tmp_path / "evaluation.json").read_text())
    assert f"evaluated {scores['rows']:,} validation rows" in stdout
    confusion = scores["confusion"]["value"]
    assert sum(sum(row.values()) for row in confusion.values()) == scores["rows"]
    # Trained on censored data, the model decodes most censored_below rows on their side.
    below = confusion["censored_below"]
    assert below["censored_below"] > 0.5 * sum(below.values())
    predictions = pd.read_parquet(tmp_path / "predictions.parquet")
    assert len(predictions) == 1_000
    assert list(predictions.columns)[-2:] == ["value_pred", "value_pred_status"]
    decoded_bottom = predictions["value_pred_status"] != "finite"
    assert (predictions["value_pred"].isna() == decoded_bottom).all()
    assert re.search(r"^audit of the predictions: verdict: (pass|warn)$", stdout, re.M)
    assert (tmp_path / "evaluation.html").read_text().startswith("<!DOCTYPE html>")
