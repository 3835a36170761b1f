import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from zpml_data import encode_status
from zpml_data.errors import DataError, IntegrityError, UsageError
from zpml_data.shards.manifest import read_manifest
from zpml_data.shards.verify import describe_shards, verify_shards
from zpml_data.shards.writer import write_shards
from zpml_data.spec import DatasetSpec, Target
from zpml_data.status import STATUS_LABELS


def source(n=5000, seed=0):
    rng = np.random.default_rng(seed)
    status = np.array(STATUS_LABELS, dtype=object)[rng.integers(0, 7, n)]
    value = rng.normal(size=n)
    value[status != "finite"] = np.nan
    return pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.integers(0, 9, n), "value": value, "status": status}
    )


def read_back(directory):
    manifest = read_manifest(directory)
    tables = [pq.read_table(directory / s.file).to_pandas() for s in manifest.shards]
    return pd.concat(tables).sort_values("row_id").reset_index(drop=True)


@pytest.mark.parametrize("seed", [None, 7])
def test_round_trip_in_row_id_order(tmp_path, seed):
    frame = source()
    manifest = write_shards(
        frame, tmp_path / "s", rows_per_shard=1200, row_group_rows=500, seed=seed, batch_size=700
    )
    assert [s.file for s in manifest.shards] == [f"part-{i:05d}.parquet" for i in range(5)]
    assert [s.rows for s in manifest.shards] == [1200] * 4 + [200]
    assert [g.rows for g in manifest.shards[0].row_groups] == [500, 500, 200]
    assert [g.first_row for g in manifest.shards[0].row_groups] == [0, 500, 1000]
    back = read_back(tmp_path / "s")
    assert back["row_id"].tolist() == list(range(len(frame)))
    assert manifest.inputs == ["a", "b"]
    # float32 a and b, little-endian, in one fixed-size binary value per row
    inputs = np.frombuffer(b"".join(back["inputs"]), "<f4").reshape(-1, 2)
    np.testing.assert_array_equal(inputs, frame[["a", "b"]].to_numpy(np.float32))
    np.testing.assert_array_equal(back["values"], frame["value"].astype(np.float32))
    np.testing.assert_array_equal(back["status"], encode_status(frame["status"]))
    assert manifest.status_counts == frame["status"].value_counts().reindex(STATUS_LABELS).to_dict()
    if seed is not None:  # shuffled within shards, but every row is there
        first = pq.read_table(tmp_path / "s" / "part-00000.parquet").column("row_id").to_pylist()
        assert first != sorted(first) and sorted(first) == list(range(1200))
    assert verify_shards(tmp_path / "s").rows == len(frame)
    assert "rows: 5,000 in 5 shard(s)" in describe_shards(manifest, tmp_path / "s")


def test_multi_target_shards_store_t_shaped_columns(tmp_path):
    frame = source().assign(v2=1.0, s2="finite")
    spec = DatasetSpec(targets=(Target("value", "status"), Target("v2", "s2")), inputs=("a",))
    manifest = write_shards(frame, tmp_path / "s", spec)
    table = pq.read_table(tmp_path / "s" / "part-00000.parquet")
    assert str(table.schema.field("Y_d").type) == "fixed_size_list<element: float>[2]"
    assert manifest.targets == ["value", "v2"]
    assert sum(manifest.status_counts.values()) == 2 * len(frame)
    verify_shards(tmp_path / "s")


def test_same_input_same_bytes_whatever_the_batch_size(tmp_path):
    frame = source()
    one = write_shards(frame, tmp_path / "one", rows_per_shard=2000, seed=3, batch_size=500)
    two = write_shards(frame, tmp_path / "two", rows_per_shard=2000, seed=3, batch_size=1777)
    assert [s.sha256 for s in one.shards] == [s.sha256 for s in two.shards]
    assert (tmp_path / "one" / "manifest.json").read_text() == (
        tmp_path / "two" / "manifest.json"
    ).read_text()


