"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any


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
    """
    sizes = sorted(peaks)
    for small, large in itertools.pairwise(sizes):
        print(f"zpml peak, {large:,} rows over {small:,}: {peaks[large] / peaks[small]:.2f}x")
    if len(sizes) < 2:
        return True
    growth = peaks[sizes[-1]] / peaks[sizes[0]]
    print(f"zpml peak, largest over smallest: {growth:.2f}x (goal: flat, <= {limit})")
    return growth <= limit
