"""Splits at shard time: two verified sets, groups kept whole, refusals before any write."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_zpml as zpml
from zpml_data.datasets import assay_dose_response
from zpml_data.errors import ConfigError, UsageError
from zpml_data.shards.split import Split, split_dirs
from zpml_data.shards.verify import verify_shards
from zpml_data.shards.writer import write_shards, write_split_shards


@pytest.fixture(scope="module")
def assay(tmp_path_factory):
    path = tmp_path_factory.mktemp("assay") / "assay.parquet"
    assay_dose_response(4000).to_parquet(path)
    return path


def ids(directory):
    manifest = verify_shards(directory)
    return [
        r for s in manifest.shards for r in pq.read_table(directory / s.file)["row_id"].to_pylist()
    ]


def test_a_row_split_is_about_the_fraction_and_each_row_is_in_one_set(assay, tmp_path):
    manifests = write_split_shards(assay, tmp_path / "out", Split(0.25, seed=5), rows_per_shard=900)
    train, val = ids(tmp_path / "out" / "train"), ids(tmp_path / "out" / "val")
    assert sorted(train + val) == list(range(4000))
    assert 0.2 < len(val) / 4000 < 0.3
    assert manifests["val"].split == {"name": "val", "fraction": 0.25, "seed": 5, "by": None}
    assert manifests["train"].split["name"] == "train"
    assert split_dirs(tmp_path / "out") == {
        "train": tmp_path / "out" / "train",
        "val": tmp_path / "out" / "val",
    }
    assert split_dirs(tmp_path / "out" / "train") is None  # a plain set


def test_a_group_split_keeps_every_site_in_one_set(tmp_path):
    frame = assay_dose_response(3000)
    frame["site"] = [f"site-{i % 40}" for i in range(len(frame))]  # 40 groups
    write_split_shards(frame, tmp_path / "out", Split(0.3, seed=1, by="site"))
    train, val = ids(tmp_path / "out" / "train"), ids(tmp_path / "out" / "val")
    sites = frame["site"].to_numpy()
    assert not set(sites[train]) & set(sites[val])
    assert set(sites[train]) | set(sites[val]) == set(sites)
    assert 0.1 < len(val) / len(frame) < 0.5


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_sets(assay, tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_split_shards(assay, tmp_path / name, Split(0.2, seed), seed=9)
    for directory in ("train", "val"):
        for file in (tmp_path / "a" / directory).iterdir():
            assert file.read_bytes() == (tmp_path / "b" / directory / file.name).read_bytes()
    assert ids(tmp_path / "a" / "val") != ids(tmp_path / "c" / "val")


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, float("nan"), True])
def test_a_fraction_outside_0_1_is_refused(fraction):
    with pytest.raises(ConfigError, match=r"split fraction must be between 0 and 1"):
        Split(fraction)


def test_a_bare_fraction_is_a_row_split_with_seed_0(assay, tmp_path):
    manifests = write_split_shards(assay, tmp_path / "out", 0.2)
    assert manifests["val"].split == {"name": "val", "fraction": 0.2, "seed": 0, "by": None}
    with pytest.raises(ConfigError, match="split fraction must be between 0 and 1"):
        write_split_shards(assay, tmp_path / "bad", "0.2")
    assert not (tmp_path / "bad").exists()


def test_a_seed_out_of_range_is_refused():
    with pytest.raises(ConfigError, match=r"split seed must be between 0 and"):
        Split(0.2, seed=-1)


def test_an_absent_split_column_is_refused_before_anything_is_written(assay, tmp_path):
    with pytest.raises(UsageError, match=r"no column 'sitex' to split by; the columns are"):
        write_split_shards(assay, tmp_path / "out", Split(0.2, by="sitex"))
    assert not (tmp_path / "out").exists()


def test_the_cli_writes_train_and_val_and_says_so(assay, tmp_path):
    out = tmp_path / "out"
    result = zpml(
        "shard", assay, out, "--split", "val=0.2", "--split-by", "site", "--split-seed", "2"
    )
    assert result.returncode == 0, result.stderr
    assert f"to {out}/train" in result.stdout and f"to {out}/val" in result.stdout
    manifest = json.loads((out / "val" / "manifest.json").read_text())
    assert manifest["split"] == {"name": "val", "fraction": 0.2, "seed": 2, "by": "site"}
    assert zpml("verify", out / "train").returncode == 0
    assert "split: the val set" in zpml("inspect", out / "val").stdout
    both = zpml("verify", out)  # a split directory: set by set
    assert (
        both.returncode == 0
        and f"{out}/train: ok" in both.stdout
        and f"{out}/val: ok" in both.stdout
    )
    assert "split: the train set" in zpml("inspect", out).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--split", "val=1.5"], "split fraction must be between 0 and 1"),
        (["--split", "val=0"], "split fraction must be between 0 and 1"),
        (["--split", "test=0.2"], "--split takes val=F"),
        (["--split", "val=abc"], "--split takes val=F"),
        (["--split", "val=0.2", "--split-by", "nope"], "no column 'nope' to split by"),
        (["--split-by", "site"], "--split-seed and --split-by go with --split"),
    ],
)
def test_bad_splits_exit_2_in_one_line_and_write_nothing(assay, tmp_path, args, message):
    before = assay.read_bytes()
    result = zpml("shard", assay, tmp_path / "out", *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    assert assay.read_bytes() == before


def test_a_negative_split_seed_is_a_usage_error(assay, tmp_path):
    result = zpml("shard", assay, tmp_path / "out", "--split", "val=0.2", "--split-seed", "-1")
    assert result.returncode == 2 and "argument --split-seed" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_split_of_rows_with_errors_quarantines_them_in_their_own_set(tmp_path):
    frame = pd.DataFrame(
        {"x": np.arange(200.0), "value": np.ones(200), "status": ["finite"] * 199 + ["Finite"]}
    )
    manifests = write_split_shards(
        frame, tmp_path / "out", Split(0.5, seed=0), on_error="quarantine"
    )
    assert sum(m.quarantined_rows for m in manifests.values()) == 1
    assert sum(m.rows for m in manifests.values()) == 199
    assert sum(m.source_rows for m in manifests.values()) == 200


def test_a_plain_set_is_not_written_over_a_split_directory(assay, tmp_path):
    write_split_shards(assay, tmp_path / "out", Split(0.2))
    with pytest.raises(UsageError, match=r"holds files zpml did not write \(train, val\)"):
        write_shards(assay, tmp_path / "out", overwrite=True)
