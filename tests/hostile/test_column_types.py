"""Class 5: every column type that can hold the data is read, or refused by name."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import run_zpml
from tests.hostile.conftest import checksums, zpml_fails
from zpml_data.shards import read_manifest


def test_integer_codes_with_nulls_unsigned_codes_decimals_and_views(data):
    table = pa.table(
        {
            "value": [1.0, np.nan, 2.0, 3.0],
            "status": pa.array([0, 1, None, 0], pa.int8()),
            "u": pa.array([0, 1, 0, 0], pa.uint8()),
            "d": pa.array([1, 2, 3, 4], pa.decimal128(6, 2)),
            "label": pa.array(["finite", "bottom", "finite", "finite"], pa.string_view()),
        }
    )
    pq.write_table(table, data / "t.parquet")
    before = checksums(data)
    nulls = run_zpml("audit", data / "t.parquet", "--inputs", "d")
    assert nulls.returncode == 1 and "status_present [value]: 1 rows" in nulls.stdout
    assert "'0.0'" not in nulls.stdout
    for status, out in (("u", "su"), ("label", "sl")):
        result = run_zpml(
            "shard", data / "t.parquet", data / out, "--status", status, "--inputs", "d"
        )
        assert result.returncode == 0, result.stderr
        assert read_manifest(data / out).inputs == ["d"]
    assert checksums(data / "t.parquet") == {
        str(data / "t.parquet"): before[str(data / "t.parquet")]
    }


def test_an_input_beyond_float32_fails_input_finite(data):
    table = pa.table({"value": [1.0, 2.0], "status": ["finite"] * 2, "x": [1e39, 1.0]})
    pq.write_table(table, data / "big.parquet")
    result = run_zpml("audit", data / "big.parquet", "--strict")
    assert result.returncode == 1 and "input_finite [value]: 1 rows" in result.stdout


def test_shard_honours_the_schema_and_refuses_a_missing_one(data):
    zpml_fails(
        2,
        "cannot read schema file '.*absent.yaml'",
        "shard",
        data / "a.parquet",
        data / "out",
        "--schema",
        data / "absent.yaml",
        inputs=(data,),
    )
    (data / "s.yaml").write_text(
        "schema_type: dataframe\ncolumns:\n  x:\n    checks:\n      greater_than: 100\n"
    )
    zpml_fails(
        1,
        "fail greater_than",
        "shard",
        data / "a.parquet",
        data / "out",
        "--schema",
        data / "s.yaml",
        inputs=(data / "a.parquet", data / "s.yaml"),
    )


def test_a_status_column_of_lists_or_records_is_refused_by_name(data):
    for name, status in (
        ("lists", pa.array([["finite"], ["bottom"]])),
        ("records", pa.array([{"label": "finite"}, {"label": "bottom"}])),
    ):
        pq.write_table(pa.table({"value": [1.0, 2.0], "status": status}), data / f"{name}.parquet")
        for verb in (("audit",), ("shard", data / f"{name}-out")):
            zpml_fails(
                2,
                f"{name}.parquet: status column 'status' holds (list|struct).*one label",
                *verb[:1],
                data / f"{name}.parquet",
                *verb[1:],
                inputs=(data,),
            )


def test_status_columns_of_extension_types_and_wide_dictionaries_are_checked(data):
    wide = pa.DictionaryArray.from_arrays(
        pa.array([0, 1, None], pa.uint64()), pa.array(["finite", "bottom"])
    )
    tables = {
        "json": (pa.array(['"finite"', '"x"', None], pa.json_()), "status_known"),
        "wide": (wide, "status_present"),
    }
    for name, (status, check) in tables.items():
        source = data / f"{name}.parquet"
        pq.write_table(pa.table({"value": [1.0, 2.0, 3.0], "status": status}), source)
        result = run_zpml("audit", source)
        assert result.returncode == 1 and f"{check} [value]" in result.stdout, result.stderr
        zpml_fails(1, f"fail .*{check}", "shard", source, data / name, inputs=(data,))
