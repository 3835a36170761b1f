"""`zpml audit` on real CSV and Parquet files with planted problems."""

import json
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_zpml as zpml

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "report.schema.json").read_text())
LABELS = [
    "finite",
    "bottom",
    "censored_below",
    "censored_above",
    "domain_invalid",
    "missing",
    "fault",
]


def planted_frame(n: int = 1200) -> pd.DataFrame:
    """Clean labelled rows with known problems planted at known rows."""
    rng = np.random.default_rng(7)
    status = np.array(LABELS, dtype=object)[rng.integers(0, 7, n)]
    value = rng.normal(size=n)
    value[status != "finite"] = np.nan
    value[status == "censored_below"] = -5.0  # the detection limit
    value[status == "censored_above"] = 5.0  # the saturation limit
    frame = pd.DataFrame(
        {
            "site": np.where(np.arange(n) % 3 == 0, "north", "south"),
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "value": value,
            "status": status,
        }
    )
    frame.loc[[10, 20], "status"] = None  # status_present x2
    frame.loc[[30, 31, 32], "status"] = ["Finite", "censored-above", "<script>alert(1)</script>"]
    frame.loc[[40, 41, 42], ["status", "value"]] = [
        ["finite", np.nan],
        ["finite", np.inf],
        ["finite", -np.inf],
    ]
    frame.loc[[50, 51], ["status", "value", "x1"]] = [
        ["finite", 1.0, np.nan],
        ["finite", 2.0, np.nan],
    ]
    frame.loc[52, ["status", "x2"]] = ["bottom", np.inf]
    frame.loc[53, ["status", "x1"]] = ["missing", np.nan]  # not trainable: no warning
    return frame


EXPECTED_FAILED = {"status_present": 2, "status_known": 3, "finite_value": 3, "input_finite": 3}
# The group-level checks find nothing in this data.
EXPECTED_FAILED |= dict.fromkeys(
    [
        "censored_bound_present",
        "finite_beyond_limit",
        "heaping_at_limit",
        "sentinel_number",
        "status_skew_by_group",
        "input_leak",
    ],
    0,
)


def write(frame: pd.DataFrame, tmp_path: Path, kind: str) -> Path:
    if kind == "csv":
        path = tmp_path / "data.csv"
        frame.to_csv(path, index=False)
    elif kind == "parquet":
        path = tmp_path / "data.parquet"
        frame.to_parquet(path, index=False)
    else:
        path = tmp_path / "parts"
        path.mkdir()
        for i, chunk in enumerate(np.array_split(np.arange(len(frame)), 3)):
            frame.iloc[chunk].to_parquet(path / f"part-{i}.parquet", index=False)
    return path


def expected_counts(frame: pd.DataFrame) -> dict:
    counts = frame["status"].value_counts()
    return {label: int(counts.get(label, 0)) for label in LABELS}


@pytest.mark.parametrize("kind", ["csv", "parquet", "directory"])
def test_planted_problems_are_counted_exactly(tmp_path, kind):
    frame = planted_frame()
    source = write(frame, tmp_path, kind)
    out = tmp_path / "report.json"
    result = zpml("audit", source, "--group-by", "site", "--json", out, "--batch-size", "500")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(out.read_text())
    jsonschema.validate(report, SCHEMA)
    assert report["verdict"] == "fail"
    assert report["rows"] == len(frame)
    assert report["status_counts"] == expected_counts(frame)
    assert report["invalid_status"] == 5
    assert {c["name"]: c["failed"] for c in report["checks"]} == EXPECTED_FAILED
    assert report["unknown_labels"]["Finite"] == {"count": 1, "did_you_mean": "finite"}
    assert report["unknown_labels"]["censored-above"]["did_you_mean"] == "censored_above"
    for site, rows in frame.groupby("site"):
        assert {k: v for k, v in report["groups"]["site"][site].items() if k != "invalid"} == (
            expected_counts(rows)
        )
    finite_value = next(c for c in report["checks"] if c["name"] == "finite_value")
    if kind == "directory":
        # Rows are numbered within each file: the planted rows are all in part-0.
        assert len(report["files"]) == 3
        assert (
            sum(f["finite"] for f in report["files"].values()) == report["status_counts"]["finite"]
        )
    assert [e["row"] for e in finite_value["examples"]] == [40, 41, 42]
    assert finite_value["examples"][1]["value"] == "inf"
    input_finite = next(c for c in report["checks"] if c["name"] == "input_finite")
    assert input_finite["level"] == "warning"
    assert input_finite["examples"][2]["inputs"] == {"x2": "inf"}


def test_clean_data_passes_and_warnings_need_strict(tmp_path):
    frame = planted_frame().drop(index=[10, 20, 30, 31, 32, 40, 41, 42])
    source = write(frame, tmp_path, "parquet")
    result = zpml("audit", source)
    assert result.returncode == 0, result.stderr
    assert "WARNING input_finite" in result.stdout and "verdict: warn" in result.stdout
    assert zpml("audit", source, "--strict").returncode == 1
    clean = write(frame.drop(index=[50, 51, 52]), tmp_path / "..", "csv")
    result = zpml("audit", clean)
    assert result.returncode == 0 and "verdict: pass" in result.stdout
    assert result.stderr == ""  # piped: no progress bar


