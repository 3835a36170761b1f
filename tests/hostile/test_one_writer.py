"""Class 2: one writer at a time on an output."""

from __future__ import annotations

from tests.conftest import run_zpml
from tests.hostile.conftest import zpml_fails
from zpml_data.io.guard import output_lock
from zpml_data.shards import verify_shards


def test_a_second_shard_run_into_the_same_directory_stops(data):
    out = data / "out"
    out.mkdir()
    with output_lock(out):  # another run holds the directory
        zpml_fails(
            2,
            f"{out} is being written by another zpml run",
            "shard",
            data / "a.parquet",
            out,
            inputs=(data / "a.parquet",),
        )
    assert list(out.iterdir()) == []
    assert run_zpml("shard", data / "a.parquet", out).returncode == 0
    verify_shards(out)


def test_a_second_convert_to_the_same_dest_stops(data):
    dest = data / "o.parquet"
    with output_lock(dest):
        zpml_fails(
            2,
            "o.parquet is being written by another zpml run",
            "convert",
            data / "legacy.csv",
            dest,
            inputs=(data / "legacy.csv",),
        )
    assert not dest.exists() and not (data / ".o.parquet.lock").exists()
