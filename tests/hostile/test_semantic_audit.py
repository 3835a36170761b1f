"""The semantic audit on exports nobody here wrote, through the real command."""

from __future__ import annotations

import json

from tests.conftest import run_zpml
from tests.hostile.conftest import checksums
from tests.zpml_data.auditing.realistic import survival


def test_a_survival_table_is_per_row_censored_and_its_leaks_are_named(tmp_path):
    source = tmp_path / "heart.csv"
    survival().to_csv(source, index=False)
    before = checksums(tmp_path)
    report = tmp_path / "report.json"
    page = tmp_path / "report.html"
    result = run_zpml("audit", source, "--json", report, "--html", page)
    assert result.returncode == 0, result.stderr  # warnings only
    assert "censoring: per row" in result.stdout
    assert "WARNING finite_beyond_limit" not in result.stdout
    assert "time: equals the target on 175 of 175 finite rows" in result.stdout
    assert "event: restates the status (0 = censored_above, 1 = finite)" in result.stdout
    data = json.loads(report.read_text())
    assert data["censoring"] == "per_row" and data["verdict"] == "warn"
    failed = {c["name"]: c["failed"] for c in data["checks"] if c["failed"]}
    assert failed == {"input_leak": 300}
    html = page.read_text()
    assert "censoring: per row" in html and "time: equals the target" in html
    report.unlink()
    page.unlink()
    assert checksums(tmp_path) == before

    strict = run_zpml("audit", source, "--strict", "--inputs", "age,ejection_fraction")
    assert strict.returncode == 0, strict.stdout + strict.stderr
    assert run_zpml("audit", source, "--strict").returncode == 1
