"""Timing helpers and options shared by the benchmarks."""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable
from typing import Any


def add_quick_option(parser: argparse.ArgumentParser) -> None:
    """``--quick``: small sizes, one repeat, goals printed but not enforced.

    CI runs every benchmark this way so none of them can rot; the figures of a
    quick run say nothing about speed.
    """
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: small sizes, goals not enforced"
    )


def verdict(ok: bool, quick: bool) -> int:
    """Print whether the goals were met; the exit code (a quick run always exits 0)."""
    print("goals:", "met" if ok else "MISSED", "(quick run: not enforced)" if quick else "")
    return 0 if ok or quick else 1


def best_of(fn: Callable[[], Any], repeats: int = 5) -> float:
    """The fastest of ``repeats`` runs of ``fn``, in seconds (the least noisy estimate)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def report_peak_growth(peaks: dict[int, float], limit: float = 1.2) -> bool:
    """Print the peak memory at each size over the one before, and the largest over the smallest.

    Each step is shown, so a plateau after the first batches tells apart from
    steady growth. Returns whether largest over smallest is within ``limit``.

    Raises:
        ValueError: Fewer than two sizes: one size cannot show that memory stays flat.
    """
    sizes = sorted(peaks)
    if len(sizes) < 2:
        raise ValueError(f"a flat-memory verdict needs at least two sizes, got {sizes}")
    for small, large in itertools.pairwise(sizes):
        print(f"zpml peak, {large:,} rows over {small:,}: {peaks[large] / peaks[small]:.2f}x")
    growth = peaks[sizes[-1]] / peaks[sizes[0]]
    print(f"zpml peak, largest over smallest: {growth:.2f}x (goal: flat, <= {limit})")
    return growth <= limit
