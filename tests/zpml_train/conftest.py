"""Fixtures for the zpml_train tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture
def single_thread() -> Iterator[None]:
    """Run the test on one intra-op thread, then restore the count.

    The trainer tests use tiny models, whose ops finish before a second
    thread helps; on a busy two-core machine OpenMP's spin-waits made a
    30-epoch test 25x slower with two threads (40 s against 1.5 s).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
