"""Holes found by attacking ``zpml predict``, ``zpml evaluate`` and the model record.

Each case through the real command: its exit code, one line naming the
culprit, no traceback, nothing written, every input byte unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.hostile.conftest import zpml_fails
from zpml_data.errors import DataError
from zpml_train import ProjectiveMLP
from zpml_train.model.spec import RECORD_KEY, ModelRecord, model_spec
from zpml_train.training._checkpoint import write_checkpoint


def _written(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_a_source_given_twice_is_refused_whatever_its_spelling(work, tmp_path):
    source = work / "data" / "rows.parquet"
    link = tmp_path / "same.parquet"
    link.symlink_to(source)
    before = _written(tmp_path)
    out = tmp_path / "p.parquet"
    zpml_fails(2, r"rows\.parquet'? is given twice", "predict", work / "run", source, source,
               "--out", out, inputs=(work,))  # fmt: skip
    zpml_fails(2, r"same\.parquet'? is given as .*rows\.parquet", "predict", work / "run", source,
               link, "--out", out, inputs=(work,))  # fmt: skip
    os.link(source, tmp_path / "hard.parquet")
    zpml_fails(2, r"hard\.parquet'? is given as", "predict", work / "run", source,
               tmp_path / "hard.parquet", "--out", out, inputs=(work,))  # fmt: skip
    assert _written(tmp_path) == before | {tmp_path / "hard.parquet"}


def test_an_output_spelled_or_standing_as_a_directory_is_refused(work, tmp_path):
    source = work / "data" / "rows.parquet"
    (tmp_path / "made.parquet").mkdir()
    for out in (f"{tmp_path / 'pred.parquet'}{os.sep}", tmp_path / "made.parquet"):
        zpml_fails(2, r"output '.*(pred|made)\.parquet/?' is a directory", "predict",
                   work / "run", source, "--out", out, inputs=(work,))  # fmt: skip
    for option, name in (("--json", "e.json"), ("--html", "e.html")):
        zpml_fails(2, rf"output '.*{name}/' is a directory; {option} names", "evaluate",
                   work / "run", source, option, f"{tmp_path / name}{os.sep}",
                   inputs=(work,))  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["made.parquet"]
    assert list((tmp_path / "made.parquet").iterdir()) == []


def _checkpoint_with(path: Path, head: str, **record: object) -> Path:
    """A checkpoint over inputs a, b whose model record has ``record`` written in."""
    torch.manual_seed(0)
    model = ProjectiveMLP(2, 1, (4,), head=head)  # type: ignore[arg-type]
    plain = ModelRecord(model_spec(model), ["a", "b"], ["y"], 0.1, 0.1).to_dict() | record
    write_checkpoint(path, {"model": model.state_dict(), RECORD_KEY: plain})
    return path


@pytest.mark.parametrize(
    ("head", "field", "value", "match"),
    [
        ("rational", "tau_infer", 1e308, r"outside float32"),
        ("rational", "tau_infer", 1e-40, r"outside float32"),
        ("rational", "tau_infer_calibrated", float("nan"), r"finite number, got nan"),
        ("rational", "tau_infer_configured", 0.0, r"must be > 0"),
        ("rational", "tau_infer", -0.1, r"must be > 0"),
        ("gated", "tau_infer", 1e308, r"at or above 1"),
        ("gated", "tau_infer_calibrated", 1.0, r"at or above 1"),
        ("gated", "tau_infer_configured", float("inf"), r"finite number, got inf"),
    ],
)
def test_a_recorded_threshold_the_head_cannot_decode_at_is_refused(
    work, tmp_path, head, field, value, match
):
    model = _checkpoint_with(tmp_path / "bad.pt", head, **{field: value})
    source = work / "data" / "rows.parquet"
    out = tmp_path / "p.parquet"
    pattern = rf"bad\.pt.*{field}: .*{match}"
    zpml_fails(2, pattern, "predict", model, source, "--out", out, inputs=(model, work))
    zpml_fails(2, pattern, "evaluate", model, source, inputs=(model, work))
    assert _written(tmp_path) == {model}


def test_a_threshold_in_range_still_loads(tmp_path):
    from zpml_train import load_model

    for head, tau in (("rational", 3.0), ("gated", 0.9)):
        path = _checkpoint_with(tmp_path / f"{head}.pt", head, tau_infer=tau)
        assert load_model(path).tau_infer == tau


@pytest.mark.parametrize("bad", [np.nan, 1e39, -np.inf])
def test_evaluate_refuses_trainable_rows_whose_inputs_are_not_finite(work, tmp_path, bad):
    rng = np.random.default_rng(1)
    table = pd.DataFrame(
        {
            "a": np.full(12, bad),
            "b": rng.normal(size=12),
            "y": rng.normal(size=12),
            "status": ["finite"] * 10 + ["missing", "bottom"],
        }
    )
    table.loc[10, "y"] = table.loc[11, "y"] = np.nan
    table.loc[0, "b"] = np.inf
    data = tmp_path / "labelled.parquet"
    table.to_parquet(data)
    zpml_fails(1, r"labelled\.parquet: .*input_finite.*11 in 'a', 1 in 'b'", "evaluate",
               work / "run", data, "--json", tmp_path / "e.json",
               inputs=(work, data))  # fmt: skip
    assert _written(tmp_path) == {data}


def test_evaluate_scores_a_table_whose_only_non_finite_inputs_are_on_untrained_rows(work, tmp_path):
    from zpml_train.evaluate import evaluate

    table = pd.DataFrame(
        {"a": [0.1, 0.2, np.nan], "b": [0.3, 0.4, np.inf], "y": [1.0, 2.0, np.nan],
         "status": ["finite", "finite", "missing"]}
    )  # fmt: skip
    assert evaluate(work / "run", table).rows == 3
    table.loc[0, "a"] = np.nan
    with pytest.raises(DataError, match=r"^<DataFrame>: .*input_finite.* 1 in 'a'\)"):
        evaluate(work / "run", table)


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete split directory ``split/`` (train/ and val/) from 60 labelled rows."""
    from tests.conftest import run_zpml

    root = tmp_path_factory.mktemp("half-split")
    rng = np.random.default_rng(2)
    pd.DataFrame(
        {"x": rng.normal(size=60), "value": rng.normal(size=60), "status": ["finite"] * 60}
    ).to_parquet(root / "src.parquet")
    done = run_zpml("shard", str(root / "src.parquet"), str(root / "split"), "--split", "val=0.25")
    assert done.returncode == 0, done.stderr
    return root / "split"


@pytest.mark.parametrize(
    ("remove", "said"),
    [
        ("val", r"val/ is missing"),
        ("val/manifest.json", r"val/ has no manifest"),
        ("train", r"train/ is missing"),
    ],
)
def test_training_on_a_half_written_split_names_the_missing_set_and_the_fix(
    split, tmp_path, remove, said
):
    import shutil

    half = tmp_path / "half"
    shutil.copytree(split, half)
    gone = half / remove
    shutil.rmtree(gone) if gone.is_dir() else gone.unlink()
    run = tmp_path / "run"
    zpml_fails(1, rf"half: a half-written split \({said}\).*zpml shard .*--split .*--overwrite",
               "train", half, "--out", run, "--epochs", "1", inputs=(half,))  # fmt: skip
    assert not run.exists()
