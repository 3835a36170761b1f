"""Every script in examples/ runs to the end and does what its docstring says."""

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

from zpml_data.datasets import assay_dose_response
from zpml_data.status import STATUS_LABELS

EXAMPLES = Path(__file__).parents[2] / "examples"


def run(script, *args):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_there_are_exactly_the_examples_tested_here():
    assert {p.name for p in EXAMPLES.glob("*.py")} == {"assay_pipeline.py", "train_val_skew.py"}


def test_assay_pipeline_recovers_the_labels_audits_by_site_and_verifies_shards(tmp_path):
    stdout = run("assay_pipeline.py", tmp_path / "work")
    frame = assay_dose_response(n_rows=50_000, seed=1)  # what the script exports
    assert "rows in: 50,000  rows out: 50,000" in stdout
    assert "audit verdict: pass" in stdout
    for site, rows in frame.groupby("site", observed=True):
        counts = rows["status"].astype(str).value_counts()
        finite, below = int(counts.get("finite", 0)), int(counts.get("censored_below", 0))
        assert f"  {site}: {finite:,} finite, {below:,} below LOD" in stdout
    assert re.search(r"^50,000 rows in \d+ verified shards at ", stdout, re.M)
    labelled = pd.read_parquet(tmp_path / "work" / "assay-labelled.parquet")
    assert (labelled["status"].astype(str) == frame["status"].astype(str)).all()


def test_train_val_skew_flags_exactly_the_labels_whose_share_moved_over_5_pp():
    stdout = run("train_val_skew.py")
    frame = assay_dose_response(n_rows=40_000, seed=2)
    status = frame["status"].astype(str)
    train = status[frame["site"] != "site-A"].value_counts(normalize=True)
    validation = status[frame["site"] == "site-A"].value_counts(normalize=True)
    moved = {
        label
        for label in STATUS_LABELS
        if abs(validation.get(label, 0.0) - train.get(label, 0.0)) > 0.05
    }
    assert "censored_above" in moved  # the planted skew: site-A saturates more often
    flagged = {line.split()[0] for line in stdout.splitlines() if line.endswith("<- skew")}
    assert flagged == moved
    assert stdout.rstrip().endswith("verdict: warn")
