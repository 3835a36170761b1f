"""``zpml train`` under hostile use: nothing lost, nothing left behind, one line naming the culprit.

Every case runs the real command (or the loader's API) and asserts the exit
code, a single error line without a traceback, the inputs unchanged, and the
run directory as the refused run found it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from tests.conftest import run_zpml
from tests.hostile.conftest import checkpoint_write_fails, checksums, zpml_fails
from zpml_data.datasets import rational_poles
from zpml_data.errors import ConfigError
from zpml_train import make_loader


@pytest.fixture(scope="module")
def finished_run(shards: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished one-epoch run (copied by the tests that need a previous run)."""
    run = tmp_path_factory.mktemp("finished") / "run"
    result = run_zpml("train", shards, "--out", run, "--epochs", "1")
    assert result.returncode == 0, result.stderr
    return run


def previous_run(finished_run: Path, where: Path) -> Path:
    shutil.copytree(finished_run, where)
    return where


def test_overwrite_never_deletes_a_users_own_files(shards: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"learning_rate": 0.1}\n')
    (mine / "report.html").write_text("<html><body>my thesis figures</body></html>\n")
    zpml_fails(
        2,
        r"mine: holds config.json, report.html, which zpml did not write.*deletes nothing",
        "train",
        shards,
        "--out",
        mine,
        "--overwrite",
        inputs=(mine, shards),
    )


REFUSALS = {
    "capability": (1, "cannot emit ⊥", '[training]\ntau_infer = 1e-6\n[run]\nq_param = "softplus"'),
    "huge_lr": (2, r"lr must be in \(0.0, 10.0\], got 1e\+300", "[run]\nlr = 1e300"),
    "huge_loss_weight": (
        2,
        r"loss_weights\['fit'\] = 1e\+308 is above 1e\+06, the largest loss weight.*lower it",
        "[training]\nloss_weights = {fit = 1e308}",
    ),
    "huge_width": (2, "too large to load here; it was not built", "[run]\nhidden = [100000000]"),
    "training_seed": (2, "seed must be between 0 and", "[training]\nseed = 100000000000000000000"),
    "device": (2, "device must be a torch device", '[training]\ndevice = "gpu:zero"'),
    "tiny_tau": (2, "tau_infer=1e-300 rounds to 0 in float32", "[training]\ntau_infer = 1e-300"),
    "huge_tau_train": (
        2,
        r"tau_train_max must be <= 3.40.*e\+38, got 1e\+300",
        "[training]\ntau_train_min = 1\ntau_train_max = 1e300",
    ),
    "meta_device": (2, "'meta' holds no data to compute on", '[training]\ndevice = "meta"'),
    "device_not_built_in": (2, "cannot use vulkan devices here", '[training]\ndevice = "vulkan"'),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_refused_run_leaves_the_directory_as_it_found_it(
    shards: Path, finished_run: Path, tmp_path: Path, case: str
) -> None:
    code, match, toml = REFUSALS[case]
    config = tmp_path / "config.toml"
    config.write_text(toml.replace('q_param = "softplus"', 'q_param = "softplus"\nq_min = 0.01'))
    new = tmp_path / "new" / "run"
    zpml_fails(code, match, "train", shards, "--config", config, "--out", new, inputs=(shards,))
    assert not (tmp_path / "new").exists()  # created by the run: removed with its parent
    previous = previous_run(finished_run, tmp_path / "previous")
    zpml_fails(
        code,
        match,
        "train",
        shards,
        "--config",
        config,
        "--out",
        previous,
        "--overwrite",
        inputs=(shards, previous),  # the previous run: not one byte changed, nothing added
    )
    assert sorted(os.listdir(previous)) == sorted(os.listdir(finished_run))


def test_the_corrected_rerun_into_a_refused_directory_trains(shards: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    config = tmp_path / "floored.toml"
    config.write_text('[training]\ntau_infer = 1e-6\n[run]\nq_param = "softplus"\nq_min = 0.01\n')
    zpml_fails(1, "cannot emit ⊥", "train", shards, "--config", config, "--out", run)
    assert list(run.iterdir()) == []  # it existed: left as found, empty
    again = run_zpml("train", shards, "--out", run, "--epochs", "1")
    assert again.returncode == 0, again.stderr
    assert (run / "last.pt").is_file()


def _code_pickle(path: Path) -> None:
    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {path.parent / 'ran'}",))

    path.write_bytes(pickle.dumps({"format": "zpml-train-checkpoint", "x": Payload()}))


def _torch_code(path: Path) -> None:
    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {path.parent / 'ran'}",))

    torch.save({"format": "zpml-train-checkpoint", "x": Payload()}, path)


DAMAGED = {
    "empty": (lambda p: p.write_bytes(b""), "the file is empty"),
    "text": (lambda p: p.write_text("not a checkpoint\n"), "not a (readable )?zpml checkpoint"),
    "pickle_code": (_code_pickle, "not a zpml checkpoint|would run as code"),
    "torch_code": (_torch_code, "would run as code; refused"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:1000]), "truncated, damaged"),
    "other_format": (lambda p: torch.save({"w": torch.zeros(2)}, p), "not a zpml training"),
}


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_resume_from_a_damaged_checkpoint_is_one_line(
    shards: Path, finished_run: Path, tmp_path: Path, case: str
) -> None:
    damage, match = DAMAGED[case]
    run = previous_run(finished_run, tmp_path / "run")
    damage(run / "last.pt")
    line = zpml_fails(
        2,
        rf"last.pt.*({match})",
        "train",
        shards,
        "--out",
        run,
        "--epochs",
        "2",
        "--resume",
        inputs=(shards, run),
    )
    assert "weights_only" not in line
    assert not (run / "ran").exists()
    assert not any(name.startswith(".") for name in os.listdir(run))


