"""Conversion invariants: lift-preserving by default, every row and column kept."""

import csv

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.conftest import assert_bitwise_equal
from zpml_data import lift_semantic_targets, lift_targets
from zpml_data.convert.legacy import convert_legacy
from zpml_data.convert.policies import sentinel_policy
from zpml_data.errors import MAX_SHOWN

values = hnp.arrays(
    np.float64, st.integers(0, 80), elements=st.floats(allow_nan=True, allow_infinity=True)
)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values, st.integers(1, 30))
def test_default_conversion_lifts_exactly_like_lift_targets(tmp_path, value, batch_size):
    frame = pd.DataFrame({"id": np.arange(len(value)), "value": value, "note": ["n"] * len(value)})
    dest = tmp_path / "out.parquet"
    ledger = convert_legacy(frame, dest, batch_size=batch_size)
    out = pq.read_table(dest).to_pandas()
    assert ledger.rows_in == ledger.rows_out == len(frame) == len(out)
    assert ledger.lift_preserving and not ledger.changed
    assert list(out.columns) == ["id", "value", "note", "status"]
    pd.testing.assert_frame_equal(out[["id", "value", "note"]], frame)
    lifted = lift_semantic_targets(out["value"].to_numpy(), out["status"])
    y_n, y_d = lift_targets(value)
    assert_bitwise_equal(lifted.Y_n, y_n)
    assert_bitwise_equal(lifted.Y_d, y_d)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values)
def test_other_policies_list_exactly_the_rows_that_changed(tmp_path, value):
    frame = pd.DataFrame({"value": value})
    ledger = convert_legacy(frame, tmp_path / "out.parquet", policy=sentinel_policy(nan="missing"))
    changed = sum(info["rows"] for info in ledger.changed.values())
    assert changed == int(np.isnan(value).sum())
    assert ledger.lift_preserving == (changed == 0)
    if changed:
        rows = [r["row"] for r in ledger.changed["NaN or empty -> missing"]["first_rows"]]
        assert rows == list(np.flatnonzero(np.isnan(value))[:MAX_SHOWN])


cell_texts = st.one_of(
    st.sampled_from(["", "NA", "null", "NaN", "007", "-0", "1.50", "1e3", "inf", "True", "a,b"]),
    st.text(alphabet='0123456789.,"Naé -\n', max_size=6),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.integers(1, 12).flatmap(
        lambda rows: st.lists(
            st.lists(cell_texts, min_size=rows, max_size=rows), min_size=1, max_size=3
        )
    ),
    st.integers(1, 5),
)
def test_csv_to_csv_keeps_every_other_columns_text(tmp_path, columns, batch_size):
    names = [f"c{i}" for i in range(len(columns))]
    rows = [[*cells, "1"] for cells in zip(*columns, strict=True)]
    source, dest = tmp_path / "in.csv", tmp_path / "out.csv"
    with source.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file, lineterminator="\n").writerows([[*names, "value"], *rows])
    convert_legacy(source, dest, batch_size=batch_size)
    with dest.open(newline="", encoding="utf-8") as file:
        header, *out = list(csv.reader(file))
    assert header == [*names, "value", "status"]
    assert [row[: len(names)] for row in out] == [row[: len(names)] for row in rows]


labels = st.sampled_from(["missing", "fault", "bottom", "domain_invalid"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(allow_nan=False, allow_infinity=False), labels), max_size=4))
def test_every_sentinel_as_typed_reaches_the_policy(items):
    """`--sentinel -999=missing` and `--sentinel=-999=missing` parse alike, negatives included.

    One number given two labels is refused; the same label twice is one sentinel.
    """
    from zpml_data.cli.main import build_parser
    from zpml_data.convert.policies import parse_sentinels
    from zpml_data.errors import UsageError

    typed = [f"{number!r}={label}" for number, label in items]
    spaced = [word for item in typed for word in ("--sentinel", item)]
    joined = [f"--sentinel={item}" for item in typed]
    for argv in (spaced, joined):
        args = build_parser().parse_args(["convert", "src.csv", "dst.parquet", *argv])
        assert args.sentinel == typed
    labelled: dict[float, set[str]] = {}
    for number, label in items:
        labelled.setdefault(number, set()).add(label)
    if any(len(names) > 1 for names in labelled.values()):
        with pytest.raises(UsageError, match="give each number one label"):
            parse_sentinels(typed)
    else:
        parsed = parse_sentinels(typed)
        expected = {number: names.pop() for number, names in labelled.items()}
        assert {number: status.label for number, status in parsed.items()} == expected
