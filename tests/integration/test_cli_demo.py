"""The real `zpml` command, run as a subprocess."""

import pandas as pd

from tests.conftest import run_zpml as zpml


def test_demo_writes_the_example_data_and_prints_the_mix(tmp_path):
    result = zpml("demo", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assay = pd.read_parquet(tmp_path / "out" / "assay.parquet")
    assert len(assay) == 20_000
    assert "censored_below" in result.stdout and "fault" in result.stdout
    finite = int((assay["status"] == "finite").sum())
    assert f"lifted: {finite:,} finite targets" in result.stdout


def test_usage_error_exits_2_without_traceback():
    result = zpml("no-such-verb")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "invalid choice" in result.stderr


def test_io_error_exits_2_with_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = zpml("demo", str(blocker / "out"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "zpml demo: error:" in result.stderr
