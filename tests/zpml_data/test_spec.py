import pyarrow as pa
import pytest

from zpml_data.errors import SourceError, UsageError
from zpml_data.spec import DatasetSpec, LabelledTarget, LegacyTarget, Target

SCHEMA = pa.schema(
    [
        ("a", pa.float32()),
        ("b", pa.int64()),
        ("name", pa.string()),
        ("value", pa.float64()),
        ("status", pa.string()),
        ("flag", pa.bool_()),
    ]
)


def test_defaults_resolve_inputs_to_other_numeric_columns():
    spec = DatasetSpec(groups=("b",)).resolve(SCHEMA, "src")
    assert spec.targets == (LabelledTarget("value", "status"),)
    assert spec.inputs == ("a",)
    assert spec.columns == ["value", "status", "a", "b"]


def test_default_status_missing_means_legacy():
    spec = DatasetSpec().resolve(pa.schema([("value", pa.float64())]), "src")
    assert spec.targets == (LegacyTarget("value"),)
    assert spec.to_dict()["targets"] == [{"value": "value", "status": None}]


def test_a_named_status_column_that_is_absent_is_an_error_not_legacy_data():
    values_only = pa.schema([("value", pa.float64())])
    with pytest.raises(UsageError, match="src: no column 'status'; the columns are 'value'"):
        DatasetSpec(targets=(Target("value", "status"),)).resolve(values_only, "src")


def test_yaml_spec(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("targets:\n  - {value: a, status: name}\ninputs: [b]\ngroups: site\n")
    spec = DatasetSpec.from_file(path)
    assert spec.targets == (Target("a", "name"),)
    assert spec.inputs == ("b",) and spec.groups == ("site",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour: red\n", r"unknown keys \['colour'\]"),
        ("targets: [{value: a, unit: m}]\n", r"targets\[0\] must map 'value' and 'status'"),
        ("inputs: 3\n", "inputs must be a list of column names, got 3"),
        ("- a\n- b\n", "a spec must be a mapping"),
        ("value: [unclosed\n", "not valid yaml"),
        ("value: a\ntargets: []\n", "either 'targets' or 'value'/'status'"),
    ],
)
def test_bad_spec_files(tmp_path, text, message):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        DatasetSpec.from_file(path)


def test_unreadable_spec_file(tmp_path):
    with pytest.raises(SourceError, match="cannot read spec file"):
        DatasetSpec.from_file(tmp_path / "absent.yaml")


def test_unsafe_yaml_is_refused(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("value: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(UsageError, match="not valid yaml"):
        DatasetSpec.from_file(path)


def test_inputs_and_values_must_be_numbers():
    with pytest.raises(UsageError, match=r"input column\(s\) 'flag' are not numbers or text"):
        DatasetSpec(inputs=("a", "flag")).resolve(SCHEMA, "src")
    text = DatasetSpec(inputs=("a", "name")).resolve(SCHEMA, "src")  # one-hot encoded
    assert (text.categorical, text.numeric_inputs) == (("name",), ("a",))
    with pytest.raises(UsageError, match="value column 'name' holds string, not numbers"):
        DatasetSpec(targets=(Target("name", "status"),)).resolve(SCHEMA, "src")
