import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from zpml_data.checks.rules import CHECK_LEVELS, builtin_schema


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
