"""How audit, shard, loader and predict grow with the data: two sizes, ten times apart.

Run: ``python -m benchmarks.bench_scaling [--quick]``.

Each stage runs on its benchmark's own data at two sizes ten times apart,
both at least a few record batches (a file of one batch cannot show whether
memory stays flat), in a fresh process per run (peak memory, VmHWM, is its
own), with the library's defaults:

* audit, 10⁶ and 10⁷ rows: ``audit(path, group_by=["site"])`` on bench_audit's table;
* shard, 10⁶ and 10⁷: ``write_shards(source, out, on_error="quarantine")`` on it;
* loader, 2·10⁵ and 2·10⁶: one shuffled epoch of ``make_loader(shards, 4096)``
  over bench_loader's 64-feature shards, one process;
* predict, 10⁶ and 10⁷: ``predict_file(load_model(run), source, out)`` on
  bench_predict's 16-feature file.

For each stage it prints rows/s at both sizes and the larger over the smaller
(streaming work: flat, about 1.0), and the peak memory at both sizes and its
growth (streaming: flat, at most 1.2x). Goals: rows/s of the larger size at
least 0.8x the smaller's, and peak memory at most 1.2x. Exits 1 if one is
missed (``--quick``: small sizes, goals not enforced).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks._timing import add_quick_option, in_fresh_process, verdict

RATE_FLOOR = 0.8  # rows/s at the larger size over the smaller, at least
PEAK_GROWTH = 1.2  # peak memory at the larger size over the smaller, at most


def audit_stage(tmp: Path, rows: int) -> dict[str, float]:
    from benchmarks.bench_audit import write_dataset

    source = tmp / f"audit-{rows}.parquet"
    write_dataset(source, rows)
    figures = in_fresh_process(
        "benchmarks.bench_audit", "run_zpml", source, preload="zpml_data.auditing.engine"
    )
    return {**figures, "rows": rows}


def shard_stage(tmp: Path, rows: int) -> dict[str, float]:
    source = tmp / f"audit-{rows}.parquet"  # written by the audit stage
    figures = in_fresh_process(
        "benchmarks.bench_shards",
        "run_zpml",
        source,
        tmp / f"shards-{rows}",
        preload="zpml_data.shards.writer",
    )
    return {**figures, "rows": rows}


def loader_stage(tmp: Path, rows: int) -> dict[str, float]:
    from benchmarks.bench_loader import write_dataset

    shards = tmp / f"loader-{rows}"
    write_dataset(tmp / f"loader-{rows}.parquet", shards, rows, "snappy")
    return in_fresh_process("benchmarks.bench_loader", "run_zpml", shards, 0, 1)


def predict_stage(tmp: Path, rows: int) -> dict[str, float]:
    from benchmarks.bench_predict import write_model, write_source

    run, source = tmp / "model", tmp / f"predict-{rows}.parquet"
    if not run.exists():
        write_model(run)
    write_source(source, rows)
    out = tmp / f"predicted-{rows}.parquet"
    return in_fresh_process("benchmarks.bench_predict", "run_zpml", run, source, out)


STAGES = {  # stage, its smaller size (the larger is ten times it)
    "audit": (audit_stage, 1_000_000),
    "shard": (shard_stage, 1_000_000),
    "loader": (loader_stage, 200_000),
    "predict": (predict_stage, 1_000_000),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_quick_option(parser)
    args = parser.parse_args()
    results: dict[str, dict[int, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (stage, small) in STAGES.items():
            small = 5_000 if args.quick else small
            results[name] = {rows: stage(Path(tmp), rows) for rows in (small, 10 * small)}
    print(f"{'stage':8} {'rows':>11} {'M rows/s':>9} {'peak MiB':>9}")
    ok = True
    for name, sizes in results.items():
        small, large = sorted(sizes)
        rate = {rows: r["rows"] / r["seconds"] for rows, r in sizes.items()}
        for rows, r in sizes.items():
            print(f"{name:8} {rows:>11,} {rate[rows] / 1e6:9.2f} {r['peak_mib']:9.0f}")
        speed, growth = (
            rate[large] / rate[small],
            sizes[large]["peak_mib"] / sizes[small]["peak_mib"],
        )
        flat = speed >= RATE_FLOOR and growth <= PEAK_GROWTH
        print(
            f"{name:8} 10x the rows: rows/s {speed:.2f}x (goal >= {RATE_FLOOR}), "
            f"peak memory {growth:.2f}x (goal <= {PEAK_GROWTH}): {'flat' if flat else 'GROWS'}"
        )
        ok &= flat
    return verdict(ok, args.quick)


if __name__ == "__main__":
    sys.exit(main())
