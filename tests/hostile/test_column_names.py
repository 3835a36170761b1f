"""Class 4: column names are the user's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from tests.conftest import run_zpml
from tests.hostile.conftest import checksums, labelled, zpml_fails


def test_features_named_like_internal_columns_pass(data):
    frame = labelled().rename(columns={"value": "y", "status": "s"})
    frame["value"], frame["status"], frame["row_id"], frame["check"] = 1.0, 2.0, 3.0, 4.0
    frame.loc[3, "s"] = "bogus"
    frame.to_parquet(data / "n.parquet", index=False)
    before = checksums(data)
    audit = run_zpml("audit", data / "n.parquet", "--value", "y", "--status", "s")
    assert audit.returncode == 1 and "status_known [y]: 1 rows" in audit.stdout
    shard = run_zpml(
        "shard",
        data / "n.parquet",
        data / "out",
        "--value",
        "y",
        "--status",
        "s",
        "--on-error",
        "quarantine",
    )
    assert shard.returncode == 0, shard.stderr
    names = pq.read_schema(data / "out" / "quarantine.parquet").names
    assert len(names) == len(set(names))
    assert {"row_id", "check", "zpml_row_id", "zpml_check", "source_row"} <= set(names)
    assert checksums(data / "n.parquet") == {
        str(data / "n.parquet"): before[str(data / "n.parquet")]
    }


def test_a_target_among_the_inputs_is_refused(data):
    zpml_fails(
        2,
        "column 'value' is both a target and an input",
        "shard",
        data / "a.parquet",
        data / "out",
        "--inputs",
        "x,value",
        inputs=(data / "a.parquet",),
    )
    assert not (data / "out" / "manifest.json").exists()


def test_an_input_named_status_is_checked_as_an_input(data):
    frame = pd.DataFrame({"y": [1.0, 2.0], "s": ["finite", "finite"], "status": [np.inf, 1.0]})
    frame.to_parquet(data / "st.parquet", index=False)
    result = run_zpml("audit", data / "st.parquet", "--value", "y", "--status", "s")
    assert result.returncode == 0 and "input_finite [y]: 1 rows" in result.stdout