def test_a_checkpoint_that_cannot_be_written_keeps_the_previous_one(
    shards: Path, tmp_path: Path
) -> None:
    config = tmp_path / "wide.toml"
    config.write_text("[run]\nhidden = [256, 256]\n")  # checkpoints far larger than the rest
    run = tmp_path / "run"
    args = ["train", shards, "--out", run, "--config", config]
    assert run_zpml(*args, "--epochs", "1").returncode == 0
    checkpoint = (run / "last.pt").stat().st_size
    others = max(p.stat().st_size for p in run.iterdir() if p.suffix != ".pt")
    assert others < checkpoint // 2
    before = checksums(run)
    error = checkpoint_write_fails((others + checkpoint) // 2, *args, "--epochs", "2", "--resume")
    assert "previous file is unchanged" in error
    assert checksums(run) == before  # the resumed epoch's metrics and config went back too
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 1


def test_a_full_disk_is_named_and_the_last_checkpoint_stays_loadable(
    shards: Path, finished_run: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    # Room for the first epoch's files and half a checkpoint: the second epoch's fails.
    checkpoint = (finished_run / "last.pt").stat().st_size
    first = sum(p.stat().st_size for p in finished_run.iterdir() if p.name != "report.html")
    size = first + checkpoint // 2 + 4 * 4096  # tmpfs counts whole pages per file
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root; the file size limit test covers EFBIG")
    try:
        run = disk / "run"
        line = zpml_fails(
            2,
            r"cannot write '.*(last|best).pt': the disk is full",
            "train",
            shards,
            "--out",
            run,
            "--epochs",
            "5",
            inputs=(shards,),
        )
        assert "unchanged" in line
        state = torch.load(run / "last.pt", weights_only=True)
        assert state["epoch"] >= 1
        assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def _resign(shard_dir: Path, change: dict[str, object]) -> None:
    """Change a shard's stored cells and make the manifest's size and sha256 match again."""
    path = shard_dir / "part-00000.parquet"
    table = pq.read_table(path)
    for name, value in change.items():
        cells = table.column(name).to_pylist()
        cells[5] = value
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, pa.array(cells, table.schema.field(name).type))
    pq.write_table(table, path)
    manifest = json.loads((shard_dir / "manifest.json").read_text())
    data = path.read_bytes()
    manifest["shards"][0].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (shard_dir / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"status": 9}, "status codes outside 0..6"),
        ({"values": None}, "column 'values' holds 1 null"),
        ({"status": None}, "column 'status' holds 1 null"),
    ],
)
def test_a_shard_with_changed_cells_is_named(
    shards: Path, tmp_path: Path, change: dict[str, object], match: str
) -> None:
    changed = tmp_path / "changed"
    shutil.copytree(shards, changed)
    _resign(changed, change)
    run = tmp_path / "run"
    zpml_fails(1, rf"part-00000.parquet.*{match}", "train", changed, "--out", run)
    assert not run.exists()
    zpml_fails(1, "1 problem", "verify", changed, inputs=(changed,))


