"""Every verb on random small Parquet/CSV tables and config files: exit 0, 1 or 2, inputs intact.

The verbs run in this process through ``zpml_data.cli.main.main`` (the real
parser and error handling), so a hundred examples cost seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile.conftest import checksums
from zpml_data.cli.main import main

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
NAMES = st.sampled_from(["value", "status", "x", "row_id", "check", "y", "on", "g"])
CELLS = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-(2**40), 2**40),
    st.sampled_from(["finite", "bottom", "missing", "<0.5", ">3", "NA", "null", "", "007", "é"]),
)
CONFIGS = st.sampled_from(
    [
        "value: y\n",
        "targets: 5\n",
        "a: &a [1]\nb: *a\n",
        "on: missing\nyes: fault\n",
        "schema: [1]\n",
        "[[[[",
        "\xff",
        "inputs: [x, value]\n",
    ]
)


@st.composite
def tables(draw: st.DrawFn) -> pd.DataFrame:
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    rows = draw(st.integers(0, 6))
    columns = {}
    for name in names:
        kind = draw(st.sampled_from(["float", "int", "text", "mixed"]))
        cells = draw(st.lists(CELLS, min_size=rows, max_size=rows))
        if kind == "float":
            cells = [c if isinstance(c, float) else np.nan for c in cells]
        elif kind == "int":
            cells = pd.array([c if isinstance(c, int) else None for c in cells], "Int64")
        elif kind == "text":
            cells = [None if c is None else str(c) for c in cells]
        else:
            cells = pd.Series(cells, dtype=object).astype(str)
        columns[name] = cells
    return pd.DataFrame(columns)


def run(*args: object) -> tuple[int, str]:
    """``zpml args`` in this process: the exit code and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:  # argparse
            code = int(exit_.code or 0)
    return code, err.getvalue()


def write(frame: pd.DataFrame, folder: Path, as_csv: bool) -> Path:
    path = folder / ("t.csv" if as_csv else "t.parquet")
    if as_csv:
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def check_verb(frame: pd.DataFrame, as_csv: bool, config: str, verb: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = write(frame, folder, as_csv)
        (folder / "c.yaml").write_text(config, encoding="utf-8", errors="surrogateescape")
        before = checksums(folder)
        args = [a.replace("SRC", str(source)).replace("DIR", str(folder)) for a in verb]
        code, err = run(*args)
        assert code in (0, 1, 2), (code, err)
        assert "internal error" not in err and "Traceback" not in err, err
        after = checksums(folder)
        assert {k: after.get(k) for k in before} == before


@FUZZ
@given(tables(), st.booleans(), CONFIGS, st.sampled_from([[], ["--spec", "DIR/c.yaml"]]))
def test_audit(frame, as_csv, config, extra):
    check_verb(frame, as_csv, config, ["audit", "SRC", "--json", "DIR/r.json", *extra])


@FUZZ
@given(tables(), st.booleans(), CONFIGS, st.booleans())
def test_convert(frame, as_csv, config, reasons):
    extra = ["--reason-column", "g", "--reason-map", "DIR/c.yaml"] if reasons else []
    dest = "DIR/o.csv" if as_csv else "DIR/o.parquet"
    check_verb(frame, as_csv, config, ["convert", "SRC", dest, "--force", *extra])


@FUZZ
@given(tables(), st.booleans(), CONFIGS, st.sampled_from(["abort", "quarantine"]))
def test_shard_verify_inspect(frame, as_csv, config, on_error):
    check_verb(frame, as_csv, config, ["shard", "SRC", "DIR/s", "--on-error", on_error])
    with tempfile.TemporaryDirectory() as tmp:
        source = write(frame, Path(tmp), as_csv)
        if run("shard", source, Path(tmp) / "s")[0] == 0:
            for verb in ("verify", "inspect"):
                assert run(verb, Path(tmp) / "s") == (0, "")
