"""Class 7: no internal errors; bounded options; Ctrl-C exits 130 in one line."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_zpml
from tests.hostile.conftest import checksums, labelled, zpml_fails


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (
            ("audit", "A", "--batch-size", "100000000000000000000"),
            "--batch-size: the value must be",
        ),
        (("shard", "A", "OUT", "--seed", "-1"), "--seed: the value must be between 0 and"),
        (("shard", "A", "OUT", "--row-group-rows", "1e20"), "expected a whole number, got '1e20'"),
        (("audit", "A", "--compare", "A", "--skew-threshold", "nan"), "finite number, got nan"),
    ],
)
def test_numeric_options_have_bounds(data, args, match):
    argv = [
        str(data / "a.parquet") if a == "A" else str(data / "out") if a == "OUT" else a
        for a in args
    ]
    zpml_fails(2, match, *argv, inputs=(data,))


def test_group_by_a_list_column_is_refused(data):
    table = pa.Table.from_pandas(labelled(3, tags=[[1], [2], [3]]), preserve_index=False)
    pq.write_table(table, data / "l.parquet")
    zpml_fails(
        2,
        "group column 'tags' holds list",
        "audit",
        data / "l.parquet",
        "--group-by",
        "tags",
        inputs=(data,),
    )


def test_a_null_group_and_the_text_null_differ(data):
    labelled(4, site=["null", None, "a", "null"]).to_parquet(data / "g.parquet", index=False)
    result = run_zpml("audit", data / "g.parquet", "--group-by", "site", "--json", "-")
    import json

    groups = json.loads(result.stdout)["targets"][0]["groups"]["site"]
    assert sum(groups["null"].values()) == 2 and sum(groups["(null)"].values()) == 1


def test_ctrl_c_exits_130_in_one_line_and_cleans_up(data):
    big = labelled(400_000)
    big.to_parquet(data / "big.parquet", index=False)
    before = checksums(data)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zpml_data.cli",
            "shard",
            str(data / "big.parquet"),
            str(data / "out"),
            "--batch-size",
            "1000",
            "--rows-per-shard",
            "5000",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 30  # until phase 2 writes shards (in the run's staging directory)
    while not list((data / "out").rglob("part-*.parquet")) and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130 and err.strip() == "zpml shard: interrupted"
    assert list((data / "out").iterdir()) == []
    assert checksums(data / "big.parquet") == {
        str(data / "big.parquet"): before[str(data / "big.parquet")]
    }