def test_json_to_stdout(tmp_path):
    source = write(planted_frame(), tmp_path, "parquet")
    result = zpml("audit", source, "--json", "-")
    report = json.loads(result.stdout)
    assert report["verdict"] == "fail"
    assert "verdict: fail" in result.stderr  # the summary moves to stderr


def test_html_is_self_contained_and_escaped(tmp_path):
    source = write(planted_frame(), tmp_path, "parquet")
    html_path = tmp_path / "report.html"
    zpml("audit", source, "--group-by", "site", "--html", html_path)
    html = html_path.read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html
    assert "http://" not in html and "https://" not in html and " src=" not in html
    assert html.count("<svg") >= 3  # overall mix, per site, per file


def test_missing_file_and_unknown_column_exit_2(tmp_path):
    result = zpml("audit", tmp_path / "nope.parquet")
    assert result.returncode == 2
    assert result.stderr.strip().endswith("no such file or directory")
    assert "Traceback" not in result.stderr
    source = write(planted_frame(), tmp_path, "parquet")
    result = zpml("audit", source, "--group-by", "region")
    assert result.returncode == 2
    assert (
        "no column 'region'; the columns are 'site', 'x1', 'x2', 'value', 'status'" in result.stderr
    )


def test_compare_flags_a_skewed_label(tmp_path):
    frame = planted_frame().drop(index=[10, 20, 30, 31, 32, 40, 41, 42, 50, 51, 52])
    train = write(frame, tmp_path, "parquet")
    shifted = frame.copy()
    shifted.loc[shifted.index[:300], ["status", "value"]] = ["fault", np.nan]
    validation = tmp_path / "validation.parquet"
    shifted.to_parquet(validation, index=False)
    out = tmp_path / "compare.json"
    result = zpml("audit", train, "--compare", validation, "--json", out)
    assert result.returncode == 0  # a skew is a warning
    assert "SKEW" in result.stdout
    report = json.loads(out.read_text())
    jsonschema.validate(report, SCHEMA)
    assert report["verdict"] == "warn"
    assert "fault" in report["comparison"]["skewed"]["value"]


def test_legacy_file_without_status_column(tmp_path):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "value": [1.0, np.nan, np.inf, -np.inf]})
    source = tmp_path / "legacy.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "r.json"
    result = zpml("audit", source, "--json", out)
    assert result.returncode == 0
    report = json.loads(out.read_text())
    assert report["status"] is None
    assert report["checks"][0]["name"] == "legacy_sentinel" and report["checks"][0]["failed"] == 3
    assert report["status_counts"]["censored_above"] == 1 and report["verdict"] == "warn"


def test_user_schema_and_spec_file(tmp_path):
    frame = planted_frame().rename(columns={"value": "y", "status": "y_status"})
    source = write(frame, tmp_path, "parquet")
    (tmp_path / "mine.yaml").write_text(
        "schema_type: dataframe\ncolumns:\n  x1:\n    nullable: true\n    checks:\n"
        "      less_than: 2.5\n"
    )
    (tmp_path / "spec.toml").write_text(
        'value = "y"\nstatus = "y_status"\ninputs = ["x1"]\n'
        'groups = ["site"]\nschema = "mine.yaml"\n'
    )
    out = tmp_path / "r.json"
    result = zpml("audit", source, "--spec", tmp_path / "spec.toml", "--json", out)
    assert result.returncode == 1
    report = json.loads(out.read_text())
    mine = [c for c in report["checks"] if c["target"] is None]
    assert mine and mine[0]["name"] == "less_than(2.5)"
    assert mine[0]["failed"] == int((frame["x1"] >= 2.5).sum())
    # Only x1 is an input now: the bad x2 of row 52 is not checked.
    assert next(c for c in report["checks"] if c["name"] == "input_finite")["failed"] == 2
    assert "site" in report["groups"]


def test_text_value_column_needs_convert(tmp_path):
    (tmp_path / "lab.csv").write_text("value,status\n<0.006,censored_below\n1.5,finite\n")
    result = zpml("audit", tmp_path / "lab.csv")
    assert result.returncode == 2
    assert "value column 'value' holds string, not numbers" in result.stderr
    assert "zpml convert" in result.stderr and "Traceback" not in result.stderr


def test_a_column_level_failure_of_the_users_schema_fails_every_row(tmp_path):
    source = write(planted_frame(), tmp_path, "parquet")
    (tmp_path / "mine.yaml").write_text(
        "schema_type: dataframe\ncolumns:\n  extra:\n    nullable: true\n"
    )
    out = tmp_path / "r.json"
    result = zpml("audit", source, "--schema", tmp_path / "mine.yaml", "--json", out)
    assert result.returncode == 1
    mine = {
        c["name"]: c["failed"] for c in json.loads(out.read_text())["checks"] if c["target"] is None
    }
    assert mine == {"column_in_dataframe": 1200}  # no row index: every row fails it


def test_progress_bar_shows_on_a_terminal(tmp_path):
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    source = write(planted_frame(), tmp_path, "parquet")
    leader, follower = pty.openpty()
    # A terminal 100 columns wide (a bare pty has none, and tqdm draws nothing there).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "zpml_data.cli", "audit", str(source), "--batch-size", "100"],
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)  # the child holds its own copy
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal, everything is read
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert process.wait() == 1
    assert b"audit:" in shown and b"/1.20k" in shown  # tqdm's bar, counting rows
