"""Timing helpers and options shared by the benchmarks."""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
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


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def add_clock_option(parser: argparse.ArgumentParser) -> None:
    """``--clock wall|cpu``: wall time, or this process's CPU time.

    On a machine shared with other work, a single-threaded side is preempted
    at random; its CPU time is what the work itself cost.
    """
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="wall", help="cpu: robust on a busy machine"
    )


def best_of(fn: Callable[[], Any], repeats: int = 5, clock: str = "wall") -> float:
    """The fastest of ``repeats`` runs of ``fn``, in seconds (the least noisy estimate).

    Args:
        fn: The work.
        repeats: How many runs.
        clock: ``"wall"`` or ``"cpu"`` (see :func:`add_clock_option`).
    """
    now = CLOCKS[clock]
    best = float("inf")
    for _ in range(repeats):
        start = now()
        fn()
        best = min(best, now() - start)
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


def in_fresh_process(
    module: str, function: str, *args: Any, preload: str | None = None
) -> dict[str, float]:
    """Call ``module.function(*args)`` in a fresh interpreter; return its figures.

    Each side of a benchmark runs in a process of its own, so one side's
    memory and caches flatter no other. The figures: the call's result when
    it is a dict, ``seconds`` (the result when it is a number, else the
    call's wall time) and ``peak_mib``, the process's peak memory.

    Args:
        module: The benchmark module, such as ``"benchmarks.bench_loader"``.
        function: The function to call in it.
        *args: Its arguments (anything whose ``repr`` evaluates back: paths, numbers).
        preload: A module imported before the clock starts (imports are not the work).
    """
    code = (
        "import importlib, json, time\n"
        "from pathlib import Path, PosixPath\n"
        "from benchmarks._timing import peak_rss_mib\n"
        + (f"import {preload}\n" if preload else "")
        + f"call = getattr(importlib.import_module({module!r}), {function!r})\n"
        "start = time.perf_counter()\n"
        f"result = call(*{args!r})\n"
        "seconds = time.perf_counter() - start\n"
        "figures = result if isinstance(result, dict) else {}\n"
        "if isinstance(result, (int, float)):\n"
        "    seconds = result\n"
        "figures.setdefault('seconds', seconds)\n"
        "print(json.dumps({**figures, 'peak_mib': peak_rss_mib()}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"{module}.{function}{args!r} failed:\n{out.stderr}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))
