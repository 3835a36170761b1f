"""``zpml shard --split`` and ``zpml predict`` under hostile use, through the real command.

Each refusal: its exit code, one line naming the culprit, nothing written and
every input byte unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from tests.conftest import run_zpml
from tests.hostile.conftest import labelled, zpml_fails
from zpml_train import ProjectiveMLP
from zpml_train.model.spec import RECORD_KEY, ModelRecord, model_spec
from zpml_train.training._checkpoint import write_checkpoint


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A clean labelled table of 20 rows with a ``site`` column of two groups."""
    path = tmp_path / "in" / "a.parquet"
    path.parent.mkdir()
    labelled(site=["north"] * 10 + ["south"] * 10).to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory whose model reads inputs a, b and predicts y."""
    run = tmp_path_factory.mktemp("split-predict-hostile") / "run"
    run.mkdir()
    torch.manual_seed(0)
    net = ProjectiveMLP(2, 1, (4,))
    record = ModelRecord(model_spec(net), ["a", "b"], ["y"], 0.1, 0.1)
    write_checkpoint(run / "best.pt", {"model": net.state_dict(), RECORD_KEY: record.to_dict()})
    return run


def test_a_second_split_or_split_option_is_a_usage_error_naming_both(source, tmp_path):
    out = tmp_path / "out"
    zpml_fails(2, r"--split given 2 times \('val=0.2', 'val=0.3'\)", "shard", source, out,
               "--split", "val=0.2", "--split", "val=0.3", inputs=(source,))  # fmt: skip
    zpml_fails(2, r"--split given 2 times \('val=0.2', 'test=0.1'\)", "shard", source, out,
               "--split", "val=0.2", "--split", "test=0.1", inputs=(source,))  # fmt: skip
    zpml_fails(2, r"--split takes val=F.*got 'test=0.1'", "shard", source, out, "--split",
               "test=0.1", inputs=(source,))  # fmt: skip
    zpml_fails(2, r"--split-by given 2 times \('site', 'x'\)", "shard", source, out, "--split",
               "val=0.2", "--split-by", "site", "--split-by", "x", inputs=(source,))  # fmt: skip
    zpml_fails(2, r"--split-seed given 2 times \(1, 2\)", "shard", source, out, "--split",
               "val=0.2", "--split-seed", "1", "--split-seed", "2", inputs=(source,))  # fmt: skip
    assert not out.exists()


def test_a_predictions_name_of_no_known_format_is_refused_naming_the_suffix(model, tmp_path):
    rows = tmp_path / "rows.parquet"
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=8), "b": rng.normal(size=8)}).to_parquet(rows)
    for name, said in [("o.txt", "suffix '.txt'"), ("o.parquet.gz", "suffix '.gz'"),
                       ("predictions", "no suffix")]:  # fmt: skip
        zpml_fails(2, rf"{said}; .*\.parquet, \.pq, \.csv", "predict", model, rows, "--out",
                   tmp_path / name, inputs=(rows, model))  # fmt: skip
    csv = tmp_path / "kept.csv"
    csv.write_text("mine\n")
    (tmp_path / "link.parquet").symlink_to(csv)
    zpml_fails(2, r"links to .*kept.csv', a file of another format", "predict", model, rows,
               "--out", tmp_path / "link.parquet", inputs=(rows, model, csv))  # fmt: skip
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["kept.csv", "link.parquet", "rows.parquet"]
    for name in ("o.PQ", "o.csv"):
        assert run_zpml("predict", model, rows, "--out", tmp_path / name).returncode == 0
    assert pq.read_table(tmp_path / "o.PQ").num_rows == 8
    assert pd.read_csv(tmp_path / "o.csv").shape == (8, 4)


def test_splitting_by_a_target_column_is_refused_naming_it(source, tmp_path):
    out = tmp_path / "out"
    for column, role in [("value", "value"), ("status", "status")]:
        zpml_fails(2, rf"cannot split by '{column}', the {role} column of target 'value'",
                   "shard", source, out, "--split", "val=0.2", "--split-by", column,
                   inputs=(source,))  # fmt: skip
    renamed = tmp_path / "in" / "renamed.parquet"
    labelled().rename(columns={"value": "y", "status": "y_label"}).to_parquet(renamed)
    zpml_fails(2, r"cannot split by 'y_label', the status column of target 'y'", "shard",
               renamed, out, "--value", "y", "--status", "y_label", "--split", "val=0.2",
               "--split-by", "y_label", inputs=(source, renamed))  # fmt: skip
    assert not out.exists()


def test_an_empty_train_split_is_a_data_error_that_leaves_the_output_as_it_was(source, tmp_path):
    # Seed 6 hashes both sites into val at 0.5, seed 1 one site each, seed 0 both into train.
    split = ("--split", "val=0.5", "--split-by", "site")
    out = tmp_path / "out"
    zpml_fails(1, r"train split would be empty: all 20 rows, in 2 group\(s\) of 'site', hash "
               r"into val at fraction 0.5 with seed 6; try another --split-seed or a smaller "
               r"fraction", "shard", source, out, *split, "--split-seed", "6",
               inputs=(source,))  # fmt: skip
    assert not out.exists()
    out.mkdir()
    zpml_fails(1, r"train split would be empty", "shard", source, out, *split, "--split-seed", "6",
               inputs=(source,))  # fmt: skip
    assert list(out.iterdir()) == []
    assert run_zpml("shard", source, out, *split, "--split-seed", "1").returncode == 0
    zpml_fails(1, r"train split would be empty", "shard", source, out, *split, "--split-seed", "6",
               "--overwrite", inputs=(source, out))  # fmt: skip
    three = tmp_path / "in" / "three.parquet"
    labelled(3).to_parquet(three)
    zpml_fails(1, r"train split would be empty: all 3 rows hash into val at fraction 0.5 with "
               r"seed 18", "shard", three, tmp_path / "rows", "--split", "val=0.5",
               "--split-seed", "18", inputs=(source, three))  # fmt: skip
    assert not (tmp_path / "rows").exists()


def test_an_empty_val_split_stays_a_warning(source, tmp_path):
    out = tmp_path / "out"
    result = run_zpml("shard", source, out, "--split", "val=0.5", "--split-by", "site")
    assert result.returncode == 0, result.stderr
    assert "warning: the val split is empty" in result.stderr
    assert pq.read_table(out / "train" / "part-00000.parquet").num_rows == 20
