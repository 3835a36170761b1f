"""`zpml demo` ends with a model trained per dataset: their run directories, as found."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import DemoRun
from tests.conftest import run_zpml as zpml
from zpml_data.demo import MODELS, NEW_ROWS, run_demo
from zpml_data.plugins import plugin_hook
from zpml_data.shards.verify import verify_shards
from zpml_data.status import STATUS_LABELS, Status


def history(run: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def section(stdout: str, head: str) -> str:
    """What the demo printed from training the ``head`` model up to the next model."""
    return stdout.split(f"train: the {head} head on ", 1)[1].split("\ntrain: ", 1)[0]


def test_the_demo_trains_the_head_each_dataset_needs(demo: DemoRun) -> None:
    assert [(m.name, m.head) for m in MODELS] == [("assay", "gated"), ("rational", "rational")]
    for model in MODELS:
        assert verify_shards(demo.out / f"{model.name}-train-shards").rows == 20_000
        assert verify_shards(demo.out / f"{model.name}-val-shards").rows == 4_000
        run = demo.out / "runs" / model.name
        config = json.loads((run / "config.json").read_text())
        assert config["head"]["head"] == model.head  # chosen from the status mix
        records = history(run)
        assert [r["epoch"] for r in records] == list(range(model.epochs))
        assert all(r["loss"] == r["loss"] for r in records)
        printed = section(demo.result.stdout, model.head)
        for metric in ("bottom_recall", "bottom_precision", "finite_rmse"):
            assert re.search(rf"^{metric} ", printed, re.M), (model.name, metric)
        assert f"run directory: {run} (report.html" in printed
        page = (run / "report.html").read_text()
        assert 'id="chart-loss"' in page and 'id="status-mix"' in page
    pages = demo.result.stdout.rsplit("open in a browser: ", 1)[1].strip().split(", ")
    assert all(Path(page).is_file() for page in pages) and len(pages) == 4


def test_the_demo_evaluates_the_assay_model_and_predicts_new_readings(demo: DemoRun) -> None:
    assert "value: true label (rows) x decoded status (columns)" in demo.result.stdout
    page = (demo.out / "assay-evaluation.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    predicted = pd.read_parquet(demo.out / "assay-predictions.parquet")
    assert len(predicted) == NEW_ROWS
    assert set(predicted["value_pred_status"].astype(str)) <= set(STATUS_LABELS)


def test_each_model_learned_what_its_data_hold(demo: DemoRun) -> None:
    rational = history(demo.out / "runs" / "rational")
    assert rational[-1]["val_bottom_recall"] > 0.9  # it learned where the poles are
    assert rational[-1]["loss"] < 0.5 * rational[0]["loss"]
    assay = history(demo.out / "runs" / "assay")
    assert assay[-1]["loss"] < assay[0]["loss"]
    assert assay[-1]["val_censored_any_side"] > 0.9  # censored rows on the right side
    assert assay[-1]["val_domain_invalid_recall"] > 0.8  # negative doses (41 rows) found
    printed = section(demo.result.stdout, "gated")
    assert re.search(r"^censored_bottom_side ", printed, re.M)


def test_the_printed_command_continues_the_run(demo: DemoRun, tmp_path: Path) -> None:
    run = demo.out / "runs" / "rational"
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    command = re.search(
        rf"continue it with: zpml (train .*--out {run} .*--resume)", demo.result.stdout
    )
    assert command is not None and "--epochs 12 " in command.group(1)
    argv = command.group(1).replace(str(run), str(copy)).replace("--epochs 12", "--epochs 9")
    resumed = zpml(*argv.split())  # one epoch more is enough to show it continues
    assert resumed.returncode == 0, resumed.stderr
    assert [r["epoch"] for r in history(copy)] == list(range(9))


def test_the_trained_assay_model_predicts_statuses(demo: DemoRun) -> None:
    from zpml_train import load_model

    frame = pd.read_parquet(demo.out / "assay-val.parquet")
    predicted = load_model(demo.out / "runs" / "assay").predict(frame)
    status = predicted["value_pred_status"].astype(str)
    finite = frame["status"].astype(str) == Status.FINITE.label
    assert (status[finite] == "finite").mean() > 0.6
    assert (status[~finite & (frame["status"] != "missing")] != "finite").mean() > 0.6


def test_without_the_training_package_the_demo_does_the_data_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ["zpml_train", *(m for m in sys.modules if m.startswith("zpml_train."))]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it now fails, as if absent
    function, reason = plugin_hook("train", "train_shards")
    assert function is None and "'train' command" in reason and "failed to load" in reason
    lines: list[str] = []
    result = run_demo(tmp_path / "out", echo=lines.append)
    assert result.trained == {} and result.skipped == reason
    assert lines[-1].startswith(f"train: skipped, {reason}")
    assert verify_shards(tmp_path / "out" / "assay-train-shards").rows == 20_000
    assert not (tmp_path / "out" / "runs").exists()
