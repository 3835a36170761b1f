"""The manifest as read (its sha256), one file check for verify and the loader, library bounds."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from zpml_data.auditing.engine import audit
from zpml_data.errors import ConfigError, IntegrityError
from zpml_data.shards.manifest import check_file, read_manifest
from zpml_data.shards.verify import verify_shards
from zpml_data.shards.writer import write_shards
from zpml_data.validate import MAX_SEED
from zpml_train.data.loader import make_loader


def frame(n=300):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=n), "value": rng.normal(size=n), "status": "finite"})


def test_read_manifest_keeps_the_sha256_of_the_bytes_it_parsed(tmp_path):
    write_shards(frame(), tmp_path / "s")
    path = tmp_path / "s" / "manifest.json"
    manifest = read_manifest(tmp_path / "s")
    assert manifest.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "sha256" not in manifest.to_json().split('"shards"')[0]  # not written into the file
    assert manifest.to_json() == path.read_text()


def test_verify_and_the_loader_refuse_a_changed_shard_with_the_same_words(tmp_path):
    write_shards(frame(), tmp_path / "s")
    shard = tmp_path / "s" / "part-00000.parquet"
    data = bytearray(shard.read_bytes())
    data[50] ^= 1
    shard.write_bytes(bytes(data))
    message = "part-00000.parquet: sha256 differs from the manifest (the file changed)"
    with pytest.raises(IntegrityError, match=message.replace("(", r"\(").replace(")", r"\)")):
        verify_shards(tmp_path / "s")
    with pytest.raises(IntegrityError, match=r"part-00000\.parquet: sha256 differs from the"):
        make_loader(tmp_path / "s", batch_size=10)
    entry = read_manifest(tmp_path / "s").shards[0]
    with pytest.raises(IntegrityError, match=r"sha256 differs"):
        check_file(tmp_path / "s", entry.file, entry.bytes, entry.sha256, hash_file=True)
    shard.write_bytes(bytes(data[:-10]))
    with pytest.raises(
        IntegrityError, match=r"bytes, the manifest says .* \(truncated or replaced"
    ):
        verify_shards(tmp_path / "s")


@pytest.mark.parametrize(
    ("setting", "match"),
    [
        ({"seed": -1}, r"seed must be between 0 and 9223372036854775807, got -1"),
        ({"seed": 2**70}, r"seed must be between 0 and"),
        ({"seed": 1.5}, r"seed must be an integer"),
        ({"rows_per_shard": 0}, r"rows_per_shard must be between 1 and"),
        ({"row_group_rows": 2**40}, r"row_group_rows must be between 1 and"),
        ({"batch_size": 0}, r"batch_size must be between 1 and"),
    ],
)
def test_write_shards_checks_its_settings_before_reading(tmp_path, setting, match):
    with pytest.raises(ConfigError, match=match):
        write_shards(tmp_path / "no-such-source.csv", tmp_path / "s", **setting)
    assert not (tmp_path / "s").exists()


def test_the_largest_seed_is_taken_by_write_shards_and_the_loader(tmp_path):
    write_shards(frame(), tmp_path / "s", seed=MAX_SEED)
    assert len(list(make_loader(tmp_path / "s", batch_size=100, seed=MAX_SEED))) == 3
    with pytest.raises(ConfigError, match="seed must be between 0 and"):
        make_loader(tmp_path / "s", batch_size=100, seed=MAX_SEED + 1)


@pytest.mark.parametrize("threshold", [-5, float("nan"), float("inf")])
def test_audit_checks_its_skew_threshold(threshold):
    with pytest.raises(ConfigError, match="skew_threshold_pp must be"):
        audit(frame(), skew_threshold_pp=threshold)


def test_a_version_2_manifest_still_reads_as_one_without_the_new_fields(tmp_path):
    import json

    write_shards(frame(), tmp_path / "s")
    path = tmp_path / "s" / "manifest.json"
    data = json.loads(path.read_text())
    assert data["version"] == 3
    for key in ("categories", "excluded_columns", "split"):
        del data[key]
    path.write_text(json.dumps({**data, "version": 2}))
    manifest = read_manifest(tmp_path / "s")
    assert (manifest.version, manifest.categories, manifest.split) == (2, {}, None)
    assert len(list(make_loader(tmp_path / "s", batch_size=100))) == 3
