"""`zpml audit` and `zpml shard` check rows with the same function, so they agree."""

import json

import pandas as pd

from tests.conftest import run_zpml as zpml


def planted(tmp_path):
    """Five finite rows; row 2 is finite in float64 but overflows the shards' float32."""
    source = tmp_path / "overflow.csv"
    values = [0.5, 1.5, 1e39, 2.5, 3.5]
    pd.DataFrame({"x": range(5), "value": values, "status": ["finite"] * 5}).to_csv(
        source, index=False
    )
    return source


def test_audit_and_shard_agree_on_a_float32_overflow(tmp_path):
    source = planted(tmp_path)
    audit = zpml("audit", source, "--json", "-")
    assert audit.returncode == 1, audit.stderr
    report = json.loads(audit.stdout)
    [check] = [c for c in report["checks"] if c["name"] == "finite_value"]
    assert check["failed"] == 1
    assert check["examples"][0]["row"] == 2 and check["examples"][0]["value"] == 1e39

    shard = zpml("shard", source, tmp_path / "s")
    assert shard.returncode == 1
    assert "1 rows of this batch fail finite_value (first at data rows 2)" in shard.stderr

    shard = zpml("shard", source, tmp_path / "s", "--on-error", "quarantine")
    assert shard.returncode == 0, shard.stderr
    quarantined = pd.read_parquet(tmp_path / "s" / "quarantine.parquet")
    assert quarantined[["source_row", "check"]].values.tolist() == [[2, "finite_value"]]


def test_shard_applies_the_users_schema_as_the_audit_does(tmp_path):
    source = planted(tmp_path)
    schema = tmp_path / "schema.yaml"
    schema.write_text(
        "schema_type: dataframe\ncolumns:\n  x:\n    checks:\n"
        "    - value: 3\n      options: {check_name: less_than}\n"
    )
    audit = zpml("audit", source, "--schema", schema, "--json", "-")
    report = json.loads(audit.stdout)
    [check] = [c for c in report["checks"] if c["name"] == "less_than(3)"]
    assert (check["failed"], [e["row"] for e in check["examples"]]) == (2, [3, 4])

    shard = zpml("shard", source, tmp_path / "s", "--schema", schema, "--on-error", "quarantine")
    assert shard.returncode == 0, shard.stderr
    quarantined = pd.read_parquet(tmp_path / "s" / "quarantine.parquet")
    assert quarantined[["source_row", "check"]].values.tolist() == [
        [2, "finite_value"],
        [3, "less_than(3)"],
        [4, "less_than(3)"],
    ]