def test_shards_where_every_target_is_missing_are_refused(tmp_path: Path) -> None:
    frame = rational_poles(60)
    frame["status"] = "missing"
    frame.to_parquet(tmp_path / "missing.parquet")
    assert run_zpml("shard", tmp_path / "missing.parquet", tmp_path / "shards").returncode == 0
    zpml_fails(
        1,
        "60 target cells, every one 'missing'",
        "train",
        tmp_path / "shards",
        "--out",
        tmp_path / "run",
        inputs=(tmp_path / "shards",),
    )
    assert not (tmp_path / "run").exists()


def test_a_loader_state_from_other_shards_or_beyond_the_epoch_is_refused(
    shards: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    rational_poles(300, seed=7).to_parquet(tmp_path / "o.parquet")
    assert run_zpml("shard", tmp_path / "o.parquet", other).returncode == 0
    loader = make_loader(shards, 50, seed=1)
    next(iter(loader))
    state = json.loads(json.dumps(loader.state_dict()))
    same_rows = make_loader(other, 50, seed=1)
    assert same_rows.manifest.rows == loader.manifest.rows
    with pytest.raises(ConfigError, match=r"other shards .* than '.*other' \(300 rows"):
        same_rows.load_state_dict(state)
    with pytest.raises(ConfigError, match=r"batch_size 50 \(here 60\)"):
        make_loader(shards, 60, seed=1).load_state_dict(state)
    with pytest.raises(ConfigError, match=r"position \(epoch 0 has 6 batches\) must be"):
        make_loader(shards, 50, seed=1).load_state_dict({**state, "position": 99})
    resumed = make_loader(shards, 50, seed=1)
    resumed.load_state_dict(state)
    assert len(list(resumed)) == 5  # the rest of the epoch, after the batch taken


@pytest.fixture(scope="module")
def slow_shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shards whose first epoch takes long at batch size 4 (interrupted long before its end)."""
    root = tmp_path_factory.mktemp("slow")
    rational_poles(100_000, seed=0).to_parquet(root / "big.parquet")
    assert run_zpml("shard", root / "big.parquet", root / "shards").returncode == 0
    return root / "shards"


def _stop_in_first_epoch(shards: Path, run: Path, how: signal.Signals) -> int:
    """Start replacing ``run``, stop the process once it wrote its config.json; its exit code."""
    args = ["train", shards, "--out", run, "--overwrite", "--epochs", "1", "--batch-size", "4"]
    process = subprocess.Popen(
        [sys.executable, "-m", "zpml_data.cli", *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):  # the new run's config.json: past every check, in its first epoch
            staged = (run / ".zpml-previous-run").is_dir()
            if staged and (run / "config.json").is_file() and process.poll() is None:
                break
            time.sleep(0.1)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        process.send_signal(how)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    if how == signal.SIGINT:
        assert "Traceback" not in stderr and stderr.count("zpml train:") == 1, stderr
    return process.returncode


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_a_replacing_run_stopped_in_its_first_epoch_gives_the_previous_run_back(
    slow_shards: Path, finished_run: Path, tmp_path: Path, how: signal.Signals
) -> None:
    run = previous_run(finished_run, tmp_path / "run")
    before = checksums(run)
    code = _stop_in_first_epoch(slow_shards, run, how)
    if how == signal.SIGINT:
        assert code == 130
    else:  # killed outright: the next run into the directory puts the previous one back
        assert code == -signal.SIGKILL
        zpml_fails(2, "or replace it with --overwrite", "train", slow_shards, "--out", run)
    assert checksums(run) == before
    assert sorted(os.listdir(run)) == sorted(os.listdir(finished_run))
