"""The shard loader against the read floor and a hand-written loader, in one run.

Run: ``python -m benchmarks.bench_loader [--rows 2000000] [--quick]``.

It writes ``rows`` rows of 64 float32 features (plus a value and a status,
5% of them bottoms) as zstd shards with ``write_shards``, then measures one
epoch of batches of 4096, each side in a fresh process:

* zpml: ``make_loader(shards, 4096, shuffle=True)`` in one process
  (``num_workers=0``), and with ``num_workers=2``; verification (sha256 of
  every shard) is timed apart, as it runs once per process;
* floor: ``pyarrow.parquet.read_table`` of the same files' inputs plus one
  ``[N, 64]`` float32 tensor, no shuffle;
* by hand: a map-style ``Dataset`` over a pandas frame with
  ``DataLoader(batch_size=4096, shuffle=True)`` (timed on its first 40
  batches: a whole epoch takes minutes).

Goals: zpml at least 2 M rows/s shuffled in one process, at least 40% of the
floor's rows/s and at least 20x the hand-written loader. Peak memory (VmHWM)
is reported for each. Exits 1 if a goal is missed (``--quick``: small data,
no goals, so CI keeps the script working).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._timing import in_fresh_process

FEATURES = 64
BATCH = 4096
HAND_BATCHES = 40


def write_dataset(source: Path, shards: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from zpml_data.shards.writer import write_shards

    rng = np.random.default_rng(0)
    names = [f"x{i}" for i in range(FEATURES)]
    schema = pa.schema(
        [(n, pa.float32()) for n in names] + [("value", pa.float32()), ("status", pa.string())]
    )
    with pq.ParquetWriter(source, schema) as writer:
        for start in range(0, rows, 500_000):
            n = min(500_000, rows - start)
            bottom = rng.random(n) < 0.05
            columns = [rng.standard_normal(n, dtype=np.float32) for _ in names]
            value = np.where(bottom, np.nan, rng.standard_normal(n)).astype(np.float32)
            status = np.where(bottom, "bottom", "finite")
            writer.write_table(pa.table([*columns, value, status], schema=schema))
    write_shards(source, shards, compression="zstd")


def run_zpml(shards: Path, workers: int) -> dict[str, float]:
    from zpml_train import make_loader

    start = time.perf_counter()
    loader = make_loader(shards, BATCH, shuffle=True, num_workers=workers)
    verified = time.perf_counter()
    rows = sum(batch.inputs.shape[0] for batch in loader)
    done = time.perf_counter()
    return {"rows": rows, "seconds": done - verified, "verify_seconds": verified - start}


def run_floor(shards: Path, workers: int) -> dict[str, float]:
    import pyarrow.parquet as pq
    import torch

    from zpml_data.shards.format import inputs_array
    from zpml_data.shards.manifest import read_manifest

    manifest = read_manifest(shards)
    start = time.perf_counter()
    tables = [pq.read_table(shards / s.file, columns=["inputs"]) for s in manifest.shards]
    rows = sum(t.num_rows for t in tables)
    inputs = torch.empty((rows, FEATURES), dtype=torch.float32)
    offset = 0
    for table in tables:
        for chunk in table.column("inputs").chunks:
            block = inputs_array(chunk)  # a read-only [rows, 64] view of the column
            inputs[offset : offset + len(block)] = torch.from_numpy(block.copy())
            offset += len(block)
    return {"rows": offset, "seconds": time.perf_counter() - start}


def run_hand(shards: Path, workers: int) -> dict[str, float]:
    import pandas as pd
    import torch
    from torch.utils.data import DataLoader, Dataset

    frame = pd.read_parquet(shards.parent / "source.parquet")
    features = [f"x{i}" for i in range(FEATURES)]

    class Rows(Dataset[tuple[torch.Tensor, torch.Tensor, str]]):
        def __len__(self) -> int:
            return len(frame)

        def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, str]:
            row = frame.iloc[i]
            return (
                torch.tensor(row[features].to_numpy(dtype="float32")),
                torch.tensor(row["value"], dtype=torch.float32),
                row["status"],
            )

    start = time.perf_counter()
    rows = 0
    for i, (inputs, _, _) in enumerate(DataLoader(Rows(), batch_size=BATCH, shuffle=True)):
        rows += inputs.shape[0]
        if i + 1 == HAND_BATCHES:
            break
    return {"rows": rows, "seconds": time.perf_counter() - start}


def measure(which: str, shards: Path, workers: int = 0) -> dict[str, float]:
    """One side's figures, measured in a fresh process."""
    return in_fresh_process("benchmarks.bench_loader", f"run_{which}", shards, workers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--quick", action="store_true", help="small data, no goals (for CI)")
    args = parser.parse_args()
    rows = 20_000 if args.quick else args.rows
    with tempfile.TemporaryDirectory() as tmp:
        shards = Path(tmp) / "shards"
        write_dataset(Path(tmp) / "source.parquet", shards, rows)
        results = {
            "zpml": measure("zpml", shards),
            "zpml, 2 workers": measure("zpml", shards, workers=2),
            "floor": measure("floor", shards),
            "by hand": measure("hand", shards),
        }
    speed = {name: r["rows"] / r["seconds"] for name, r in results.items()}
    print(f"{rows:,} rows x {FEATURES} float32 features, zstd shards, batch {BATCH}")
    print(f"{'loader':16} {'rows':>10} {'seconds':>8} {'M rows/s':>9} {'peak MiB':>9}")
    for name, r in results.items():
        print(
            f"{name:16} {r['rows']:>10,} {r['seconds']:8.2f} {speed[name] / 1e6:9.2f} "
            f"{r['peak_mib']:9.0f}"
        )
    print(
        f"zpml verification (sha256 of every shard, once per process): "
        f"{results['zpml']['verify_seconds']:.2f} s"
    )
    of_floor = speed["zpml"] / speed["floor"]
    over_hand = speed["zpml"] / speed["by hand"]
    print(
        f"zpml: {speed['zpml'] / 1e6:.2f} M rows/s (goal >= 2), {of_floor:.0%} of the floor "
        f"(goal >= 40%), {over_hand:.0f}x the hand-written loader (goal >= 20x)"
    )
    if args.quick:
        return 0
    ok = speed["zpml"] >= 2e6 and of_floor >= 0.4 and over_hand >= 20
    print("goals:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