def test_quarantine_keeps_exactly_the_bad_rows(tmp_path):
    frame = source(300)
    frame["status"] = frame["status"].astype(object)
    frame.loc[[3, 150], "status"] = ["Finite", None]
    frame.loc[200, ["status", "value"]] = ["finite", np.inf]
    frame.loc[250, "a"] = np.nan  # an input that is not finite: set aside from a trainable row
    frame.loc[250, ["status", "value"]] = ["finite", 1.0]
    frame.loc[260, "a"] = np.nan  # ... but kept on a missing row, which trains nothing
    frame.loc[260, "status"] = "missing"
    manifest = write_shards(frame, tmp_path / "s", on_error="quarantine", batch_size=64)
    assert (manifest.rows, manifest.quarantined_rows, manifest.source_rows) == (296, 4, 300)
    bad = pq.read_table(tmp_path / "s" / "quarantine.parquet").to_pandas()
    assert bad["row_id"].tolist() == [3, 150, 200, 250]
    checks = ["status_known", "status_present", "finite_value", "input_finite"]
    assert bad["check"].tolist() == checks
    assert bad["source_row"].tolist() == [3, 150, 200, 250]
    assert 260 in read_back(tmp_path / "s")["row_id"].tolist()
    verify_shards(tmp_path / "s")


def test_a_finite_value_beyond_float32_is_quarantined(tmp_path):
    frame = pd.DataFrame({"value": [1.0, 1e39, 1e39], "status": ["finite", "finite", "bottom"]})
    manifest = write_shards(frame, tmp_path / "s", on_error="quarantine")
    bad = pq.read_table(tmp_path / "s" / "quarantine.parquet").to_pandas()
    assert bad["row_id"].tolist() == [1] and bad["check"].tolist() == ["finite_value"]
    assert manifest.rows == 2  # the bottom row keeps its (irrelevant) value, as inf


def test_abort_leaves_nothing(tmp_path):
    frame = source(300)
    frame.loc[200, ["status", "value"]] = ["finite", np.nan]
    with pytest.raises(DataError, match=r"fail finite_value \(first at data rows 200\)"):
        write_shards(frame, tmp_path / "s", rows_per_shard=50, batch_size=64)
    assert list((tmp_path / "s").iterdir()) == []


def test_out_dir_rules(tmp_path):
    out = tmp_path / "s"
    write_shards(source(100), out)
    with pytest.raises(UsageError, match="already holds a shard set; pass --overwrite"):
        write_shards(source(100), out)
    write_shards(source(50), out, overwrite=True)
    assert read_manifest(out).rows == 50
    # Shard-like files without a manifest or run marker may be the user's: refused.
    (out / "manifest.json").unlink()
    (out / "part-00007.parquet").write_bytes(b"half")
    with pytest.raises(UsageError, match="without a manifest or a run marker of zpml's"):
        write_shards(source(80), out)
    assert (out / "part-00007.parquet").read_bytes() == b"half"
    # A killed run leaves its marker and staging directory: re-running starts clean.
    (out / ".zpml-run").write_text("zpml run by process 1\n")
    staged = out / ".zpml-staging-0123456789ab.tmp" / "set-0"
    staged.mkdir(parents=True)
    (staged / "part-00000.parquet").write_bytes(b"half")
    write_shards(source(80), out)
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "part-00000.parquet"]
    # A directory of another name is never taken for zpml's, whatever its name.
    (out / ".cache.tmp").mkdir()
    with pytest.raises(UsageError, match=r"holds files zpml did not write \(.cache.tmp\)"):
        write_shards(source(80), out, overwrite=True)
    assert (out / ".cache.tmp").is_dir()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match=r"holds files zpml did not write \(notes.txt\)"):
        write_shards(source(10), tmp_path / "mine", overwrite=True)


