"""Class 1: never destroy or replace what zpml did not write."""

from __future__ import annotations

import os
import stat

from tests.conftest import run_zpml
from tests.hostile.conftest import checksums, zpml_fails


def test_convert_onto_its_source_is_refused(data):
    zpml_fails(
        2,
        "would overwrite the input",
        "convert",
        data / "legacy.csv",
        data / "legacy.csv",
        inputs=(data,),
    )


def test_convert_onto_another_spelling_or_hard_link_is_refused(data):
    other = data / "sub" / ".." / "legacy.csv"
    (data / "sub").mkdir()
    zpml_fails(
        2, "would overwrite the input", "convert", data / "legacy.csv", other, inputs=(data,)
    )
    os.link(data / "legacy.csv", data / "linked.csv")
    zpml_fails(
        2,
        "'.*linked.csv' would overwrite",
        "convert",
        data / "legacy.csv",
        data / "linked.csv",
        inputs=(data,),
    )


def test_audit_json_onto_the_source_is_refused(data):
    zpml_fails(
        2,
        "output '.*a.parquet' would overwrite the input",
        "audit",
        data / "a.parquet",
        "--json",
        data / "a.parquet",
        inputs=(data,),
    )
    zpml_fails(
        2,
        "would overwrite the input",
        "audit",
        data / "*.parquet",
        "--html",
        data / "a.parquet",
        inputs=(data,),
    )


def test_shard_into_the_directory_of_its_source_is_refused(data):
    (data / "d").mkdir()
    os.replace(data / "a.parquet", data / "d" / "part-00000.parquet")
    zpml_fails(
        2,
        "output '.*d' would overwrite the input '.*part-00000.parquet'",
        "shard",
        data / "d" / "part-00000.parquet",
        data / "d",
        inputs=(data,),
    )


def test_user_files_named_like_shards_are_not_replaced(data):
    out = data / "out"
    out.mkdir()
    (out / "part-00000.parquet").write_bytes(b"my own file")
    zpml_fails(
        2,
        "without a manifest or a run marker of zpml's.*--overwrite",
        "shard",
        data / "a.parquet",
        out,
        inputs=(data,),
    )


def test_outputs_that_are_not_regular_files_are_refused(data):
    os.mkfifo(data / "pipe.json")
    zpml_fails(
        2,
        "'.*pipe.json' is not a regular file",
        "audit",
        data / "a.parquet",
        "--json",
        data / "pipe.json",
        inputs=(data / "a.parquet",),
    )
    zpml_fails(
        2,
        "'/dev/stdout' is a device",
        "convert",
        data / "legacy.csv",
        "/dev/stdout",
        inputs=(data / "legacy.csv",),
    )
    (data / "dir.parquet").mkdir()
    zpml_fails(
        2,
        "is a directory",
        "convert",
        data / "legacy.csv",
        data / "dir.parquet",
        inputs=(data / "legacy.csv",),
    )
    assert stat.S_ISFIFO(os.stat(data / "pipe.json").st_mode)


def test_outputs_get_the_umask_mode_and_replacing_keeps_the_mode(data):
    before = checksums(data / "legacy.csv")
    old = os.umask(0o027)
    try:
        assert run_zpml("convert", data / "legacy.csv", data / "o.parquet").returncode == 0
        assert stat.S_IMODE(os.stat(data / "o.parquet").st_mode) == 0o640
        assert stat.S_IMODE(os.stat(data / "o.parquet.ledger.json").st_mode) == 0o640
        os.chmod(data / "o.parquet", 0o604)
        assert run_zpml("convert", data / "legacy.csv", data / "o.parquet").returncode == 0
        assert stat.S_IMODE(os.stat(data / "o.parquet").st_mode) == 0o604
    finally:
        os.umask(old)
    assert checksums(data / "legacy.csv") == before
