"""Inputs at shard time: text one-hot encoded, inputs said out loud, non-finite inputs refused."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tests.conftest import run_zpml as zpml
from zpml_data.datasets import assay_dose_response
from zpml_data.errors import DataError, UsageError
from zpml_data.shards.inputs import MAX_CATEGORIES, encode_inputs, feature_names, one_hot
from zpml_data.shards.verify import verify_shards
from zpml_data.shards.writer import write_shards
from zpml_data.spec import DatasetSpec
from zpml_train.data.loader import make_loader


def test_one_hot_follows_the_manifest_order_and_counts_what_it_has_not_seen():
    column = pa.array(["b", "a", None, "z", "b"])
    encoded, unseen = one_hot(column, ["a", "b"])
    assert encoded.tolist() == [[0, 1], [1, 0], [0, 0], [0, 0], [0, 1]]
    assert encoded.dtype == np.float32 and unseen == 2
    dictionary = pa.array(["b", "a"]).dictionary_encode()
    assert one_hot(dictionary, ["a", "b"])[0].tolist() == [[0, 1], [1, 0]]


def test_encode_inputs_puts_each_column_in_its_place():
    batch = pa.record_batch({"x": [1.5, None], "site": ["s2", "s9"], "y": [3, 4]})
    features, unseen = encode_inputs(batch, ["x", "site", "y"], {"site": ["s1", "s2"]})
    assert feature_names(["x", "site", "y"], {"site": ["s1", "s2"]}) == [
        "x", "site=s1", "site=s2", "y",
    ]  # fmt: skip
    np.testing.assert_array_equal(features, [[1.5, 0, 1, 3], [np.nan, 0, 0, 4]])
    assert unseen == {"site": 1}


def test_the_assays_site_reaches_the_model(tmp_path):
    frame = assay_dose_response(2000)
    spec = DatasetSpec(inputs=("site", "dose", "temperature", "incubation_h"))
    manifest = write_shards(frame, tmp_path / "s", spec, rows_per_shard=700)
    sites = sorted(frame["site"].astype(str).unique())
    assert manifest.categories == {"site": sites}
    assert manifest.inputs == [*(f"site={s}" for s in sites), "dose", "temperature", "incubation_h"]
    verify_shards(tmp_path / "s")
    loader = make_loader(tmp_path / "s", batch_size=4096, shuffle=False)
    batch = next(iter(loader))
    rows = batch.row_id.numpy()
    expected = np.stack([(frame["site"].astype(str) == s).to_numpy() for s in sites], axis=1)
    np.testing.assert_array_equal(batch.inputs[:, : len(sites)].numpy(), expected[rows])
    np.testing.assert_allclose(
        batch.inputs[:, len(sites)].numpy(), frame["dose"].to_numpy(np.float32)[rows]
    )


def test_a_text_column_with_too_many_categories_is_refused(tmp_path):
    n = MAX_CATEGORIES + 1
    frame = pd.DataFrame(
        {"id": [f"p{i}" for i in range(n)], "value": np.ones(n), "status": ["finite"] * n}
    )
    with pytest.raises(UsageError, match=r"input column 'id' holds 1,001 distinct texts"):
        write_shards(frame, tmp_path / "s", DatasetSpec(inputs=("id",)))
    assert not (tmp_path / "s").exists()


def test_a_list_input_is_still_refused(tmp_path):
    frame = pa.table({"v": [[1.0], [2.0]], "value": [1.0, 2.0], "status": ["finite", "finite"]})
    with pytest.raises(UsageError, match=r"input column\(s\) 'v' are not numbers or text"):
        write_shards(frame, tmp_path / "s", DatasetSpec(inputs=("v",)))


def test_zpml_shard_says_the_inputs_and_why_every_other_column_is_left_out(tmp_path):
    frame = pd.DataFrame(
        {
            "time": [1.0, 2.0],
            "event": [1, 0],
            "note": ["a", "b"],
            "tags": [[1], [2]],
            "value": [1.0, 2.0],
            "status": ["finite", "censored_above"],
        }
    )
    source = tmp_path / "t.parquet"
    frame.to_parquet(source)
    result = zpml("shard", source, tmp_path / "s")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "  input time\n  input event\n" in out
    assert "left out note: a text column (name it in --inputs to one-hot encode it)" in out
    assert "left out tags: a list or struct column" in out
    assert "left out value: the target's value" in out
    assert "left out status: the status of target 'value'" in out
    inspect = zpml("inspect", tmp_path / "s").stdout
    assert "input time" in inspect and "left out note: a text column" in inspect
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["spec"]["inputs"] == ["time", "event"]  # never the target or its status


@pytest.mark.parametrize("bad", [1e39, -1e300, float("nan")])
def test_an_input_that_is_not_finite_in_float32_stops_zpml_shard(tmp_path, bad):
    frame = pd.DataFrame(
        {"x": [1.0, bad, 2.0], "value": [1.0, 2.0, 3.0], "status": ["finite", "bottom", "finite"]}
    )
    source = tmp_path / "t.parquet"
    frame.to_parquet(source)
    before = source.read_bytes()
    result = zpml("shard", source, tmp_path / "s")
    assert result.returncode == 1
    assert "fail input_finite (first at data rows 1)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s" / "manifest.json").exists()
    assert source.read_bytes() == before
    result = zpml("shard", source, tmp_path / "q", "--on-error", "quarantine")
    assert result.returncode == 0 and "quarantined 1 rows" in result.stdout
    audit = zpml("audit", source, "--json", "-")
    assert audit.returncode == 0  # a warning in the audit
    checks = {c["name"]: c for c in json.loads(audit.stdout)["targets"][0]["checks"]}
    assert checks["input_finite"]["failed"] == 1 and checks["input_finite"]["level"] == "warning"


def test_a_missing_row_keeps_its_input_that_is_not_finite(tmp_path):
    frame = pd.DataFrame(
        {"x": [np.nan, 1.0], "value": [np.nan, 1.0], "status": ["missing", "finite"]}
    )
    assert write_shards(frame, tmp_path / "s").rows == 2


def test_an_abort_names_the_check_in_the_library_too(tmp_path):
    frame = pd.DataFrame({"x": [np.inf], "value": [1.0], "status": ["finite"]})
    with pytest.raises(DataError, match="input_finite"):
        write_shards(frame, tmp_path / "s")
