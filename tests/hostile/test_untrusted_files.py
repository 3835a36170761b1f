"""Class 6: specs, reason maps, schemas and manifests are untrusted input."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.conftest import run_zpml
from tests.hostile.conftest import zpml_fails

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (LAUGHS, "anchors and aliases are not allowed"),
        ("value: " + "[" * 5000 + "]" * 5000, "nested deeper than"),
        ("value: [a]\n", r"targets\[0\].value must be a column name, got \['a'\]"),
        ("schema: 123\n", "schema must be the path of a YAML file, got 123"),
        (b"value: \xff\xfe\n", "is not UTF-8 text"),
    ],
)
def test_hostile_specs(data, text, match):
    spec = data / "spec.yaml"
    spec.write_bytes(text.encode() if isinstance(text, str) else text)
    zpml_fails(2, f"spec.*{match}", "audit", data / "a.parquet", "--spec", spec, inputs=(data,))


def test_yaml_booleans_as_reason_keys_stay_text(data):
    (data / "r.csv").write_text("value,why\n1.0,\n,on\n,yes\n")
    (data / "map.yaml").write_text("on: missing\nyes: fault\n")
    result = run_zpml(
        "convert",
        data / "r.csv",
        data / "o.csv",
        "--reason-column",
        "why",
        "--reason-map",
        data / "map.yaml",
    )
    assert result.returncode == 0, result.stderr
    assert (data / "o.csv").read_text().splitlines()[1:] == [
        "1,,finite",
        ",on,missing",
        ",yes,fault",
    ]


def test_a_manifest_that_is_a_fifo_or_dev_zero(data):
    out = data / "out"
    assert run_zpml("shard", data / "a.parquet", out).returncode == 0
    (out / "manifest.json").unlink()
    os.symlink("/dev/zero", out / "manifest.json")
    zpml_fails(1, "manifest '.*manifest.json' is not a regular file", "verify", out)
    (out / "manifest.json").unlink()
    os.mkfifo(out / "manifest.json")
    zpml_fails(1, "manifest '.*manifest.json' is not a regular file", "inspect", out)


def test_shards_listed_twice_or_linked_outside(data):
    out = data / "out"
    assert run_zpml("shard", data / "a.parquet", out, "--rows-per-shard", "10").returncode == 0
    manifest = json.loads((out / "manifest.json").read_text())
    twice = dict(manifest, shards=[manifest["shards"][0]] * 2)
    (out / "manifest.json").write_text(json.dumps(twice))
    zpml_fails(1, r"shards\[1\]: 'part-00000.parquet' is listed twice", "verify", out)
    (out / "manifest.json").write_text(json.dumps(manifest))
    shutil.move(out / "part-00001.parquet", data / "elsewhere.parquet")
    os.symlink(data / "elsewhere.parquet", out / "part-00001.parquet")
    (out / "part-00000.parquet").write_bytes(b"changed")
    line = zpml_fails(1, "2 problems", "verify", out)
    result = run_zpml("verify", out)
    assert "part-00000.parquet: 7 bytes" in result.stderr
    assert "part-00001.parquet: a link leading outside the shard directory" in result.stderr
    assert line.startswith("zpml verify: error:")


def test_out_of_range_codes_with_matching_checksums(data):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from zpml_data.shards.manifest import sha256_file

    out = data / "out"
    assert run_zpml("shard", data / "a.parquet", out).returncode == 0
    path = out / "part-00000.parquet"
    table = pq.read_table(path)
    codes = table.column("status").to_numpy().copy()
    codes[0] = 9
    table = table.set_column(
        table.schema.get_field_index("status"), "status", pa.array(codes, pa.int8())
    )
    pq.write_table(table, path, row_group_size=1 << 14)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"][0].update(bytes=path.stat().st_size, sha256=sha256_file(path))
    (out / "manifest.json").write_text(json.dumps(manifest))
    zpml_fails(1, "verify", "verify", out)
    assert "status codes outside 0..6" in run_zpml("verify", out).stderr
