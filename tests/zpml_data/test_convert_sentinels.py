"""`--sentinel VALUE=LABEL`: numbers that stand for a status are converted and counted."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_zpml as zpml
from zpml_data import convert_legacy
from zpml_data.convert.policies import parse_sentinels
from zpml_data.errors import UsageError
from zpml_data.status import Status


def legacy(tmp_path):
    values = np.r_[np.arange(1.0, 11.0), [-999.0, -999.0, 9999.0, np.nan, -999.0]]
    path = tmp_path / "legacy.csv"
    pd.DataFrame({"x": np.arange(values.size), "value": values}).to_csv(path, index=False)
    return path


def test_sentinels_are_labelled_counted_and_listed_as_changed(tmp_path):
    dest = tmp_path / "out.parquet"
    sentinels = {-999.0: Status.MISSING, 9999.0: Status.CENSORED_ABOVE, 42.0: Status.FAULT}
    ledger = convert_legacy(legacy(tmp_path), dest, sentinels=sentinels, batch_size=4)
    out = pd.read_parquet(dest)
    assert out["status"].astype(str).tolist()[10:] == [
        "missing",
        "missing",
        "censored_above",
        "bottom",
        "missing",
    ]
    assert out["value"].iloc[10:13].isna().all()  # a code is not a measurement
    assert ledger.counts["sentinel -999"] == {"missing": 3}
    assert ledger.counts["sentinel 9999"] == {"censored_above": 1}
    assert ledger.changed["sentinel -999 -> missing"]["rows"] == 3
    assert [r["row"] for r in ledger.changed["sentinel -999 -> missing"]["first_rows"]] == [
        10,
        11,
        14,
    ]
    assert ledger.notes == [
        "sentinel 42 never occurs in 'value': nothing was labelled 'fault' for it"
    ]
    assert ledger.rows_out == ledger.rows_in == 15


def test_parse_sentinels_refuses_what_is_not_a_status_code():
    assert parse_sentinels(["-999=missing", "1e4 = fault"]) == {
        -999.0: Status.MISSING,
        1e4: Status.FAULT,
    }
    with pytest.raises(UsageError, match=r"expected VALUE=LABEL .* got 'nan=missing'"):
        parse_sentinels(["nan=missing"])
    with pytest.raises(UsageError, match=r"expected VALUE=LABEL .* got '-999'"):
        parse_sentinels(["-999"])
    with pytest.raises(UsageError, match=r"'-999=finite': a sentinel stands for a status"):
        parse_sentinels(["-999=finite"])
    with pytest.raises(UsageError, match=r"misssing"):
        parse_sentinels(["-999=misssing"])


def test_cli_takes_sentinels_from_options_and_the_spec_file(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("sentinels:\n  9999: censored_above\n")
    dest = tmp_path / "out.parquet"
    result = zpml("convert", legacy(tmp_path), dest, "--spec", spec, "--sentinel=-999=missing")
    assert result.returncode == 0, result.stderr
    assert "sentinel -999" in result.stdout and "sentinel 9999" in result.stdout
    ledger = json.loads((tmp_path / "out.parquet.ledger.json").read_text())
    assert ledger["counts"]["sentinel 9999"] == {"censored_above": 1}
    bad = zpml("convert", legacy(tmp_path), tmp_path / "b.parquet", "--sentinel", "x=missing")
    assert bad.returncode == 2 and "--sentinel: expected VALUE=LABEL" in bad.stderr
