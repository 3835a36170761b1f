"""`zpml shard`, `verify`, `inspect` through the real CLI, and a run killed mid-way."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from tests.conftest import run_zpml as zpml
from zpml_data.datasets import assay_dose_response


def test_shard_verify_inspect(tmp_path):
    source = tmp_path / "assay.parquet"
    assay_dose_response(5000).to_parquet(source)
    out = tmp_path / "shards"
    result = zpml("shard", source, out, "--rows-per-shard", "2000")
    assert result.returncode == 0, result.stderr
    assert "wrote 5,000 rows in 3 shard(s)" in result.stdout
    assert zpml("verify", out).returncode == 0
    missing = zpml("verify", tmp_path / "nope")
    assert missing.returncode == 2 and "no such directory" in missing.stderr
    inspect = zpml("inspect", out)
    assert "rows: 5,000 in 3 shard(s); quarantined: 0" in inspect.stdout
    assert zpml("shard", source, out).returncode == 2  # exists: needs --overwrite
    assert zpml("shard", source, out, "--overwrite").returncode == 0

    path = out / "part-00000.parquet"
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    result = zpml("verify", out)
    assert result.returncode == 1
    assert "part-00000.parquet: sha256 differs" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_rows_abort_with_exit_1_or_quarantine(tmp_path):
    frame = assay_dose_response(1000)
    frame["status"] = frame["status"].astype(object)
    frame.loc[10, "status"] = "Finite"
    source = tmp_path / "bad.csv"
    frame.to_csv(source, index=False)
    result = zpml("shard", source, tmp_path / "s")
    assert result.returncode == 1
    assert "fail status_known (first at data rows 10)" in result.stderr
    assert not (tmp_path / "s" / "manifest.json").exists()
    result = zpml("shard", source, tmp_path / "s", "--on-error", "quarantine")
    assert result.returncode == 0
    assert "quarantined 1 rows" in result.stdout
    assert pd.read_parquet(tmp_path / "s" / "quarantine.parquet")["row_id"].tolist() == [10]


KILLABLE = """
import sys
from zpml_data.shards.writer import write_shards
write_shards(sys.argv[1], sys.argv[2], rows_per_shard=2000, batch_size=1000)
"""


def test_a_run_killed_mid_way_leaves_no_manifest_and_the_next_run_succeeds(tmp_path):
    source = tmp_path / "big.parquet"
    rng = np.random.default_rng(0)
    n = 400_000
    pd.DataFrame(
        {"x": rng.normal(size=n), "value": rng.normal(size=n), "status": ["finite"] * n}
    ).to_parquet(source, row_group_size=1000)
    out = tmp_path / "shards"
    process = subprocess.Popen([sys.executable, "-c", KILLABLE, str(source), str(out)])
    deadline = time.monotonic() + 60
    while not (out / "part-00003.parquet").exists():
        assert process.poll() is None, "the run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "manifest.json").exists()
    assert zpml("verify", out).returncode == 1  # incomplete: no manifest
    result = zpml("shard", source, out, "--rows-per-shard", "2000")
    assert result.returncode == 0, result.stderr
    assert zpml("verify", out).returncode == 0
