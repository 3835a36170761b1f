"""Hostile cases through the real ``zpml`` command: exit code, one line, inputs intact."""

from __future__ import annotations

import hashlib
import re
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import run_zpml
from zpml_data.datasets import rational_poles
from zpml_train import ProjectiveMLP
from zpml_train.model.spec import RECORD_KEY, ModelRecord, model_spec
from zpml_train.training._checkpoint import write_checkpoint


def checksums(*roots: Path) -> dict[str, str]:
    """The sha256 of every file under ``roots`` (a file root counts as itself)."""
    files = [p for root in roots for p in ([root] if root.is_file() else sorted(root.rglob("*")))]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def zpml_fails(code: int, match: str, *args: object, inputs: tuple[Path, ...] = ()) -> str:
    """Run ``zpml``; assert the exit code, one error line matching ``match``, inputs unchanged.

    Returns:
        The error line.
    """
    before = checksums(*inputs)
    result = run_zpml(*map(str, args))
    errors = [line for line in result.stderr.splitlines() if line.startswith("zpml")]
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert len(errors) == 1, result.stderr
    assert re.search(match, errors[0]), errors[0]
    assert checksums(*inputs) == before
    return errors[0]


def labelled(rows: int = 20, **extra: object) -> pd.DataFrame:
    """A small clean labelled table: value, status, one input ``x``, plus ``extra`` columns."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"value": rng.normal(size=rows), "status": ["finite"] * rows, "x": rng.normal(size=rows)}
    )
    frame.loc[1, ["value", "status"]] = [np.nan, "bottom"]
    for name, column in extra.items():
        frame[name] = column
    return frame


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path/a.parquet``, a clean labelled table, and ``tmp_path/legacy.csv``."""
    labelled().to_parquet(tmp_path / "a.parquet", index=False)
    pd.DataFrame({"value": [1.0, np.nan, np.inf, 2.0], "x": [1, 2, 3, 4]}).to_csv(
        tmp_path / "legacy.csv", index=False
    )
    yield tmp_path


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Training shards of 300 rational-pole rows (with ⊥ targets)."""
    root = tmp_path_factory.mktemp("shards")
    rational_poles(300, seed=0).to_parquet(root / "t.parquet")
    assert run_zpml("shard", root / "t.parquet", root / "shards").returncode == 0
    return root / "shards"


def limit_file_size(size: int) -> None:
    """In a child process: writes past ``size`` bytes fail with EFBIG instead of killing it."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def checkpoint_write_fails(size: int, *args: object) -> str:
    """Run ``zpml`` with files limited to ``size`` bytes; assert exit 2 and one line naming
    ``last.pt`` and the limit, no traceback; return that line."""
    result = subprocess.run(
        [sys.executable, "-m", "zpml_data.cli", *map(str, args)],
        preexec_fn=lambda: limit_file_size(size),
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("zpml")]
    assert result.returncode == 2, result.stderr
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "last.pt" in errors[0] and "file size limit" in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model over inputs a, b in ``run/best.pt``; a 30-row table ``data/rows.parquet``."""
    root = tmp_path_factory.mktemp("predict")
    torch.manual_seed(0)
    model = ProjectiveMLP(2, 1, (4,))
    record = ModelRecord(model_spec(model), ["a", "b"], ["y"], 0.1, 0.1)
    (root / "run").mkdir()
    write_checkpoint(
        root / "run" / "best.pt", {"model": model.state_dict(), RECORD_KEY: record.to_dict()}
    )
    (root / "data").mkdir()
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=30), "b": rng.normal(size=30)}).to_parquet(
        root / "data" / "rows.parquet"
    )
    return root
