"""The compared source is audited, not only counted: its failures fail the comparison."""

from __future__ import annotations

import json

import numpy as np

from tests.conftest import run_zpml
from tests.hostile.conftest import checksums, labelled
from zpml_data import audit
from zpml_data.auditing.report import Verdict


def test_a_failing_source_fails_when_it_is_the_one_compared_with(tmp_path):
    clean, broken = labelled(), labelled()
    broken.loc[3, "value"] = np.nan  # a finite row without a finite value: an error
    clean.to_parquet(tmp_path / "a.parquet", index=False)
    broken.to_parquet(tmp_path / "b.parquet", index=False)
    before = checksums(tmp_path)

    assert audit(tmp_path / "b.parquet").verdict is Verdict.FAIL
    report = audit(tmp_path / "a.parquet", compare=tmp_path / "b.parquet")
    assert report.targets[0].verdict is Verdict.PASS  # A itself is clean
    assert report.comparison is not None and report.comparison.other_verdict is Verdict.FAIL
    assert report.verdict is Verdict.FAIL

    out = tmp_path / "report.json"
    result = run_zpml(
        "audit", tmp_path / "a.parquet", "--compare", tmp_path / "b.parquet", "--json", out
    )
    assert result.returncode == 1, result.stderr
    assert "ERROR finite_value [value, compared]: 1 rows (first:" in result.stdout
    data = json.loads(out.read_text())
    assert data["verdict"] == "fail" and data["comparison"]["verdict"] == "fail"
    [failed] = data["comparison"]["checks"]
    assert (failed["name"], failed["target"], failed["failed"]) == ("finite_value", "value", 1)
    assert failed["examples"][0]["row"] == 3
    out.unlink()
    assert checksums(tmp_path) == before


def test_two_clean_sources_compare_clean(tmp_path):
    labelled().to_parquet(tmp_path / "a.parquet", index=False)
    labelled().to_parquet(tmp_path / "b.parquet", index=False)
    report = audit(tmp_path / "a.parquet", compare=tmp_path / "b.parquet")
    assert report.verdict is Verdict.PASS
    assert report.to_dict()["comparison"]["checks"] == []
