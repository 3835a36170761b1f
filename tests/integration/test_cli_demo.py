"""The real `zpml` command, run as a subprocess: the demo's data side, and how errors exit."""

import json
import re

import pandas as pd

from tests.conftest import DemoRun
from tests.conftest import run_zpml as zpml
from zpml_data.datasets import assay_dose_response, lab_export
from zpml_data.shards.manifest import read_manifest
from zpml_data.status import STATUS_LABELS


def printed_mix(stdout, name):
    """Label -> count from the status table the demo prints for dataset ``name``."""
    section = stdout.split(f"{name}: ", 1)[1]
    rows = re.findall(r"^  (\w+) +([\d,]+) +[\d.]+%$", section, re.M)[: len(STATUS_LABELS)]
    return {label: int(count.replace(",", "")) for label, count in rows}


def test_demo_prints_the_counts_of_what_it_wrote(demo: DemoRun):
    out, result = demo.out, demo.result
    for name in ("assay", "rational"):
        frame = pd.read_parquet(out / f"{name}.parquet")
        counts = frame["status"].astype(str).value_counts()
        assert printed_mix(result.stdout, name) == {
            label: int(counts.get(label, 0)) for label in STATUS_LABELS
        }
        finite = int(counts.get("finite", 0))
        untrained = int(counts.get("missing", 0))
        bottom = len(frame) - finite - untrained
        assert (
            f"lifted: {finite:,} finite targets, {bottom:,} bottom (Y_d = 0), "
            f"{untrained:,} untrained" in result.stdout
        )
        report = json.loads((out / f"{name}-audit.json").read_text())
        assert f"audit: {report['verdict']}" in result.stdout

    original = pd.read_parquet(out / "assay.parquet")["status"].astype(str)
    converted = pd.read_parquet(out / "assay-converted.parquet")["status"].astype(str)
    assert f"rows in: {len(original):,}  rows out: {len(converted):,}" in result.stdout
    same = int((original == converted).sum())
    assert f"labels recovered: {same:,} of {len(original):,} rows match" in result.stdout

    # One semantic defect of each kind was planted in the lab export; the audit of the
    # converted table flags each, and --sentinel=-999=missing clears the -999 codes.
    _, planted = lab_export(assay_dose_response())
    first = json.loads((out / "assay-converted-audit.json").read_text())
    again = json.loads((out / "assay-converted-again-audit.json").read_text())
    for check, rows in planted.items():
        flagged = {c["name"]: c["failed"] for c in first["checks"]}[check]
        after = {c["name"]: c["failed"] for c in again["checks"]}[check]
        assert re.search(
            rf"^  {check} +{len(rows):,} +{flagged:,} +{after:,}$", result.stdout, re.M
        )
        assert flagged >= len(rows) > 0
        if check != "status_skew_by_group":  # a skew flags every row of its group and label
            examples = {c["name"]: c for c in first["checks"]}[check]["examples"]
            assert {e["row"] for e in examples} & set(rows.tolist())
    assert {c["name"]: c["failed"] for c in again["checks"]}["sentinel_number"] == 0
    assert {c["name"]: c["failed"] for c in again["checks"]}["finite_beyond_limit"] == 1

    for name, rows in (("assay-train", len(original)), ("assay-val", 4_000)):
        manifest = read_manifest(out / f"{name}-shards")
        assert manifest.rows == rows
        printed = f"shards: {rows:,} rows in {len(manifest.shards)} shards -> {out}/{name}-shards"
        assert printed in result.stdout


def test_usage_error_exits_2_without_traceback():
    result = zpml("no-such-verb")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "invalid choice: 'no-such-verb'" in result.stderr


def test_io_error_exits_2_with_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = zpml("demo", str(blocker / "out"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "zpml demo: error:" in result.stderr
