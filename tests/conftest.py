"""Shared test helpers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import settings

# One torch thread per process, in this one and in every zpml the tests start: the
# tests' models are tiny, and on a busy two-core machine a second intra-op thread
# spins more than it computes (a 3-epoch run: 19 s wall with one, 70 s with two).
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Tests write only under their tmp_path: no hypothesis example database in the working tree.
settings.register_profile("zpml", database=None)
settings.load_profile("zpml")

FIELDS = ("Y_n", "Y_d", "mask_finite", "mask_bottom", "orientation_label", "bottom_kind")


def as_numpy(x: Any) -> np.ndarray:
    """A numpy view of a numpy array or a torch tensor (moved to the CPU)."""
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def assert_bitwise_equal(actual: Any, expected: Any) -> None:
    """Same dtype, same shape, same bytes (so -0.0 differs from 0.0 and NaN payloads count)."""
    a, e = as_numpy(actual), as_numpy(expected)
    assert a.dtype == e.dtype, (a.dtype, e.dtype)
    assert a.shape == e.shape, (a.shape, e.shape)
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(e).tobytes(), (a, e)


def assert_targets_equal(actual: Any, expected: Any) -> None:
    """Every field of two SemanticTargets bitwise equal."""
    for field in FIELDS:
        try:
            assert_bitwise_equal(getattr(actual, field), getattr(expected, field))
        except AssertionError as error:
            raise AssertionError(f"field {field} differs: {error}") from None


def run_zpml(*args: str, cwd: Any = None) -> Any:
    """Run the real ``zpml`` command in a subprocess; returns the CompletedProcess."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "zpml_data.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


@dataclass(frozen=True)
class DemoRun:
    """One ``zpml demo`` run: its output directory and the finished process."""

    out: Path
    result: Any


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``zpml demo`` run once, through the real command, for every test that reads what it left.

    Tests that change the demo's files work on a copy.
    """
    out = tmp_path_factory.mktemp("demo") / "out"
    result = run_zpml("demo", out)
    assert result.returncode == 0, result.stderr
    return DemoRun(out, result)
