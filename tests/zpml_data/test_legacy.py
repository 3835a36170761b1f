import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from zpml_data.convert.legacy import convert_legacy
from zpml_data.convert.markers import Kind, parse_text
from zpml_data.convert.output import ConvertedFile
from zpml_data.convert.policies import load_reason_map, sentinel_policy
from zpml_data.errors import DataError, IntegrityError, SourceError, UsageError
from zpml_data.status import Status


def test_parse_text_markers():
    texts = [
        "1.5",
        " <0.006 ",
        ">500",
        "≤2",
        "≥ 3e2",
        "",
        "NA",
        "nan",
        None,
        "ND",
        "<",
        "inf",
        "-Infinity",
        "1,5",
    ]
    values, kinds = parse_text(pa.array(texts))
    expected_kinds = [
        Kind.FINITE,
        Kind.BELOW,
        Kind.ABOVE,
        Kind.BELOW,
        Kind.ABOVE,
        Kind.NAN,
        Kind.NAN,
        Kind.NAN,
        Kind.NAN,
        Kind.UNPARSEABLE,
        Kind.UNPARSEABLE,
        Kind.POSINF,
        Kind.NEGINF,
        Kind.UNPARSEABLE,
    ]
    assert kinds.tolist() == [int(k) for k in expected_kinds]
    np.testing.assert_array_equal(values[:5], [1.5, 0.006, 500.0, 2.0, 300.0])
    assert np.isnan(values[5:11]).all() and values[11] == np.inf


def test_policy_validation():
    assert sentinel_policy(nan="fault")["nan"] is Status.FAULT
    with pytest.raises(UsageError, match="cannot be labelled 'finite'"):
        sentinel_policy(posinf="finite")
    with pytest.raises(UsageError, match="did you mean 'censored_above'"):
        sentinel_policy(posinf="censored-above")


def test_reason_map_file(tmp_path):
    path = tmp_path / "map.json"
    path.write_text('{"sensor_fault": "fault", "not_measured": "missing"}')
    assert load_reason_map(path) == {"sensor_fault": Status.FAULT, "not_measured": Status.MISSING}
    path.write_text("[1, 2]")
    with pytest.raises(UsageError, match="mapping of reason -> status label"):
        load_reason_map(path)
    path.write_text("below_lod: censored-below\n")
    with pytest.raises(UsageError, match=r"reason 'below_lod'.*did you mean 'censored_below'"):
        load_reason_map(path)
    with pytest.raises(SourceError, match="cannot read reason map"):
        load_reason_map(tmp_path / "absent.yaml")


def test_reasons_label_rows_and_the_ledger_counts_them(tmp_path):
    frame = pd.DataFrame(
        {
            "value": [1.0, np.nan, np.nan, 0.01, np.inf],
            "why": [None, "sensor_fault", None, "below_lod", None],
        }
    )
    reasons = {"sensor_fault": Status.FAULT, "below_lod": Status.CENSORED_BELOW}
    ledger = convert_legacy(frame, tmp_path / "o.parquet", reason_column="why", reason_map=reasons)
    out = pq.read_table(tmp_path / "o.parquet").column("status").to_pylist()
    assert out == ["finite", "fault", "bottom", "censored_below", "censored_above"]
    assert ledger.counts["reason sensor_fault"] == {"fault": 1}
    assert ledger.counts["NaN or empty"] == {"bottom": 1}
    # fault lifts like NaN did, (1, 0); 0.01 censored below is (-1, 0), not (0.01, 1).
    assert list(ledger.changed) == ["reason below_lod -> censored_below"]


def test_all_finite_column_says_so(tmp_path):
    ledger = convert_legacy(pd.DataFrame({"value": [1.0, 2.0]}), tmp_path / "o.parquet")
    assert ledger.notes == ["every value of 'value' is finite: all rows are labelled 'finite'"]


