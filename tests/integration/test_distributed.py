"""`zpml train` and the loader under `torchrun --standalone --nproc_per_node 2` on gloo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import run_zpml as zpml
from zpml_data.datasets import rational_poles
from zpml_train import ProjectiveMLP

HERE = Path(__file__).parent


def torchrun(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
    ]
    return subprocess.run(
        [*command, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ddp")
    rational_poles(2_000).to_parquet(root / "data.parquet")
    result = zpml("shard", root / "data.parquet", root / "shards", "--row-group-rows", "300")
    assert result.returncode == 0, result.stderr
    return root / "shards"


def test_each_rank_reads_disjoint_rows(shards: Path, tmp_path: Path) -> None:
    result = torchrun(HERE / "ddp_rows.py", shards, tmp_path, cwd=HERE.parents[1])
    assert result.returncode == 0, result.stderr
    ranks = [np.load(tmp_path / f"rank{r}.npy") for r in range(2)]
    assert len(ranks[0]) + len(ranks[1]) == 2_000  # 2,000 rows: 32 batches of 64, no padding
    assert not set(ranks[0]) & set(ranks[1])
    assert sorted(np.concatenate(ranks).tolist()) == list(range(2_000))
    counts = [int(np.load(tmp_path / f"batches{r}.npy")[0]) for r in range(2)]
    assert counts == [16, 16]


def test_two_ranks_train_and_rank_0_writes_a_checkpoint_one_process_loads(
    shards: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    result = torchrun(
        "-m", "zpml_data.cli", "train", shards, "--out", run, "--epochs", "2", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [0, 1]
    assert metrics[-1]["rows"] == 2_000  # summed over both ranks
    assert json.loads((run / "config.json").read_text())["ranks"] == 2
    state = torch.load(run / "last.pt", weights_only=True)
    model = ProjectiveMLP(1, 1)
    model.load_state_dict(state["model"])  # no "module." prefix: loads without DDP
    assert state["epoch"] == 2


def test_a_floored_head_is_refused_on_both_ranks_before_any_step(
    shards: Path, tmp_path: Path
) -> None:
    config = tmp_path / "floored.yaml"
    config.write_text("run:\n  q_param: softplus\n  q_min: 0.1\n")  # >= tau_infer 0.05
    run = tmp_path / "run"
    result = torchrun(
        "-m", "zpml_data.cli", "train", shards, "--config", config, "--out", run, cwd=tmp_path
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert output.count("refusing to train") == 2, output  # one line from each rank
    assert not (run / "last.pt").exists()
