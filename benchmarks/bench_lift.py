"""Lifting 10⁶ targets: zpml against the reference package, in one run.

Run: ``python -m benchmarks.bench_lift [--rows N] [--clock wall|cpu] [--quick]``.
Prints seconds and ratios; exits 1 if a goal is missed. Goals: ≥15× faster than
the reference from a list of str, ≥100× from int8 codes or an Arrow dictionary
array, and within 4× of merely allocating and filling the six output arrays.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pyarrow as pa

from benchmarks._timing import add_clock_option, add_quick_option, best_of, verdict
from zpml_data import encode_status, lift_semantic_targets
from zpml_data.status import STATUS_LABELS

OUTPUT_DTYPES = (np.float32, np.float32, np.bool_, np.bool_, np.int64, np.int64)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    add_clock_option(parser)
    add_quick_option(parser)
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeats = 20_000, 1
    from zeroproof.training.targets import lift_semantic_targets as reference_lift

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 7, args.rows).astype(np.int8)
    values = rng.normal(size=args.rows).astype(np.float32)
    labels = [STATUS_LABELS[c] for c in codes]
    dictionary = pa.array(labels).dictionary_encode()
    assert (encode_status(dictionary) == codes).all()

    def alloc_and_fill() -> list[np.ndarray]:
        # All six outputs alive at once, as a lift returns them.
        return [np.full(values.shape, 1, dtype=dtype) for dtype in OUTPUT_DTYPES]

    fill = best_of(alloc_and_fill, args.repeats, args.clock)
    timings = {
        "list of str": best_of(
            lambda: lift_semantic_targets(values, labels), args.repeats, args.clock
        ),
        "arrow dictionary": best_of(
            lambda: lift_semantic_targets(values, dictionary), args.repeats, args.clock
        ),
        "int8 codes": best_of(
            lambda: lift_semantic_targets(values, codes), args.repeats, args.clock
        ),
    }
    # The reference last: its per-row Python objects fragment the heap for what follows.
    reference = best_of(
        lambda: reference_lift(values, labels), max(1, args.repeats // 4), args.clock
    )
    goals = {"list of str": 15.0, "arrow dictionary": 100.0, "int8 codes": 100.0}
    print(f"rows: {args.rows:,} ({args.clock} time)")
    print(f"reference (zeroproofml, list of str): {reference * 1e3:9.2f} ms")
    print(f"allocate + fill the 6 outputs:          {fill * 1e3:9.2f} ms")
    ok = True
    for name, seconds in timings.items():
        speedup, over_fill = reference / seconds, seconds / fill
        met = speedup >= goals[name]
        ok &= met
        print(
            f"zpml from {name:<17} {seconds * 1e3:9.2f} ms  "
            f"{speedup:7.1f}x reference (goal {goals[name]:.0f}x: {'met' if met else 'MISSED'})  "
            f"{over_fill:5.2f}x fill"
        )
    codes_over_fill = timings["int8 codes"] / fill
    print(
        f"codes within 4x of fill: {'met' if codes_over_fill <= 4 else 'MISSED'} "
        f"({codes_over_fill:.2f}x)"
    )
    return verdict(ok and codes_over_fill <= 4, args.quick)


if __name__ == "__main__":
    sys.exit(main())
