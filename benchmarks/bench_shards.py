"""Sharding against a bare Parquet write of the same output, in one run.

Run: ``python -m benchmarks.bench_shards [--rows 1000000 3000000 10000000] [--quick]``.

For each size it writes a source (the bench_audit dataset: 8 float32
features, a float32 value, a dictionary-encoded status, a group column), then
measures, each in a fresh process:

* zpml: ``write_shards(source, out, on_error="quarantine")``: read, validate,
  lift, hash, write (the source has a few planted bad rows);
* baseline: the same output columns, already in memory, written by one bare
  ``pyarrow.parquet.write_table`` with the same row-group size.

Goals: zpml at most 2x the baseline's time, and zpml's peak memory (VmHWM)
flat from the smallest to the largest size. Every run, ``--quick`` included,
checks that each source row is in a shard or in the quarantine. Exits 1 if
that fails or (not ``--quick``) a goal is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._timing import add_quick_option, in_fresh_process, report_peak_growth, verdict
from benchmarks.bench_audit import write_dataset


def run_zpml(source: Path, out: Path) -> float:
    import pyarrow.parquet as pq

    from zpml_data.shards.writer import write_shards

    start = time.perf_counter()
    manifest = write_shards(source, out, overwrite=True, on_error="quarantine")  # bad rows
    seconds = time.perf_counter() - start
    source_rows = pq.ParquetFile(source).metadata.num_rows
    # Nothing lost: every source row is in a shard or in the quarantine.
    assert manifest.source_rows == source_rows, (manifest.source_rows, source_rows)
    assert manifest.rows + manifest.quarantined_rows == source_rows
    return seconds


def run_baseline(shards: Path, out: Path) -> float:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from zpml_data.shards import DEFAULT_ROW_GROUP_ROWS
    from zpml_data.shards.manifest import read_manifest

    manifest = read_manifest(shards)
    table = pa.concat_tables(pq.read_table(shards / s.file) for s in manifest.shards)
    start = time.perf_counter()
    pq.write_table(table, out, row_group_size=DEFAULT_ROW_GROUP_ROWS)
    return time.perf_counter() - start


def measure(which: str, first: Path, second: Path) -> dict[str, float]:
    """One side's seconds and peak memory, measured in a fresh process."""
    preload = "zpml_data.shards.writer"  # imports are not the work measured
    return in_fresh_process(
        "benchmarks.bench_shards", f"run_{which}", first, second, preload=preload
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    add_quick_option(parser)
    args = parser.parse_args()
    if args.quick:
        args.rows = [20_000, 40_000]
    if len(args.rows) < 2:
        parser.error("--rows: give at least two sizes, to tell whether peak memory stays flat")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            source, shards = Path(tmp) / f"source-{rows}.parquet", Path(tmp) / f"shards-{rows}"
            write_dataset(source, rows)
            zpml = measure("zpml", source, shards)
            baseline = measure("baseline", shards, Path(tmp) / f"bare-{rows}.parquet")
            results[rows] = {"zpml": zpml, "baseline": baseline}
    ok = True
    print(f"{'rows':>12}  {'side':8}  {'seconds':>8}  {'peak MiB':>9}")
    for rows, sides in results.items():
        for which, r in sides.items():
            print(f"{rows:>12,}  {which:8}  {r['seconds']:8.2f}  {r['peak_mib']:9.0f}")
        ratio = sides["zpml"]["seconds"] / sides["baseline"]["seconds"]
        print(f"{'':>12}  zpml takes {ratio:.2f}x the bare write's time (goal <= 2)")
        ok &= ratio <= 2.0
    ok &= report_peak_growth({rows: r["zpml"]["peak_mib"] for rows, r in results.items()})
    return verdict(ok, args.quick)


if __name__ == "__main__":
    sys.exit(main())
