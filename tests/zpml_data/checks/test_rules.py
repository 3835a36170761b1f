import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zpml_data.checks.rules import CHECK_LEVELS, builtin_schema, check_batch, failed_rows
from zpml_data.io.sources import SourceBatch
from zpml_data.spec import DatasetSpec, LegacyTarget
from zpml_data.status import STATUS_LABELS


def test_builtin_yaml_names_the_registered_checks():
    schema = builtin_schema()
    names = [c.name for c in schema.columns["status"].checks] + [c.name for c in schema.checks]
    assert names == [
        "status_present",
        "status_known",
        "finite_value",
        "input_finite",
        "censored_bound_present",
    ]
    legacy = builtin_schema(with_status=False)
    assert [c.name for c in legacy.columns["value"].checks] == ["legacy_sentinel"]
    group_level = {"finite_beyond_limit", "heaping_at_limit", "sentinel_number", "input_leak"}
    assert set(names) | {"legacy_sentinel", "status_skew_by_group"} | group_level == set(
        CHECK_LEVELS
    )


def test_checks_fail_the_rows_they_should():
    frame = pd.DataFrame(
        {
            "value": [1.0, np.nan, np.nan, 2.0, 3.0],
            "status": ["finite", "finite", "missing", None, "bottom"],
            "x": [0.0, 0.0, np.nan, 0.0, np.inf],
        }
    )
    with pytest.raises(pa.errors.SchemaErrors, match="finite_value") as info:
        builtin_schema().validate(frame, lazy=True)
    cases = info.value.failure_cases
    failed = cases.groupby("check")["index"].apply(lambda s: sorted(set(s)))
    assert failed["finite_value"] == [1]
    assert failed["status_present"] == [3]
    assert failed["input_finite"] == [4]  # row 2 is missing: not trainable
    assert "status_known" not in failed  # nulls are status_present's business


def test_a_user_schema_can_name_a_zpml_check():
    schema = pa.DataFrameSchema.from_yaml(
        "schema_type: dataframe\ncolumns:\n  label:\n    checks:\n    - options:\n"
        "        check_name: status_known\n"
    )
    with pytest.raises(pa.errors.SchemaErrors, match="status_known") as info:
        schema.validate(pd.DataFrame({"label": ["finite", "oops"]}), lazy=True)
    assert info.value.failure_cases["index"].tolist() == [1]


# check_batch runs the built-in schema's rules without pandera; pandera is the oracle.
_STATUS_TYPES = {
    "labels": (pa_arrow.string(), st.sampled_from([*STATUS_LABELS, "Finite", "", None])),
    "dictionary": (
        pa_arrow.dictionary(pa_arrow.int8(), pa_arrow.string()),
        st.sampled_from([*STATUS_LABELS, "oops", None]),
    ),
    "codes": (pa_arrow.int64(), st.one_of(st.integers(-2, 8), st.none())),
    "float codes": (
        pa_arrow.float64(),
        st.one_of(st.sampled_from([0.0, 1.0, 2.0, 3.0, 6.0, 2.5, 7.0, -1.0, np.nan]), st.none()),
    ),
    "booleans": (pa_arrow.bool_(), st.one_of(st.booleans(), st.none())),
    "views": (pa_arrow.string_view(), st.sampled_from([*STATUS_LABELS, "oops", None])),
    "wide dictionary": (
        pa_arrow.dictionary(pa_arrow.uint64(), pa_arrow.string()),
        st.sampled_from([*STATUS_LABELS, None]),
    ),
    "json": (pa_arrow.json_(), st.sampled_from(['"finite"', "finite", "bottom", None])),
}
_NUMBERS = st.one_of(
    st.sampled_from([0.0, 1.5, -2.0, np.nan, np.inf, -np.inf, 1e39, -1e39, 3.4e38]), st.none()
)
_NUMBER_TYPES = st.sampled_from([pa_arrow.float64(), pa_arrow.float32(), pa_arrow.int64()])


def _column(kind: pa_arrow.DataType, cells: list) -> pa_arrow.Array:
    if pa_arrow.types.is_integer(kind):
        whole = [c is not None and np.isfinite(c) and abs(c) < 1e18 for c in cells]
        cells = [int(c) if ok else None for c, ok in zip(cells, whole, strict=True)]
    elif pa_arrow.types.is_float32(kind):
        with np.errstate(over="ignore"):
            cells = [None if c is None else float(np.float32(c)) for c in cells]
    return pa_arrow.array(cells, kind, from_pandas=False)


@st.composite
def _batches(draw):
    rows = draw(st.integers(0, 12))
    kind, labels = _STATUS_TYPES[draw(st.sampled_from(sorted(_STATUS_TYPES)))]
    columns = {"status": pa_arrow.array(draw(st.lists(labels, min_size=rows, max_size=rows)), kind)}
    for name in ["value", *(f"x{i}" for i in range(draw(st.integers(0, 3))))]:
        cells = draw(st.lists(_NUMBERS, min_size=rows, max_size=rows))
        columns[name] = _column(draw(_NUMBER_TYPES), cells)
    return pa_arrow.RecordBatch.from_pydict(columns)


def _pandera_failures(batch, target, inputs):
    frame = batch.to_pandas()
    if isinstance(target, LegacyTarget):
        return failed_rows(builtin_schema(with_status=False), frame[["value"]])
    # pandera's failure report raises on a categorical with nulls, and then fails every row
    # (the rules themselves are fine): the oracle sees the same labels as objects.
    status = frame["status"]
    if isinstance(status.dtype, pd.CategoricalDtype):
        status = status.astype(object)
    columns = {"value": frame["value"], "status": status}
    columns |= {f"input {i}": frame[name] for i, name in enumerate(inputs)}
    return failed_rows(builtin_schema(), pd.DataFrame(columns))


@settings(max_examples=300, deadline=None)
@given(batch=_batches(), first_row=st.integers(0, 10**6), legacy=st.booleans())
def test_check_batch_fails_the_rows_pandera_fails(batch, first_row, legacy):
    if legacy:  # no status column: the default spec audits the value as a legacy target
        batch = batch.drop_columns(["status"])
    resolved = DatasetSpec().resolve(batch.schema, "batch")
    failures = check_batch(SourceBatch("f", first_row, batch), resolved, None)
    got = {f.check: (f.rows - first_row).tolist() for f in failures}
    want = _pandera_failures(batch, resolved.targets[0], resolved.numeric_inputs)
    assert got == {name: rows.tolist() for name, rows in want.items()}
    assert all(f.rows.dtype.kind == "i" and f.target == resolved.targets[0] for f in failures)