def test_refusals(tmp_path):
    labelled = pd.DataFrame({"value": [1.0], "status": ["finite"]})
    with pytest.raises(UsageError, match="already has a status column 'status'"):
        convert_legacy(labelled, tmp_path / "o.parquet")
    ledger = convert_legacy(labelled.assign(value=[np.nan]), tmp_path / "o.parquet", force=True)
    assert ledger.counts == {"NaN or empty": {"bottom": 1}}
    assert pq.read_table(tmp_path / "o.parquet").column_names == ["value", "status"]
    with pytest.raises(UsageError, match=r"no column 'y'; the columns are 'value', 'status'"):
        convert_legacy(labelled, tmp_path / "o.parquet", value="y")


def test_data_errors_write_nothing(tmp_path):
    frame = pd.DataFrame({"value": ["1", "ND", "<x", "ND"]})
    with pytest.raises(DataError, match=r"'ND' \(2 rows, first at <DataFrame>:1, <DataFrame>:3\)"):
        convert_legacy(frame, tmp_path / "o.parquet")
    assert list(tmp_path.iterdir()) == []
    frame = pd.DataFrame({"value": [np.nan], "why": ["mystery"]})
    with pytest.raises(DataError, match=r"reason map lacks: 'mystery' \(1 rows\)"):
        convert_legacy(
            frame, tmp_path / "o.parquet", reason_column="why", reason_map={"x": Status.FAULT}
        )
    frame = pd.DataFrame({"value": [np.nan], "why": ["ok"]})
    with pytest.raises(DataError, match="would be 'finite' with a non-finite value"):
        convert_legacy(
            frame, tmp_path / "o.parquet", reason_column="why", reason_map={"ok": Status.FINITE}
        )
    assert list(tmp_path.iterdir()) == []


def test_a_blank_reason_is_no_reason_and_the_policy_decides(tmp_path):
    source = tmp_path / "blank.parquet"
    table = pa.table(
        {
            "value": [np.nan, np.nan, np.inf, np.nan, 2.0],
            "why": ["", "   ", "\t", " sensor_fault ", None],
        }
    )
    pq.write_table(table, source)
    ledger = convert_legacy(
        source,
        tmp_path / "o.parquet",
        reason_column="why",
        reason_map={"sensor_fault": Status.FAULT},
    )
    out = pq.read_table(tmp_path / "o.parquet").column("status").to_pylist()
    assert out == ["bottom", "bottom", "censored_above", "fault", "finite"]
    assert ledger.counts["NaN or empty"] == {"bottom": 2}
    assert ledger.counts["reason sensor_fault"] == {"fault": 1}


def test_a_reason_column_and_a_reason_map_go_together(tmp_path):
    frame = pd.DataFrame({"value": [np.nan], "why": ["x"]})
    with pytest.raises(UsageError, match="a reason column and a reason map go together"):
        convert_legacy(frame, tmp_path / "o.parquet", reason_column="why")
    with pytest.raises(UsageError, match="a reason column and a reason map go together"):
        convert_legacy(frame, tmp_path / "o.parquet", reason_map={"x": Status.FAULT})


@pytest.mark.parametrize("dest", ["o.parquet", "o.csv"])
def test_rows_out_is_counted_from_the_file_so_a_dropped_row_fails(tmp_path, monkeypatch, dest):
    frame = pd.DataFrame({"value": [1.0, np.nan, 3.0, np.inf, 5.0]})
    ledger = convert_legacy(frame, tmp_path / dest, batch_size=2)
    assert (ledger.rows_in, ledger.rows_out) == (5, 5)

    write = ConvertedFile.write

    def drop_first_row(self, batch):  # a fault planted in the writer
        write(self, batch.slice(1))

    monkeypatch.setattr(ConvertedFile, "write", drop_first_row)
    with pytest.raises(IntegrityError, match="2 rows written for 5 read; rows were lost"):
        convert_legacy(frame, tmp_path / f"lost-{dest}", batch_size=2)
    assert not (tmp_path / f"lost-{dest}").exists()
    assert not (tmp_path / f"lost-{dest}.ledger.json").exists()
