"""`zpml convert` through the real CLI on CSV and Parquet files."""

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from tests.conftest import run_zpml as zpml

LAB = (
    "x,value,why\n1, 1.5 ,\n2,<0.006,\n3, >500 ,\n4,,not_measured\n5,NA,\n6,≤ 2,\n"
    "7,nan,sensor_fault\n"
)


def test_text_markers_and_reasons_from_csv(tmp_path):
    (tmp_path / "lab.csv").write_text(LAB)
    (tmp_path / "map.yaml").write_text("not_measured: missing\nsensor_fault: fault\n")
    dest = tmp_path / "out.parquet"
    result = zpml(
        "convert",
        tmp_path / "lab.csv",
        dest,
        "--reason-column",
        "why",
        "--reason-map",
        tmp_path / "map.yaml",
    )
    assert result.returncode == 0, result.stderr
    out = pq.read_table(dest).to_pandas()
    assert list(out.columns) == ["x", "value", "why", "status"]
    assert out["status"].tolist() == [
        "finite",
        "censored_below",
        "censored_above",
        "missing",
        "bottom",
        "censored_below",
        "fault",
    ]
    np.testing.assert_array_equal(out["value"][:3], [1.5, 0.006, 500.0])
    ledger = json.loads((tmp_path / "out.parquet.ledger.json").read_text())
    assert ledger["rows_in"] == ledger["rows_out"] == 7
    assert ledger["counts"]["text <x"] == {"censored_below": 2}
    assert ledger["lift_preserving"] is False
    assert "text <x -> censored_below: 2 rows" in result.stdout
    # The converted file passes the audit.
    assert zpml("audit", dest).returncode == 0


def test_default_policy_on_parquet_is_lift_preserving_and_csv_output(tmp_path):
    source = tmp_path / "legacy.parquet"
    pd.DataFrame({"x": [1, 2, 3, 4], "value": [1.0, np.nan, np.inf, -np.inf]}).to_parquet(source)
    result = zpml("convert", source, tmp_path / "out.csv")
    assert result.returncode == 0, result.stderr
    assert "lift-preserving (same (Y_n, Y_d) as legacy lift_targets): yes" in result.stdout
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["status"].tolist() == ["finite", "bottom", "censored_above", "censored_below"]
    assert zpml("audit", tmp_path / "out.csv").returncode == 0


def test_other_policy_lists_changed_rows(tmp_path):
    source = tmp_path / "legacy.parquet"
    pd.DataFrame({"value": [1.0, np.nan, 2.0, np.nan]}).to_parquet(source)
    result = zpml("convert", source, tmp_path / "o.parquet", "--nan", "missing")
    assert result.returncode == 0
    assert "NaN or empty -> missing: 2 rows (first: " in result.stdout
    ledger = json.loads((tmp_path / "o.parquet.ledger.json").read_text())
    assert [r["row"] for r in ledger["changed"]["NaN or empty -> missing"]["first_rows"]] == [1, 3]


def one_error_line(result, code):
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    return result.stderr


def test_bad_inputs(tmp_path):
    (tmp_path / "bad.csv").write_text("value\n1\nND\n<x\nND\n")
    message = one_error_line(zpml("convert", tmp_path / "bad.csv", tmp_path / "o.parquet"), 1)
    assert "'ND' (2 rows, first at" in message and "'<x' (1 rows" in message
    assert not (tmp_path / "o.parquet").exists()

    (tmp_path / "lab.csv").write_text(LAB)
    (tmp_path / "map.yaml").write_text("not_measured: missing\n")
    message = one_error_line(
        zpml(
            "convert",
            tmp_path / "lab.csv",
            tmp_path / "o.parquet",
            "--reason-column",
            "why",
            "--reason-map",
            tmp_path / "map.yaml",
        ),
        1,
    )
    assert "reason map lacks: 'sensor_fault' (1 rows)" in message

    (tmp_path / "empty.csv").write_text("")
    message = one_error_line(zpml("convert", tmp_path / "empty.csv", tmp_path / "o.parquet"), 2)
    assert "the file is empty" in message

    (tmp_path / "header.csv").write_text("value\n")
    assert zpml("convert", tmp_path / "header.csv", tmp_path / "h.parquet").returncode == 0
    assert pq.read_table(tmp_path / "h.parquet").num_rows == 0

    pd.DataFrame({"value": [1.0], "status": ["finite"]}).to_csv(tmp_path / "l.csv", index=False)
    message = one_error_line(zpml("convert", tmp_path / "l.csv", tmp_path / "o.parquet"), 2)
    assert "already has a status column 'status'" in message and "--force" in message
    assert zpml("convert", tmp_path / "l.csv", tmp_path / "o.parquet", "--force").returncode == 0

    message = one_error_line(
        zpml("convert", tmp_path / "lab.csv", tmp_path / "o.parquet", "--reason-column", "why"), 2
    )
    assert "a reason column and a reason map go together (--reason-column COL" in message
