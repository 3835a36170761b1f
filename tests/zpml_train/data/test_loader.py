"""The shard loader on real shard directories: coverage, order, resume, balance, integrity."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import assert_targets_equal
from zpml_data import DatasetSpec, Target, lift_semantic_targets, write_shards
from zpml_data.errors import ConfigError, IntegrityError, SourceError
from zpml_data.status import STATUS_LABELS
from zpml_train import Batch, ShardDataset, make_loader

ROWS = 5_000
LABEL_SHARES = {
    "finite": 0.80,
    "bottom": 0.06,
    "censored_below": 0.05,
    "missing": 0.05,
    "fault": 0.04,
}


def _frame(rows: int, targets: int = 1, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.standard_normal(rows).astype("float32") for i in range(3)})
    for t in range(targets):
        suffix = "" if targets == 1 else f"_{t}"
        labels = rng.choice(list(LABEL_SHARES), rows, p=list(LABEL_SHARES.values()))
        # Sorted by status, so a balanced loader has work to do.
        labels = np.sort(labels) if t == 0 else labels
        values = rng.standard_normal(rows)
        values[labels != "finite"] = np.nan
        frame[f"value{suffix}"], frame[f"status{suffix}"] = values, labels
    return frame


def _shards(tmp_path: Path, rows: int = ROWS, targets: int = 1, name: str = "shards") -> Path:
    source = tmp_path / f"{name}.parquet"
    _frame(rows, targets).to_parquet(source)
    spec = None
    if targets > 1:
        spec = DatasetSpec(
            targets=tuple(Target(f"value_{t}", f"status_{t}") for t in range(targets))
        )
    write_shards(source, tmp_path / name, spec, rows_per_shard=1_700, row_group_rows=300)
    return tmp_path / name


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _shards(tmp_path_factory.mktemp("loader"))


def _row_ids(loader) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    return [batch.row_id.numpy().copy() for batch in loader]


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_every_row_exactly_once_across_ranks(
    shard_dir: Path, world_size: int, num_workers: int
) -> None:
    batch = 256
    seen: Counter[int] = Counter()
    counts = []
    for rank in range(world_size):
        loader = make_loader(
            shard_dir, batch, rank=rank, world_size=world_size, num_workers=num_workers, seed=7
        )
        ids = _row_ids(loader)
        counts.append((len(ids), len(loader)))
        assert all(len(b) <= batch for b in ids)
        seen.update(np.concatenate(ids).tolist())
    assert {c for c, _ in counts} == {counts[0][1]}, counts  # equal, and len() says so
    assert set(seen) == set(range(ROWS))
    repeats = sum(seen.values()) - ROWS
    assert 0 <= repeats < world_size * batch
    assert all(n == 1 for n in seen.values()) or world_size > 1


def test_drop_last_gives_full_batches_and_drops_fewer_than_a_round(shard_dir: Path) -> None:
    ids = [
        np.concatenate(_row_ids(make_loader(shard_dir, 300, rank=r, world_size=2, drop_last=True)))
        for r in range(2)
    ]
    together = np.concatenate(ids)
    assert len(together) == len(np.unique(together)) == ROWS // 600 * 600
    assert len(ids[0]) == len(ids[1])


def test_batches_are_typed_and_carry_the_stored_lift(shard_dir: Path) -> None:
    batch = next(iter(make_loader(shard_dir, 64, seed=1)))
    assert isinstance(batch, Batch)
    inputs, values, status = batch[:3]
    assert inputs.dtype == torch.float32 and inputs.shape == (64, 3)
    assert values.dtype == torch.float32 and values.shape == (64,)
    assert status.dtype == torch.int8 and status.shape == (64,)
    assert batch.row_id.dtype == torch.int64 and batch.row_id.shape == (64,)
    source = _frame(ROWS).iloc[batch.row_id.numpy()]
    np.testing.assert_array_equal(inputs.numpy(), source[["x0", "x1", "x2"]].to_numpy())
    np.testing.assert_array_equal(values.numpy(), source["value"].to_numpy(np.float32))
    assert_targets_equal(batch.targets, lift_semantic_targets(values, status))
    moved = batch.to("cpu", non_blocking=True)
    assert moved.targets is not None and moved.targets.Y_d.device.type == "cpu"


def test_several_targets_give_bt_shaped_columns(tmp_path: Path) -> None:
    directory = _shards(tmp_path, rows=900, targets=2)
    batches = list(make_loader(directory, 100, num_workers=2))
    first = batches[0]
    assert first.values.shape == (100, 2) and first.status_labels.shape == (100, 2)
    assert first.targets is not None and first.targets.Y_n.shape == (100, 2)
    assert first.targets.orientation_label.dtype == torch.int64
    ids = np.concatenate([b.row_id.numpy() for b in batches])
    assert sorted(ids.tolist()) == list(range(900))
    source = _frame(900, targets=2).iloc[first.row_id.numpy()]
    codes = first.status_labels.numpy()
    assert [STATUS_LABELS[c] for c in codes[:, 1]] == list(source["status_1"])


def test_order_depends_on_seed_and_epoch_not_on_workers(shard_dir: Path) -> None:
    def order(seed: int, epoch: int, workers: int) -> np.ndarray:
        loader = make_loader(shard_dir, 128, seed=seed, num_workers=workers)
        loader.set_epoch(epoch)
        return np.concatenate(_row_ids(loader))

    base = order(3, 0, 0)
    np.testing.assert_array_equal(base, order(3, 0, 0))
    np.testing.assert_array_equal(base, order(3, 0, 2))
    np.testing.assert_array_equal(order(3, 1, 0), order(3, 1, 2))
    assert not np.array_equal(base, order(3, 1, 0))
    assert not np.array_equal(base, order(4, 0, 0))


def test_unshuffled_loader_reads_in_stored_order(shard_dir: Path) -> None:
    ids = np.concatenate(_row_ids(make_loader(shard_dir, 500, shuffle=False)))
    np.testing.assert_array_equal(ids, np.arange(ROWS))


def test_a_full_pass_moves_on_to_the_next_epoch(shard_dir: Path) -> None:
    loader = make_loader(shard_dir, 500, seed=2)
    first, second = np.concatenate(_row_ids(loader)), np.concatenate(_row_ids(loader))
    other = make_loader(shard_dir, 500, seed=2)
    other.set_epoch(1)
    np.testing.assert_array_equal(second, np.concatenate(_row_ids(other)))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resume_mid_epoch_continues_with_the_next_batch(shard_dir: Path, num_workers: int) -> None:
    def loader():  # type: ignore[no-untyped-def]
        made = make_loader(shard_dir, 200, seed=5, num_workers=num_workers, balance="status")
        made.set_epoch(3)
        return made

    uninterrupted = _row_ids(loader())
    interrupted = loader()
    taken = []
    for batch in interrupted:
        taken.append(batch.row_id.numpy().copy())
        if len(taken) == 7:
            break
    state = json.loads(json.dumps(interrupted.state_dict()))  # plain data
    resumed = loader()
    resumed.load_state_dict(state)
    rest = _row_ids(resumed)
    assert len(taken) + len(rest) == len(uninterrupted)
    for expected, actual in zip(uninterrupted, taken + rest, strict=True):
        np.testing.assert_array_equal(expected, actual)


def test_state_from_other_settings_is_refused(shard_dir: Path) -> None:
    state = make_loader(shard_dir, 200).state_dict()
    with pytest.raises(ConfigError, match="other settings or data"):
        make_loader(shard_dir, 100).load_state_dict(state)
    with pytest.raises(ConfigError, match="unknown version"):
        make_loader(shard_dir, 200).load_state_dict({"version": 99})


def test_balanced_batches_follow_the_dataset_shares(shard_dir: Path) -> None:
    # The source is sorted by status; without balance most batches hold one label.
    batch = 500
    shares = np.array([LABEL_SHARES.get(label, 0.0) for label in STATUS_LABELS])
    manifest_counts = make_loader(shard_dir, batch).manifest.status_counts
    expected = np.array([manifest_counts[label] for label in STATUS_LABELS]) / ROWS
    np.testing.assert_allclose(expected, shares, atol=0.02)
    balanced = list(make_loader(shard_dir, batch, balance="status", seed=1))
    for b in balanced:
        counts = np.bincount(b.status_labels.numpy(), minlength=len(STATUS_LABELS))
        assert np.all(np.abs(counts - expected * b.num_rows) < 2.0), counts
    ids = np.concatenate([b.row_id.numpy() for b in balanced])
    assert sorted(ids.tolist()) == list(range(ROWS))
    plain = list(make_loader(shard_dir, batch, shuffle=False))
    worst = max(
        abs(np.bincount(b.status_labels.numpy(), minlength=7)[0] / b.num_rows - 0.8) for b in plain
    )
    assert worst > 0.5  # the unbalanced stream really is skewed


def test_balance_with_several_targets_is_refused(tmp_path: Path) -> None:
    directory = _shards(tmp_path, rows=300, targets=2)
    with pytest.raises(ConfigError, match="single-target"):
        make_loader(directory, 10, balance="status")


def test_a_tampered_shard_is_refused_naming_it(tmp_path: Path) -> None:
    directory = _shards(tmp_path, rows=2_000)
    victim = directory / "part-00001.parquet"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"part-00001\.parquet: sha256 differs"):
        make_loader(directory, 100)
    make_loader(directory, 100, verify=False)  # size still matches: the caller opted out


def test_a_truncated_or_missing_shard_is_refused(tmp_path: Path) -> None:
    directory = _shards(tmp_path, rows=2_000)
    (directory / "part-00000.parquet").write_bytes(b"PAR1")
    (directory / "part-00001.parquet").unlink()
    with pytest.raises(
        IntegrityError, match=r"part-00000\.parquet: 4 bytes.*part-00001\.parquet: missing"
    ):
        make_loader(directory, 100, verify=False)


def test_a_shard_changed_after_verification_is_refused_at_read(tmp_path: Path) -> None:
    directory = _shards(tmp_path, rows=2_000)
    loader = make_loader(directory, 100, shuffle=False)
    victim = directory / "part-00000.parquet"
    victim.write_bytes(victim.read_bytes())  # same bytes, but a new file: not the verified one
    victim.touch()
    with pytest.raises(IntegrityError, match=r"part-00000\.parquet: changed since it was checked"):
        list(loader)


def test_bad_directories_and_settings(tmp_path: Path, shard_dir: Path) -> None:
    with pytest.raises(SourceError, match="no such directory"):
        make_loader(tmp_path / "absent", 10)
    (tmp_path / "empty").mkdir()
    with pytest.raises(IntegrityError, match="no manifest"):
        make_loader(tmp_path / "empty", 10)
    copy = tmp_path / "copy"
    copy.mkdir()
    manifest = json.loads((shard_dir / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**manifest, "version": 99}))
    with pytest.raises(IntegrityError, match="version 99 is unknown"):
        make_loader(copy, 10)
    with pytest.raises(ConfigError, match="batch_size must be >= 1, got 0"):
        make_loader(shard_dir, 0)
    with pytest.raises(ConfigError, match="batch_size must be an integer, got True"):
        make_loader(shard_dir, True)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="rank must be between 0 and 1, got 2"):
        make_loader(shard_dir, 10, rank=2, world_size=2)
    with pytest.raises(ConfigError, match="balance must be one of"):
        make_loader(shard_dir, 10, balance="label")  # type: ignore[arg-type]


def test_dataset_yields_whole_batches_in_a_plain_dataloader(shard_dir: Path) -> None:
    dataset = ShardDataset(shard_dir, batch_size=1_000, seed=1)
    batches = list(torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2))
    assert len(batches) == len(dataset) == 5
    ids = np.concatenate([b.row_id.numpy() for b in batches])
    assert sorted(ids.tolist()) == list(range(ROWS))


def test_a_pass_broken_off_early_does_not_shorten_the_next(shard_dir: Path) -> None:
    loader = make_loader(shard_dir, 500, seed=4)
    peek = next(iter(loader)).row_id.numpy().copy()
    full = _row_ids(loader)
    assert len(full) == len(loader) == 10
    np.testing.assert_array_equal(full[0], peek)  # the same epoch, from its first batch


def test_a_shard_linked_from_outside_the_directory_is_refused(tmp_path: Path) -> None:
    directory = _shards(tmp_path, rows=2_000)
    outside = tmp_path / "elsewhere.parquet"
    victim = directory / "part-00000.parquet"
    outside.write_bytes(victim.read_bytes())
    victim.unlink()
    victim.symlink_to(outside)  # same bytes, but not the directory's own file
    with pytest.raises(IntegrityError, match=r"part-00000\.parquet: a link leading outside"):
        make_loader(directory, 100)