def test_unlabelled_target_is_refused(tmp_path):
    with pytest.raises(UsageError, match="has no status column; label it first"):
        write_shards(pd.DataFrame({"value": [1.0]}), tmp_path / "s")


@pytest.fixture
def shards(tmp_path):
    write_shards(source(3000), tmp_path / "s", rows_per_shard=1000)
    return tmp_path / "s"


def test_verify_catches_a_flipped_byte(shards):
    path = shards / "part-00001.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"part-00001.parquet: sha256 differs"):
        verify_shards(shards)


def test_verify_catches_truncation_and_deletion(shards):
    path = shards / "part-00000.parquet"
    path.write_bytes(path.read_bytes()[:-10])
    (shards / "part-00002.parquet").unlink()
    with pytest.raises(IntegrityError, match="2 problems") as info:
        verify_shards(shards)
    message = str(info.value)
    assert "part-00000.parquet: " in message and "(truncated or replaced?)" in message
    assert "part-00002.parquet: missing" in message


def edit_manifest(directory, change):
    path = directory / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_verify_catches_manifest_edits(shards):
    edit_manifest(shards, lambda m: m["shards"][1]["status_counts"].update(finite=0))
    with pytest.raises(IntegrityError, match=r"part-00001\.parquet: status counts differ"):
        verify_shards(shards)


@pytest.mark.parametrize("name", ["../escape.parquet", "/etc/passwd", "..", "a/b.parquet"])
def test_manifest_paths_must_stay_inside(shards, name):
    edit_manifest(shards, lambda m: m["shards"][0].update(file=name))
    with pytest.raises(IntegrityError, match="is not a plain file name"):
        verify_shards(shards)


def test_unknown_manifest_version(shards):
    edit_manifest(shards, lambda m: m.update(version=99))
    with pytest.raises(
        IntegrityError,
        match="version 99 is unknown; this release of zpml reads versions 2, 3: write the shards",
    ):
        verify_shards(shards)


def test_malformed_manifest(shards):
    edit_manifest(shards, lambda m: m.update(rows="many"))
    with pytest.raises(IntegrityError, match="invalid manifest at rows"):
        verify_shards(shards)
    (shards / "manifest.json").unlink()
    with pytest.raises(IntegrityError, match="no manifest"):
        verify_shards(shards)


def test_verify_recomputes_the_lift(shards):
    # A shard rewritten with a wrong Y_d and a manifest updated to match: only the fresh
    # lift can tell.
    import pyarrow as pa

    from zpml_data.shards.manifest import sha256_file

    path = shards / "part-00000.parquet"
    table = pq.read_table(path)
    y_d = pa.array(np.ones(table.num_rows, dtype=np.float32))
    table = table.set_column(table.schema.get_field_index("Y_d"), "Y_d", y_d)
    pq.write_table(table, path, row_group_size=16384)
    edit_manifest(
        shards, lambda m: m["shards"][0].update(bytes=path.stat().st_size, sha256=sha256_file(path))
    )
    with pytest.raises(IntegrityError, match="stored Y_d differs from a fresh lift"):
        verify_shards(shards)


def test_verify_refuses_row_group_counts_swapped_in_the_manifest(tmp_path):
    write_shards(source(3000), tmp_path / "s", rows_per_shard=1000, row_group_rows=250)
    groups = read_manifest(tmp_path / "s").shards[0].row_groups
    assert groups[0].status_counts != groups[1].status_counts  # else a swap changes nothing

    def swap(manifest):
        first, second = manifest["shards"][0]["row_groups"][:2]
        first["status_counts"], second["status_counts"] = (
            second["status_counts"],
            first["status_counts"],
        )

    edit_manifest(tmp_path / "s", swap)
    with pytest.raises(IntegrityError, match="2 problems") as info:
        verify_shards(tmp_path / "s")
    assert "part-00000.parquet: row group 0 (rows 0..): status counts differ" in str(info.value)
    assert "part-00000.parquet: row group 1 (rows 250..): status counts differ" in str(info.value)
