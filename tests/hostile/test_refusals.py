"""Hostile input that used to be accepted silently or end in an internal error.

Each case goes through the real command (or the public function a command
calls): the documented exit code, one line naming the culprit, the inputs
byte for byte unchanged, and nothing left behind.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_zpml
from tests.hostile.conftest import checksums, zpml_fails
from zpml_data import audit
from zpml_data.errors import UsageError
from zpml_data.io.untrusted import parse_untrusted


def _legacy_with_codes(path: Path) -> Path:
    pd.DataFrame({"value": [1.5, -999.0, 2.5, -999.0, -1.0], "x": [1, 2, 3, 4, 5]}).to_csv(
        path, index=False
    )
    return path


@pytest.mark.parametrize("spelling", [["--sentinel", "-999=missing"], ["--sentinel=-999=missing"]])
def test_a_negative_sentinel_as_users_type_it(tmp_path, spelling):
    source = _legacy_with_codes(tmp_path / "legacy.csv")
    before = checksums(source)
    result = run_zpml("convert", source, tmp_path / "out.parquet", *spelling)
    assert result.returncode == 0, result.stderr
    table = pq.read_table(tmp_path / "out.parquet").to_pandas()
    assert table["status"].tolist() == ["finite", "missing", "finite", "missing", "finite"]
    assert np.isnan(table["value"][1]) and table["value"][4] == -1.0  # -1 is no sentinel
    assert checksums(source) == before


def test_one_number_given_two_labels_is_refused(tmp_path):
    source = _legacy_with_codes(tmp_path / "legacy.csv")
    dest = tmp_path / "out.parquet"
    zpml_fails(
        2,
        r"--sentinel: -999 is given as 'missing' and as 'fault'",
        "convert",
        source,
        dest,
        "--sentinel",
        "-999=missing",
        "--sentinel=-999.0=fault",
        inputs=(source,),
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["legacy.csv"]


def test_the_spec_and_the_command_line_give_one_number_two_labels(tmp_path):
    source = _legacy_with_codes(tmp_path / "legacy.csv")
    spec = tmp_path / "spec.yaml"
    spec.write_text("sentinels: {-999: missing}\n")
    zpml_fails(
        2,
        r"--sentinel -999=fault contradicts .*spec\.yaml, which labels -999 'missing'",
        "convert",
        source,
        tmp_path / "out.parquet",
        "--spec",
        spec,
        "--sentinel=-999=fault",
        inputs=(source, spec),
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["legacy.csv", "spec.yaml"]
    agreeing = run_zpml(
        "convert", source, tmp_path / "out.parquet", "--spec", spec, "--sentinel", "-999=missing"
    )
    assert agreeing.returncode == 0, agreeing.stderr


def test_a_training_config_with_a_key_given_twice(tmp_path):
    from zpml_data.errors import ConfigError
    from zpml_train.training.config import read_settings

    path = tmp_path / "train.yaml"
    path.write_text("lr: 1e-3\nepochs: 3\nlr: 1e-2\n")
    with pytest.raises(ConfigError, match=r"train\.yaml.*key 'lr' is given twice \(line 3"):
        read_settings(path)


def test_a_sentinel_code_changes_the_meaning_the_ledger_reports(tmp_path):
    """A legacy pipeline saw -999 as the number -999: labelling it changes its lift."""
    source = _legacy_with_codes(tmp_path / "legacy.csv")
    result = run_zpml("convert", source, tmp_path / "out.parquet", "--sentinel", "-999=fault")
    assert result.returncode == 0, result.stderr
    assert "sentinel -999 -> fault: 2 rows" in result.stdout


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("value: value\ninputs: [x]\nvalue: x\n", r"spec\.yaml.*key 'value' is given twice"),
        ("targets:\n  - {value: value, value: x}\n", r"key 'value' is given twice"),
    ],
)
def test_a_yaml_spec_with_a_key_given_twice(data, text, match):
    spec = data / "spec.yaml"
    spec.write_text(text)
    zpml_fails(2, match, "audit", data / "a.parquet", "--spec", spec, inputs=(data,))


def test_a_json_file_with_a_key_given_twice(tmp_path):
    path = tmp_path / "map.json"
    path.write_text('{"ND": "missing", "ND": "fault"}')
    with pytest.raises(UsageError, match=r"map\.json.*key 'ND' is given twice"):
        parse_untrusted(path, "reason map", UsageError)


def test_yaml_1_2_numbers_are_numbers(tmp_path):
    from zpml_train.training.config import read_settings

    path = tmp_path / "train.yaml"
    path.write_text("lr: 1e-3\nweight_decay: 5E-4\nclip: +2e1\nname: '1e-3'\n")
    assert read_settings(path) == {"lr": 1e-3, "weight_decay": 5e-4, "clip": 20.0, "name": "1e-3"}


def test_a_spec_that_is_a_directory(data):
    (data / "spec.yaml").mkdir()
    line = zpml_fails(
        2,
        r"spec file '.*spec\.yaml' is a directory",
        "audit",
        data / "a.parquet",
        "--spec",
        data / "spec.yaml",
        inputs=(data,),
    )
    assert "Errno" not in line


def test_a_manifest_that_is_a_directory(tmp_path):
    (tmp_path / "out" / "manifest.json").mkdir(parents=True)
    line = zpml_fails(1, r"manifest '.*manifest\.json' is a directory", "verify", tmp_path / "out")
    assert "Errno" not in line


def _duplicate_columns(path: Path) -> Path:
    columns = [pa.array([1.0, 2.0]), pa.array(["finite", "finite"]), pa.array([1.0, 2.0])]
    pq.write_table(pa.table([*columns, pa.array([3.0, 4.0])], ["value", "status", "x", "x"]), path)
    return path


@pytest.mark.parametrize("verb", ["audit", "shard", "convert"])
def test_duplicate_column_names_in_a_parquet_source(tmp_path, verb):
    source = _duplicate_columns(tmp_path / "dup.parquet")
    out = tmp_path / ("out.parquet" if verb == "convert" else "out")
    args = [verb, source] + ([] if verb == "audit" else [out])
    zpml_fails(2, r"dup\.parquet: column 'x' occurs 2 times", *args, inputs=(source,))
    assert [p.name for p in tmp_path.iterdir()] == ["dup.parquet"]


def test_duplicate_column_names_in_a_csv_header(tmp_path):
    source = tmp_path / "dup.csv"
    source.write_text("value,status,x,x\n1.0,finite,2,3\n")
    zpml_fails(
        2,
        r"dup\.csv: column 'x' occurs more than once in the header",
        "audit",
        source,
        inputs=(source,),
    )


def test_duplicate_column_names_in_a_dataframe():
    frame = pd.DataFrame([[1.0, "finite", 2.0, 3.0]], columns=["value", "status", "x", "x"])
    with pytest.raises(UsageError, match=r"<DataFrame>: column 'x' occurs 2 times"):
        audit(frame)


@pytest.mark.parametrize(
    ("column", "kind"),
    [(pa.array([[1, 2], [3]]), "list"), (pa.array([{"a": 1}, {"a": 2}]), "struct")],
)
def test_a_nested_column_converted_to_csv(tmp_path, column, kind):
    source = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"value": [1.0, float("nan")], "extra": column}), source)
    zpml_fails(
        2,
        rf"column 'extra' holds {kind}<.*convert to a \.parquet file instead",
        "convert",
        source,
        tmp_path / "out.csv",
        inputs=(source,),
    )
    assert [p.name for p in tmp_path.iterdir()] == ["nested.parquet"]
