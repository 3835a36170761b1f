"""Every benchmark runs in quick mode (small sizes, goals not enforced), so none can rot."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks._timing import report_peak_growth

ROOT = Path(__file__).parents[1]
BENCHMARKS = [
    "bench_lift",
    "bench_audit",
    "bench_convert",
    "bench_shards",
    "bench_loader",
    "bench_trainer",
    "bench_gpu",
    "bench_ddp",
    "bench_dask",
    "bench_predict",
    "bench_quality",
    "bench_scaling",
]


# What a quick run must print besides its figures: the invariant its name
# promises, checked on the small data (the exit code is 1 when it fails).
PROMISES = {
    "bench_loader": "the loader's epoch (0 and 2 workers) equals the shards' rows, each once: True",
    "bench_ddp": "each epoch once, every row seen, each rank its share of the steps: yes",
    "bench_gpu": "each side trained every row once, zpml the rational head at the asked "
    "precision: yes",
}
# Options a quick run adds, so that every path of the script runs.
OPTIONS = {"bench_gpu": ["--profile"]}


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_runs_in_quick_mode(name, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", "--quick", *OPTIONS.get(name, [])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # their temp dirs land in tmp_path
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "rows" in result.stdout
    assert PROMISES.get(name, "") in result.stdout


def test_a_flat_memory_verdict_needs_two_sizes():
    with pytest.raises(ValueError, match=r"needs at least two sizes, got \[1000\]"):
        report_peak_growth({1000: 50.0})
    assert report_peak_growth({1000: 50.0, 2000: 55.0}) is True
    assert report_peak_growth({1000: 50.0, 2000: 80.0}) is False
