"""Converting legacy sentinel data: zpml convert against a bare pyarrow read, in one run.

Run: ``python -m benchmarks.bench_convert [--rows N] [--quick]``. Writes a Parquet file
of ``N`` rows (8 float32 features, a float32 value with NaN/±inf sentinels),
then times a bare ``pyarrow.parquet.read_table`` of it, a bare read + write
(the floor for any conversion that writes a file), and
``convert_legacy(file, out.parquet)`` (read, classify, label, check the lift,
write). Prints rows per second for both and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks._timing import add_quick_option, best_of
from zpml_data.convert.legacy import convert_legacy

CHUNK = 1_000_000


def write_legacy(path: Path, rows: int, seed: int = 0) -> None:
    """A legacy table: sentinels in the value column, no status column."""
    rng = np.random.default_rng(seed)
    with pq.ParquetWriter(path, _schema()) as writer:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            columns = {f"x{i}": rng.normal(size=n).astype(np.float32) for i in range(8)}
            value = rng.normal(size=n).astype(np.float32)
            draw = rng.random(n)
            value[draw < 0.05] = np.nan
            value[(draw >= 0.05) & (draw < 0.08)] = np.inf
            value[(draw >= 0.08) & (draw < 0.10)] = -np.inf
            columns["value"] = value
            writer.write_table(pa.table(columns, schema=_schema()))


def _schema() -> pa.Schema:
    return pa.schema(
        [pa.field(f"x{i}", pa.float32()) for i in range(8)] + [("value", pa.float32())]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    add_quick_option(parser)
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeats = 20_000, 1
    with tempfile.TemporaryDirectory() as tmp:
        source, dest = Path(tmp) / "legacy.parquet", Path(tmp) / "converted.parquet"
        write_legacy(source, args.rows)
        read = best_of(lambda: pq.read_table(source), args.repeats)
        copy = best_of(
            lambda: pq.write_table(pq.read_table(source), dest, use_dictionary=False), args.repeats
        )
        convert = best_of(lambda: convert_legacy(source, dest), args.repeats)
        ledger = convert_legacy(source, dest)
        assert ledger.rows_out == args.rows and ledger.lift_preserving
    print(f"rows: {args.rows:,}")
    print(f"bare pyarrow read:  {read:7.2f} s  {args.rows / read / 1e6:7.1f} M rows/s")
    print(f"bare read + write:  {copy:7.2f} s  {args.rows / copy / 1e6:7.1f} M rows/s")
    print(f"zpml convert:       {convert:7.2f} s  {args.rows / convert / 1e6:7.1f} M rows/s")
    print(
        f"convert takes {convert / read:.1f}x the time of a bare read, "
        f"{convert / copy:.1f}x that of a bare read + write"
    )
    print("(convert = read + classify + label + lift check + write; the read alone writes nothing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
