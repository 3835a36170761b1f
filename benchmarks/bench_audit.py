"""Auditing a Parquet file: zpml's streaming audit against read-all + pandera, in one run.

Run: ``python -m benchmarks.bench_audit [--rows 1000000 10000000] [--quick]``.

For each size it writes a Parquet file of realistic readings (8 float32
features, a float32 value rounded to two decimals as an instrument reports it,
a dictionary-encoded status, four sites, a few planted failures), then
measures, each in a fresh process so peak memory (VmHWM) is its own:

* baseline: ``pq.read_table`` + ``to_pandas`` + the same rules as one pandera
  ``DataFrameSchema.validate(lazy=True)`` on the whole frame;
* zpml: ``audit(path, group_by=["site"])``: counts, breakdowns and every
  check, the group-level ones included.

Goals, at the largest size (at the smaller ones both sides' imports weigh
more than their data): zpml in at most half the baseline's time, with at
most a quarter of its peak memory; and zpml's peak flat from the smallest
to the largest size. Exits 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks._timing import add_quick_option, in_fresh_process, report_peak_growth, verdict
from zpml_data.status import STATUS_LABELS

CHUNK = 1_000_000
SITES = 4


def write_dataset(path: Path, rows: int, seed: int = 0) -> None:
    """Write ``rows`` rows in 1e6-row chunks (bounded memory while generating)."""
    rng = np.random.default_rng(seed)
    status_type = pa.dictionary(pa.int8(), pa.string())
    with pq.ParquetWriter(path, schema=_schema(status_type)) as writer:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            columns = {f"x{i}": rng.normal(size=n).astype(np.float32) for i in range(8)}
            codes = rng.choice(7, size=n, p=[0.7, 0.05, 0.08, 0.07, 0.03, 0.04, 0.03]).astype(
                np.int8
            )
            # Readings between the limits, smooth down to them (no heap for a check to
            # find), reported to two decimals.
            value = np.round(0.5 + 11 * rng.beta(5, 5, size=n), 2).astype(np.float32)
            value[codes != 0] = np.nan
            # Censored rows carry their limit, as a lab reports them; a bound-less
            # censored row is a warning, not the bulk of the data.
            value[codes == 2], value[codes == 3] = 0.5, 12.0
            value[rng.random(n) < 1e-4] = np.nan  # a few finite_value failures
            columns["x0"][rng.random(n) < 1e-4] = np.inf  # a few input_finite warnings
            columns["value"] = value
            labels = pa.array(STATUS_LABELS)
            columns["status"] = pa.DictionaryArray.from_arrays(pa.array(codes), labels)
            columns["site"] = pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, SITES, n).astype(np.int8)),
                pa.array([f"site-{i:02d}" for i in range(SITES)]),
            )
            writer.write_table(pa.table(columns, schema=_schema(status_type)), row_group_size=CHUNK)


def _schema(status_type: pa.DataType) -> pa.Schema:
    fields = [pa.field(f"x{i}", pa.float32()) for i in range(8)]
    fields += [pa.field("value", pa.float32()), pa.field("status", status_type)]
    fields += [pa.field("site", pa.dictionary(pa.int8(), pa.string()))]
    return pa.schema(fields)


def run_baseline(path: Path) -> None:
    import pandera.errors

    from zpml_data.checks.rules import builtin_schema

    frame = pq.read_table(path).to_pandas()
    try:
        builtin_schema().validate(frame.drop(columns=["site"]), lazy=True)
    except pandera.errors.SchemaErrors as errors:
        assert len(errors.failure_cases) > 0


def run_zpml(path: Path) -> None:
    from zpml_data import audit

    report = audit(path, group_by=["site"])
    assert report.targets[0].rows == pq.ParquetFile(path).metadata.num_rows


def measure(which: str, path: Path) -> dict[str, float]:
    """Run one side in a fresh interpreter; return its seconds and peak memory."""
    preload = "zpml_data.auditing.engine"  # imports are not the work measured
    return in_fresh_process("benchmarks.bench_audit", f"run_{which}", path, preload=preload)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--dir", type=Path, help="where to write the data (default: a temp dir)")
    add_quick_option(parser)
    args = parser.parse_args()
    if args.quick:
        args.rows = [20_000, 40_000]
    if len(args.rows) < 2:
        parser.error("--rows: give at least two sizes, to tell whether peak memory stays flat")
    results = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for rows in args.rows:
            path = Path(tmp) / f"audit-{rows}.parquet"
            start = time.perf_counter()
            write_dataset(path, rows)
            print(
                f"{rows:,} rows: wrote {path.stat().st_size / 2**20:,.0f} MiB "
                f"in {time.perf_counter() - start:.1f} s"
            )
            results[rows] = {which: measure(which, path) for which in ("baseline", "zpml")}
    print(f"\n{'rows':>12}  {'side':8}  {'seconds':>8}  {'peak MiB':>9}")
    ok = True
    for rows, sides in results.items():
        for which, r in sides.items():
            print(f"{rows:>12,}  {which:8}  {r['seconds']:8.2f}  {r['peak_mib']:9.0f}")
        ratio = sides["zpml"]["seconds"] / sides["baseline"]["seconds"]
        memory = sides["zpml"]["peak_mib"] / sides["baseline"]["peak_mib"]
        print(
            f"{'':>12}  zpml takes {ratio:.2f}x the baseline's time (goal <= 0.50), "
            f"{memory:.2f}x its peak memory (goal <= 0.25)"
        )
        if rows == max(results):
            ok &= ratio <= 0.5 and memory <= 0.25
    ok &= report_peak_growth({rows: r["zpml"]["peak_mib"] for rows, r in results.items()})
    return verdict(ok, args.quick)


if __name__ == "__main__":
    sys.exit(main())
