"""The dask engine against the local engine: audit and write_shards on the same data, one run.

Run: ``python -m benchmarks.bench_dask [--rows 10000000] [--workers N] [--goal 1.3]
[--dir DIR] [--quick]``.

Writes ``bench_audit``'s dataset (8 float32 features, a value, a status, a
group column, planted failures; row groups of 1e6 rows), then audits it
(``group_by=["site"]``) and shards it (``on_error="quarantine"``) on each
engine, with a batch size of 250,000 rows so that every row group boundary
is a batch boundary (a partition of four batches is one row group). The dask
engine runs on a ``LocalCluster`` of ``--workers`` single-threaded worker
processes (default: one per core). Data, audit and shards stream in
row groups, so memory follows the row group, not ``rows``. Both
engines first audit and shard a small file, so imports and first-call set-up
(a worker's first task took 4 s here) are not timed: a long-running cluster
is warm. Its report must equal the local one and its shards must
be the same bytes. Goal: with two or more workers, the dask engine's audit
at least ``--goal`` times the local engine's rows/s (default 1.3x; the checks
run in parallel, the client's merging and group-level decisions do not; the
many-core figure asks 3x of 8 workers).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._timing import add_quick_option, verdict
from benchmarks.bench_audit import write_dataset
from zpml_data.cli.options import positive_int
from zpml_data.engines import Engine

BATCH = 250_000


def run_engine(source: Path, out: Path, scheduler: Any) -> dict[str, Any]:
    """Audit and shard ``source`` on one engine (dask if ``scheduler``): seconds and results."""
    from zpml_data import audit, write_shards

    engine: Engine = "local" if scheduler is None else "dask"
    options: dict[str, Any] = {"batch_size": BATCH, "engine": engine, "scheduler": scheduler}
    start = time.perf_counter()
    report = audit(source, group_by=["site"], **options)
    middle = time.perf_counter()
    write_shards(source, out, on_error="quarantine", seed=1, **options)
    end = time.perf_counter()
    return {
        "audit_s": middle - start,
        "shard_s": end - middle,
        "report": json.loads(report.to_json()),
        "manifest": (out / "manifest.json").read_text(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, help="where to write the data (default: a temp dir)")
    parser.add_argument(
        "--workers", type=positive_int, default=os.cpu_count() or 1, help="dask worker processes"
    )
    parser.add_argument("--goal", type=float, default=1.3, help="the audit's speed-up goal")
    add_quick_option(parser)
    args = parser.parse_args()
    rows = 40_000 if args.quick else args.rows
    from distributed import Client, LocalCluster

    workers = args.workers
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        source = Path(tmp) / "data.parquet"
        write_dataset(source, rows)
        small = Path(tmp) / "small.parquet"
        write_dataset(small, 20_000)
        run_engine(small, Path(tmp) / "warm-local", None)
        local = run_engine(source, Path(tmp) / "local", None)
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            run_engine(small, Path(tmp) / "warm-dask", client)
            dask = run_engine(source, Path(tmp) / "dask", client)
    assert dask["report"] == local["report"], "the engines gave different reports"
    assert dask["manifest"] == local["manifest"], "the engines wrote different shards"
    print(
        f"{rows:,} rows, {workers} dask worker processes on {os.cpu_count()} cores; "
        "same report, byte-identical shards"
    )
    for step in ("audit", "shard"):
        seconds = [local[f"{step}_s"], dask[f"{step}_s"]]
        print(
            f"{step}: local {seconds[0]:6.2f} s {rows / seconds[0] / 1e6:5.2f} M rows/s | "
            f"dask {seconds[1]:6.2f} s {rows / seconds[1] / 1e6:5.2f} M rows/s "
            f"({seconds[0] / seconds[1]:.2f}x)"
        )
    speedup = local["audit_s"] / dask["audit_s"]
    print(f"audit speed-up: {speedup:.2f}x (goal >= {args.goal}x with two or more workers)")
    return verdict(workers < 2 or speedup >= args.goal, args.quick)


if __name__ == "__main__":
    raise SystemExit(main())
