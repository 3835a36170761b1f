"""The CUDA paths of the loader and of `zpml train` (skipped without a GPU)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import run_zpml as zpml
from zpml_data import write_shards
from zpml_data.datasets import rational_poles
from zpml_train import make_loader

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cuda")
    write_shards(rational_poles(4_000), root / "shards", row_group_rows=500)
    return root / "shards"


@pytest.mark.parametrize("num_workers", [0, 2])
def test_pinned_batches_move_to_the_gpu_unchanged(shards: Path, num_workers: int) -> None:
    loader = make_loader(shards, 256, num_workers=num_workers, pin_memory=True, seed=1)
    rows = 0
    for batch in loader:
        assert batch.inputs.is_pinned() and batch.values.is_pinned()
        assert batch.targets is not None and batch.targets.Y_d.is_pinned()
        moved = batch.to("cuda", non_blocking=True)
        assert moved.inputs.device.type == "cuda" and moved.targets is not None
        assert moved.targets.mask_bottom.device.type == "cuda"
        torch.testing.assert_close(moved.inputs.cpu(), batch.inputs)
        torch.testing.assert_close(moved.targets.Y_n.cpu(), batch.targets.Y_n)
        rows += batch.num_rows
    assert rows == 4_000


@pytest.mark.parametrize("amp_dtype", ["float16", "bfloat16"])
def test_zpml_train_on_cuda_with_mixed_precision(
    shards: Path, tmp_path: Path, amp_dtype: str
) -> None:
    config = tmp_path / "amp.toml"
    config.write_text(f'mixed_precision = true\namp_dtype = "{amp_dtype}"\n')
    run = tmp_path / "run"
    args = ("train", shards, "--config", config, "--device", "cuda", "--out", run)
    result = zpml(*args, "--epochs", "2", "--lr", "0.01")
    assert result.returncode == 0, result.stderr
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(m["loss"]) for m in metrics) and metrics[-1]["rows"] == 4_000
    state = torch.load(run / "last.pt", weights_only=True, map_location="cpu")
    assert all(t.device.type == "cpu" for t in state["model"].values())
    resumed = zpml(*args, "--epochs", "3", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
