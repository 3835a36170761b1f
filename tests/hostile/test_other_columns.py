"""Class 3: other columns unchanged, every file checked, the ledger committed with DEST."""

from __future__ import annotations

import pandas as pd

from tests.hostile.conftest import labelled, zpml_fails


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
