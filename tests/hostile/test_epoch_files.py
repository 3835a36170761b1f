"""An epoch's files are written together: a failed write keeps the previous epoch's, all of them.

Through the real ``zpml train`` under a file size limit (``ulimit -f``) that
the first epoch's files fit and the second epoch's checkpoint does not.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tests.conftest import run_zpml
from tests.hostile.conftest import checkpoint_write_fails


def test_a_failed_checkpoint_write_leaves_metrics_at_the_checkpoints_epoch(
    shards: Path, tmp_path: Path
) -> None:
    sized = tmp_path / "sized"
    assert run_zpml("train", shards, "--out", sized, "--epochs", "1").returncode == 0
    # Each epoch adds its record (about 200 bytes) to the checkpoint's history:
    # the first epoch's files fit under the limit, the second epoch's last.pt does not.
    limit = (sized / "last.pt").stat().st_size + 64
    run = tmp_path / "run"
    args = ["train", shards, "--out", run, "--epochs", "3"]
    checkpoint_write_fails(limit, *args)
    last = torch.load(run / "last.pt", weights_only=True)
    best = torch.load(run / "best.pt", weights_only=True)
    assert last["epoch"] == best["epoch"] == 1  # the second epoch's checkpoint failed
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [r["epoch"] for r in last["history"]]
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
