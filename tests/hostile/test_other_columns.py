"""Class 3: other columns unchanged, every file checked, the ledger committed with DEST."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import run_zpml
from tests.hostile.conftest import checksums, labelled, zpml_fails


def test_a_later_file_lacking_a_column_is_named(data):
    (data / "d").mkdir()
    labelled().to_parquet(data / "d" / "1.parquet", index=False)
    labelled().drop(columns=["x"]).to_parquet(data / "d" / "2.parquet", index=False)
    zpml_fails(2, "2.parquet lacks column.*'x'", "audit", data / "d", inputs=(data,))


def test_a_failed_conversion_leaves_neither_dest_nor_ledger(data):
    pd.DataFrame({"value": ["1.0", "oops"]}).to_csv(data / "bad.csv", index=False)
    zpml_fails(
        1,
        "unparseable values in 'value': 'oops'",
        "convert",
        data / "bad.csv",
        data / "o.csv",
        inputs=(data / "bad.csv",),
    )
    assert not (data / "o.csv").exists() and not (data / "o.csv.ledger.json").exists()


def _convert(source: Path, dest: Path, *options: object) -> None:
    """Convert through the real CLI; assert exit 0 and that no byte of the source changed."""
    before = checksums(source)
    result = run_zpml("convert", source, dest, *options)
    assert result.returncode == 0, result.stderr
    assert checksums(source) == before


def test_csv_to_csv_keeps_the_other_columns_text(data):
    (data / "l.csv").write_text(
        'id,value,note,code\n007,1.5,NA,null\n010,,"a, ""b""",\n1e3,<0.5, padded ,NaN\n'
    )
    _convert(data / "l.csv", data / "o.csv")
    assert (data / "o.csv").read_text().splitlines() == [
        "id,value,note,code,status",
        "007,1.5,NA,null,finite",
        '010,nan,"a, ""b""",,bottom',  # the value column is rewritten as numbers
        "1e3,0.5, padded ,NaN,censored_below",
    ]


def test_null_spellings_the_user_names_are_empty_cells(data):
    (data / "l.csv").write_text("id,value,note\n007,1,NA\n008,NA,keep\n")
    _convert(data / "l.csv", data / "o.csv", "--null", "NA")
    assert (data / "o.csv").read_text().splitlines()[1:] == ["007,1,,finite", "008,,keep,bottom"]


def test_a_column_that_changes_type_after_many_rows_is_read(data):
    rows = 250_001
    value = np.ones(rows, dtype=object)
    value[-2:] = ["2.5", "<0.5"]
    x = np.full(rows, "1", dtype=object)
    x[-1] = "2.5"
    pd.DataFrame({"value": value, "x": x}).to_csv(data / "big.csv", index=False)
    _convert(data / "big.csv", data / "o.parquet")
    table = pq.read_table(data / "o.parquet")
    assert table.schema.field("x").type == pa.float64()
    assert table.column("x").to_pylist()[-2:] == [1.0, 2.5]
    assert table.column("value").to_pylist()[-2:] == [2.5, 0.5]
    assert table.column("status").to_pylist()[-1] == "censored_below"


def _two_files(data: Path, first: pd.DataFrame, second: pd.DataFrame) -> Path:
    (data / "d").mkdir()
    first.to_parquet(data / "d" / "1.parquet", index=False)
    second.to_parquet(data / "d" / "2.parquet", index=False)
    return data / "d"


def test_a_column_only_a_later_file_has_is_named(data):
    legacy = pd.DataFrame({"value": [1.0, np.nan], "x": [1, 2]})
    d = _two_files(data, legacy, legacy.assign(y=[3, 4]))
    zpml_fails(
        2,
        r"2\.parquet has column\(s\) \['y'\] that .*1\.parquet lacks",
        "convert",
        d,
        data / "o.csv",
        inputs=(data,),
    )
    assert not (data / "o.csv").exists()


def test_a_status_column_only_a_later_file_has_is_not_replaced(data):
    legacy = pd.DataFrame({"value": [1.0, np.nan], "x": [1, 2]})
    d = _two_files(data, legacy, legacy.assign(status=["finite", "bottom"]))
    for force in ((), ("--force",)):
        zpml_fails(
            2,
            r"2\.parquet has column\(s\) \['status'\]",
            "convert",
            d,
            data / "o.parquet",
            *force,
            inputs=(data,),
        )


def test_int_in_one_file_and_float_in_the_next_are_unified(data):
    d = _two_files(
        data,
        pd.DataFrame({"value": [1, 2], "x": [1, 2]}),
        pd.DataFrame({"value": [np.nan, 2.5], "x": [0.5, 1.5]}),
    )
    _convert(d, data / "o.parquet")
    table = pq.read_table(data / "o.parquet")
    assert table.column("x").to_pylist() == [1.0, 2.0, 0.5, 1.5]
    assert table.column("status").to_pylist() == ["finite", "finite", "bottom", "finite"]


def test_text_in_one_file_and_numbers_in_the_next_are_refused(data):
    d = _two_files(
        data,
        pd.DataFrame({"value": [1.0], "x": [1]}),
        pd.DataFrame({"value": [1.0], "x": ["a"]}),
    )
    for verb, *dest in (("convert", data / "o.parquet"), ("audit",), ("shard", data / "out")):
        zpml_fails(
            2,
            r"2\.parquet: column 'x' is (large_)?string here but int64",
            verb,
            d,
            *dest,
            inputs=(data,),
        )


def test_audit_and_shard_read_csv_as_convert_does(data):
    frame = labelled(rows=30)
    frame["x"] = frame["x"].round(3).astype(object)
    frame.loc[29, "x"] = "2.5e0"  # a number with text that only the last row has
    frame.to_csv(data / "l.csv", index=False)
    assert run_zpml("audit", data / "l.csv").returncode == 0
    assert run_zpml("shard", data / "l.csv", data / "out").returncode == 0
