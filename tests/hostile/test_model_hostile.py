"""Models under hostile use (``zpml predict``, ``load_model``): one line, nothing written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.conftest import run_zpml
from tests.hostile.conftest import zpml_fails
from zpml_data.datasets import rational_poles
from zpml_data.errors import ConfigError
from zpml_train import load_model


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A one-epoch run's best.pt and a table to predict."""
    root = tmp_path_factory.mktemp("model")
    rational_poles(200, seed=0).to_parquet(root / "t.parquet")
    assert run_zpml("shard", root / "t.parquet", root / "shards").returncode == 0
    trained = run_zpml("train", root / "shards", "--out", root / "run", "--epochs", "1")
    assert trained.returncode == 0, trained.stderr
    return root / "run" / "best.pt", root / "t.parquet"


@pytest.mark.parametrize(
    ("device", "match"),
    [
        ("meta", "'meta' holds no data to compute on"),
        ("vulkan", "cannot use vulkan devices here"),
        ("gpu:zero", "must be a torch device"),
    ],
)
def test_an_unusable_device_is_one_line(
    model: tuple[Path, Path], tmp_path: Path, device: str, match: str
) -> None:
    checkpoint, table = model
    out = tmp_path / "p.parquet"
    zpml_fails(2, match, "predict", checkpoint, table, "--out", out, "--device", device)
    assert not out.exists()


def _nan_weights(state: dict) -> None:
    state["model"]["backbone.0.weight"].fill_(float("nan"))


def _zero_scale(state: dict) -> None:
    state["model"]["input_scale"].fill_(0.0)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (_nan_weights, r"backbone.0.weight not finite"),
        (_zero_scale, r"input_scale \(not positive\)"),
    ],
)
def test_weights_that_decode_every_row_as_bottom_are_refused(
    model: tuple[Path, Path], tmp_path: Path, edit: Callable[[dict], None], match: str
) -> None:
    checkpoint, table = model
    state = torch.load(checkpoint, weights_only=True)
    edit(state)
    edited = tmp_path / "edited.pt"
    torch.save(state, edited)
    with pytest.raises(ConfigError, match=rf"edited.pt: the weights are not usable .*{match}"):
        load_model(edited)
    out = tmp_path / "p.parquet"
    zpml_fails(2, "the weights are not usable", "predict", edited, table, "--out", out)
    assert not out.exists()


@pytest.mark.parametrize(
    ("rows", "what"), [(0, "no rows"), (40, "40 rows, every target 'missing'")]
)
def test_evaluating_on_nothing_to_score_is_refused(
    model: tuple[Path, Path], tmp_path: Path, rows: int, what: str
) -> None:
    checkpoint, table = model
    frame = pd.read_parquet(table).iloc[:rows].copy()
    frame["status"] = "missing"
    data = tmp_path / "unscored.parquet"
    frame.to_parquet(data)
    report = tmp_path / "e.json"
    zpml_fails(
        1,
        rf"unscored.parquet: nothing to evaluate \({what}\)",
        "evaluate",
        checkpoint,
        data,
        "--json",
        report,
        inputs=(data,),
    )
    assert not report.exists()
