"""`zpml train` on two gloo ranks under torchrun against one process, in one run.

Run: ``python -m benchmarks.bench_ddp [--rows 200000] [--quick]``.

It writes ``rows`` rows of the rational-poles example as shards, then times
``zpml train`` for 1 and for 4 epochs, on one process and under
``torchrun --standalone --nproc_per_node 2`` (gloo). The difference over 3
epochs is the training time without start-up (imports, process group,
verification); from it come optimizer steps per second per rank and rows
per second over all ranks. No speed goal: the figures are reported. Every run,
``--quick`` included, is checked: its metrics record each epoch once, the
ranks together saw every row in each epoch, and each rank took its share of
the optimizer steps (exit 1 if not).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BATCH = 256


def train(shards: Path, out: Path, epochs: int, ranks: int) -> float:
    """Seconds for one ``zpml train`` of ``epochs`` epochs on ``ranks`` processes."""
    command = [sys.executable, "-m", "zpml_data.cli", "train", str(shards), "--out", str(out)]
    command += ["--epochs", str(epochs), "--batch-size", str(BATCH)]
    if ranks > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        command = [*launcher, "--nproc_per_node", str(ranks), "-m", *command[2:]]
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start


def check_run(out: Path, epochs: int, ranks: int, rows: int) -> list[str]:
    """What is wrong with a finished run, from its ``metrics.jsonl`` (nothing: ``[]``)."""
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps_per_epoch = math.ceil(math.ceil(rows / BATCH) / ranks)
    problems = []
    if [r["epoch"] for r in records] != list(range(epochs)):
        problems.append(f"epochs recorded {[r['epoch'] for r in records]}, ran {epochs}")
    for record in records:
        if record["rows"] != rows:
            problems.append(f"epoch {record['epoch']}: {record['rows']:,.0f} rows seen of {rows:,}")
        if record["step"] != (record["epoch"] + 1) * steps_per_epoch:
            problems.append(
                f"epoch {record['epoch']}: step {record['step']}, expected "
                f"{(record['epoch'] + 1) * steps_per_epoch} ({steps_per_epoch} per epoch per rank)"
            )
    return [f"{ranks} rank(s), {out.name}: {p}" for p in problems]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="small data (for CI)")
    args = parser.parse_args()
    rows = 4_000 if args.quick else args.rows
    from zpml_data.datasets import rational_poles
    from zpml_data.shards.writer import write_shards

    with tempfile.TemporaryDirectory() as tmp:
        shards = Path(tmp) / "shards"
        write_shards(rational_poles(rows), shards)
        print(f"{rows:,} rows, batch {BATCH}, 3 epochs timed (4 epochs minus 1)")
        print(f"{'ranks':>5} {'s/epoch':>8} {'steps/s/rank':>13} {'rows/s':>10}")
        problems = []
        for ranks in (1, 2):
            train(shards, Path(tmp) / f"r{ranks}-warm", 1, ranks)  # first-run costs out of the way
            once = train(shards, Path(tmp) / f"r{ranks}-1", 1, ranks)
            four = train(shards, Path(tmp) / f"r{ranks}-4", 4, ranks)
            problems += check_run(Path(tmp) / f"r{ranks}-1", 1, ranks, rows)
            problems += check_run(Path(tmp) / f"r{ranks}-4", 4, ranks, rows)
            per_epoch = max(four - once, 1e-9) / 3
            steps = math.ceil(math.ceil(rows / BATCH) / ranks)
            print(
                f"{ranks:>5} {per_epoch:8.2f} {steps / per_epoch:13.1f} {rows / per_epoch:10,.0f}"
            )
    print("every run: each epoch once, every row seen, each rank its share of the steps:",
          "yes" if not problems else "NO")  # fmt: skip
    for problem in problems:
        print("  ", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
