"""`zpml train` through the real CLI on shards written by `zpml shard`."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

from tests.conftest import run_zpml as zpml
from zpml_data.datasets import assay_dose_response, rational_poles


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("train")
    for name, seed in (("train", 0), ("val", 1)):
        rational_poles(3_000, seed=seed).to_parquet(root / f"{name}.parquet")
        result = zpml("shard", root / f"{name}.parquet", root / name)
        assert result.returncode == 0, result.stderr
    return root / "train", root / "val"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_train_writes_the_run_directory_and_resumes(
    tmp_path: Path, shards: tuple[Path, Path]
) -> None:
    train, val = shards
    run = tmp_path / "run"
    args = ("train", train, "--val", val, "--out", run, "--batch-size", "128", "--lr", "0.01")
    result = zpml(*args, "--epochs", "2")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in run.iterdir()) == [
        "best.pt",
        "config.json",
        "last.pt",
        "metrics.jsonl",
        "report.html",
    ]
    assert "finite_rmse" in result.stdout and "bottom_recall" in result.stdout
    metrics = _lines(run / "metrics.jsonl")
    assert [m["epoch"] for m in metrics] == [0, 1]
    assert all(m["loss"] == m["loss"] and m["val_loss"] is not None for m in metrics)
    assert metrics[1]["rows"] == 3_000
    config = json.loads((run / "config.json").read_text())
    fingerprint = hashlib.sha256((train / "manifest.json").read_bytes()).hexdigest()
    assert config["data"]["train_manifest_sha256"] == fingerprint
    assert config["run"]["batch_size"] == 128 and config["training"]["max_epochs"] == 2
    checkpoint = torch.load(run / "last.pt", weights_only=True)
    assert checkpoint["epoch"] == 2 and checkpoint["dataset"] == fingerprint

    again = zpml(*args, "--epochs", "2")
    assert again.returncode == 2 and "--resume" in again.stderr  # the run is not replaced

    resumed = zpml(*args, "--epochs", "3", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    after = _lines(run / "metrics.jsonl")
    assert [m["epoch"] for m in after] == [0, 1, 2]
    assert after[:2] == metrics  # the first two epochs are kept as they were
    calibration = json.loads((run / "config.json").read_text())["calibration"]
    best = min(after, key=lambda m: m["val_loss"])
    assert calibration["best_epoch"] == best["epoch"]
    assert calibration["tau_infer_calibrated"] == best["val_tau_calibrated"] is not None

    other = zpml("train", val, "--out", run, "--epochs", "4", "--resume")
    assert other.returncode == 2 and "was trained on dataset" in other.stderr
    assert "Traceback" not in other.stderr


def test_a_head_that_cannot_emit_bottom_is_refused(
    tmp_path: Path, shards: tuple[Path, Path]
) -> None:
    train, _ = shards
    config = tmp_path / "floored.toml"
    config.write_text('[training]\ntau_infer = 1e-6\n\n[run]\nq_param = "softplus"\nq_min = 0.01\n')
    run = tmp_path / "run"
    result = zpml("train", train, "--config", config, "--out", run)
    assert result.returncode == 1, result.stderr
    assert "unreachable" in result.stderr and "bottom" in result.stderr
    assert "allow_bottom_unreachable" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (run / "last.pt").exists()


def test_bad_options_and_configs_exit_2(tmp_path: Path, shards: tuple[Path, Path]) -> None:
    train, _ = shards
    assert zpml("train", train, "--batch-size", "0", "--out", tmp_path / "a").returncode == 2
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[run]\nbatch = 3\n")
    result = zpml("train", train, "--config", unknown, "--out", tmp_path / "b")
    assert result.returncode == 2 and "'batch'" in result.stderr
    missing = zpml("train", tmp_path / "absent", "--out", tmp_path / "c")
    assert missing.returncode == 2 and "no such directory" in missing.stderr
    assert not (tmp_path / "c").exists()  # a run that wrote nothing leaves no directory
    if not torch.cuda.is_available():
        cuda = zpml("train", train, "--device", "cuda", "--out", tmp_path / "d")
        assert cuda.returncode == 2 and "sees no CUDA device" in cuda.stderr


def _digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_hostile_outputs_and_configs_are_refused_leaving_the_inputs_alone(
    tmp_path: Path, shards: tuple[Path, Path]
) -> None:
    train, val = shards
    before = _digest(train), _digest(val)
    for out in (train, train.parent, val / "run"):  # is, holds, or sits inside an input
        result = zpml("train", train, "--val", val, "--out", out, "--overwrite")
        assert result.returncode == 2, (out, result.stderr)
    inside = zpml("train", train, "--out", train.parent)
    assert "would overwrite the input" in inside.stderr
    device = zpml("train", train, "--out", "/dev/stdout")
    assert device.returncode == 2 and "device" in device.stderr
    laughs = tmp_path / "laughs.yaml"
    laughs.write_text('a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nd: [*c,*c]\n')
    for config in (laughs, Path("/dev/zero").with_suffix(".yaml"), tmp_path / "c.ini"):
        result = zpml("train", train, "--config", config, "--out", tmp_path / "r")
        assert result.returncode == 2, (config, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert (_digest(train), _digest(val)) == before


def test_a_second_run_into_a_locked_run_directory_is_refused(
    tmp_path: Path, shards: tuple[Path, Path]
) -> None:
    train, _ = shards
    run = tmp_path / "run"
    run.mkdir()
    fd = os.open(run, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running zpml train holds it
        result = zpml("train", train, "--out", run)
    finally:
        os.close(fd)
    assert result.returncode == 2 and "being written by another zpml run" in result.stderr
    assert list(run.iterdir()) == []


def test_validation_shards_and_checkpoints_that_do_not_fit_are_refused_in_one_line(
    tmp_path: Path, shards: tuple[Path, Path]
) -> None:
    train, _ = shards
    frame = rational_poles(500)
    frame["x2"] = 1.0
    frame.to_parquet(tmp_path / "two.parquet")
    assert zpml("shard", tmp_path / "two.parquet", tmp_path / "two").returncode == 0
    other = zpml("train", train, "--val", tmp_path / "two", "--out", tmp_path / "a")
    assert other.returncode == 2 and "inputs ['x', 'x2']" in other.stderr
    run = tmp_path / "run"
    assert zpml("train", train, "--out", run, "--epochs", "1").returncode == 0
    config = tmp_path / "narrow.toml"
    config.write_text("[run]\nhidden = [8]\n")
    narrow = zpml("train", train, "--out", run, "--epochs", "2", "--resume", "--config", config)
    assert narrow.returncode == 2 and "does not fit this model" in narrow.stderr
    assert len(narrow.stderr.strip().splitlines()) == 1 and "internal error" not in narrow.stderr


def test_shards_without_a_row_to_train_on_are_refused(tmp_path: Path) -> None:
    frame = rational_poles(50)
    frame["status"], frame["value"] = "finite", float("nan")  # every row fails finite_value
    frame.to_parquet(tmp_path / "bad.parquet")
    shard = zpml("shard", tmp_path / "bad.parquet", tmp_path / "bad", "--on-error", "quarantine")
    assert shard.returncode == 0
    result = zpml("train", tmp_path / "bad", "--out", tmp_path / "run")
    assert result.returncode == 1 and "no rows to train on (50 quarantined)" in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def assay(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("assay")
    assay_dose_response(3_000, seed=0).to_parquet(root / "assay.parquet")
    inputs = "dose,temperature,incubation_h"
    result = zpml(
        "shard", root / "assay.parquet", root / "s", "--inputs", inputs, "--split", "val=0.25"
    )
    assert result.returncode == 0, result.stderr
    return root / "s" / "train", root / "s" / "val"


def test_censored_data_train_the_gated_head_with_a_calibrated_tau_infer(
    tmp_path: Path, assay: tuple[Path, Path]
) -> None:
    train, val = assay
    run = tmp_path / "run"
    result = zpml("train", train, "--val", val, "--out", run, "--epochs", "3")
    assert result.returncode == 0, result.stderr
    head_line = result.stderr.splitlines()[0]
    assert head_line.startswith("head: gated, for the ") and "censored_below" in head_line
    config = json.loads((run / "config.json").read_text())
    assert config["head"]["head"] == "gated" and config["training"]["tau_infer"] == 0.5
    assert (config["run"]["batch_size"], config["run"]["lr"]) == (1024, 3e-2)  # the head's
    calibration = config["calibration"]
    metrics = _lines(run / "metrics.jsonl")
    best = min(metrics, key=lambda m: m["val_loss"])
    assert calibration["best_epoch"] == best["epoch"]
    assert calibration["tau_infer_calibrated"] == best["val_tau_calibrated"]
    assert 0 < calibration["tau_infer_calibrated"] < 1  # a probability for the gated head
    assert "tau_infer calibrated on validation" in result.stderr
    record = torch.load(run / "best.pt", weights_only=True)["model_record"]
    assert record["tau_infer_configured"] == 0.5
    assert record["tau_infer"] == record["tau_infer_calibrated"] == best["val_tau_calibrated"]
    assert torch.load(run / "best.pt", weights_only=True)["epoch"] == best["epoch"] + 1
    for name in ("censored_bottom_side", "censored_any_side", "domain_invalid_recall"):
        assert name in result.stdout and f"val_{name}" in metrics[-1]
    assert "finite_rmse_latent" in result.stdout
    cal = f"val @{calibration['tau_infer_calibrated']:.3g} (cal.)"  # the summary's third column
    assert cal in result.stdout.splitlines()[1], result.stdout
    assert not any("censored_accuracy" in m for m in metrics)
    report = (run / "report.html").read_text()
    assert "calibrated tau_infer" in report and "Censored: on its side" in report


def test_a_gated_run_on_a_small_table_trains_epochs_enough_for_the_heads_batches(
    tmp_path: Path, assay: tuple[Path, Path]
) -> None:
    train, val = assay
    rows = json.loads((train / "manifest.json").read_text())["rows"]
    assert 2 * 1024 < rows <= 3 * 1024  # 3 batches of 1,024 an epoch
    result = zpml("train", train, "--val", val, "--out", tmp_path / "run", "--patience", "1")
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["training"]["max_epochs"] == 43  # ceil(128 / 3): 128 batches, not 8 epochs


def test_run_head_overrides_the_status_mix_and_poles_train_the_rational_head(
    tmp_path: Path, assay: tuple[Path, Path], shards: tuple[Path, Path]
) -> None:
    config = tmp_path / "rational.toml"
    config.write_text('[run]\nhead = "rational"\n')
    result = zpml("train", assay[0], "--config", config, "--out", tmp_path / "a", "--epochs", "1")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == "head: rational (set by run.head)"
    poles = zpml("train", shards[0], "--out", tmp_path / "b", "--epochs", "1")
    assert poles.returncode == 0, poles.stderr
    assert poles.stderr.splitlines()[0].startswith("head: rational, for the ")
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    training = config["training"]
    assert (training["tau_infer"], training["tau_train_min"]) == (0.05, 0.05)  # the head's
    assert (config["run"]["batch_size"], config["run"]["lr"]) == (128, 3e-3)  # and its own


def test_patience_stops_after_epochs_without_a_lower_validation_loss(
    tmp_path: Path, shards: tuple[Path, Path]
) -> None:
    train, val = shards
    run = tmp_path / "run"
    # lr 1e-30 leaves every float32 weight as it was: the validation loss never falls.
    args = ("train", train, "--val", val, "--out", run, "--lr", "1e-30", "--epochs", "20")
    result = zpml(*args, "--patience", "2")
    assert result.returncode == 0, result.stderr
    assert [m["epoch"] for m in _lines(run / "metrics.jsonl")] == [0, 1, 2]
    assert "no lower validation loss for 2 epoch(s); best.pt holds epoch 0" in result.stderr
    assert torch.load(run / "best.pt", weights_only=True)["epoch"] == 1  # after epoch 0
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 3


def test_a_non_finite_loss_stops_the_run_keeping_the_last_good_checkpoint(tmp_path: Path) -> None:
    frame = rational_poles(600, seed=0)
    frame.to_parquet(tmp_path / "sane.parquet")
    frame["value"] = frame["value"] * 1e36  # float32 holds them; their squares overflow
    frame.to_parquet(tmp_path / "huge.parquet")
    for name in ("sane", "huge"):
        assert zpml("shard", tmp_path / f"{name}.parquet", tmp_path / name).returncode == 0
    run = tmp_path / "run"
    assert zpml("train", tmp_path / "sane", "--out", run, "--epochs", "1").returncode == 0
    good = (run / "last.pt").read_bytes()
    result = zpml("train", tmp_path / "huge", "--out", run, "--epochs", "3", "--resume", "--force")
    assert result.returncode == 1, result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert "the loss is not finite at step 6 of epoch 1" in error, error
    assert "Traceback" not in result.stderr
    assert (run / "last.pt").read_bytes() == good
    assert len(_lines(run / "metrics.jsonl")) == 1


def test_a_split_directory_trains_on_train_and_validates_on_val(
    tmp_path: Path, assay: tuple[Path, Path]
) -> None:
    train, val = assay
    run = tmp_path / "run"
    result = zpml("train", train.parent, "--out", run, "--epochs", "1")
    assert result.returncode == 0, result.stderr
    assert f"training on {train}, validating on {val}" in result.stderr.splitlines()[0]
    config = json.loads((run / "config.json").read_text())
    manifests = json.dumps(config)
    assert str(train) in manifests and str(val) in manifests
    assert "val_loss" in _lines(run / "metrics.jsonl")[-1]
