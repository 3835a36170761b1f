"""`zpml demo` ends with a trained model: its run directory, as a newcomer finds it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from tests.conftest import run_zpml as zpml
from zpml_data.shards.verify import verify_shards
from zpml_train import ProjectiveMLP

METRICS = ("loss", "coverage", "finite_rmse", "finite_decoded", "bottom_recall")


def test_demo_trains_a_model_that_resume_continues(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = zpml("demo", out)
    assert result.returncode == 0, result.stderr
    audit = json.loads((out / "assay-audit.json").read_text())
    assert f"audit: {audit['verdict']}" in result.stdout
    train = verify_shards(out / "rational-train-shards")  # checksums verified
    val = verify_shards(out / "rational-val-shards")
    assert (train.rows, val.rows) == (20_000, 4_000)

    run = out / "run"
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == list(range(8))
    losses = [m["loss"] for m in metrics]
    assert all(loss == loss for loss in losses) and losses[-1] < 0.5 * losses[0]
    assert metrics[-1]["val_bottom_recall"] > 0.9  # it learned where the poles are
    state = torch.load(run / "last.pt", weights_only=True)
    model = ProjectiveMLP(1, 1, hidden=(32, 32))
    model.load_state_dict(state["model"])
    page = (run / "report.html").read_text()
    for name in (*METRICS, "bottom_precision", "censored_accuracy"):
        assert f'id="chart-{name}"' in page
    printed = re.search(r"bottom_recall +(\S+) +(\S+)", result.stdout)  # train, validation
    assert printed is not None and printed.group(2) == f"{metrics[-1]['val_bottom_recall']:.4g}"

    command = re.search(r"continue it with: zpml (train .*--resume)", result.stdout)
    assert command is not None
    resumed = zpml(*command.group(1).split())
    assert resumed.returncode == 0, resumed.stderr
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 12

    again = zpml("demo", out)  # a second demo replaces its own run, nothing else
    assert again.returncode == 0, again.stderr
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 8
