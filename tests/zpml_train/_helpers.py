"""Data and loaders for the trainer tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from zpml_data.status import STATUS_LABELS, Status

# A mix with every trained status and no `missing`.
TRAINED_MIX = {
    Status.FINITE: 0.7,
    Status.BOTTOM: 0.1,
    Status.CENSORED_BELOW: 0.05,
    Status.CENSORED_ABOVE: 0.05,
    Status.DOMAIN_INVALID: 0.05,
    Status.FAULT: 0.05,
}


def make_rows(
    n: int, features: int = 3, mix: dict[Status, float] | None = None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(inputs [n, F], values [n], codes [n] int8)``: finite values depend on the inputs."""
    rng = np.random.default_rng(seed)
    mix = TRAINED_MIX if mix is None else mix
    statuses = list(mix)
    probabilities = np.array([mix[s] for s in statuses], dtype=float)
    codes = rng.choice(
        np.array(statuses, dtype=np.int8), size=n, p=probabilities / probabilities.sum()
    )
    inputs = rng.normal(size=(n, features)).astype(np.float32)
    values = (inputs.sum(axis=1) + 0.1 * rng.normal(size=n)).astype(np.float32)
    values[codes != Status.FINITE] = np.nan
    return torch.from_numpy(inputs), torch.from_numpy(values), torch.from_numpy(codes)


def split(rows: tuple[torch.Tensor, ...], sizes: Sequence[int]) -> list[tuple[torch.Tensor, ...]]:
    """Consecutive batches of the given sizes (which must cover the rows)."""
    assert sum(sizes) == rows[0].shape[0], (sum(sizes), rows[0].shape[0])
    batches, start = [], 0
    for size in sizes:
        batches.append(tuple(column[start : start + size] for column in rows))
        start += size
    return batches


def labels_of(codes: torch.Tensor) -> list[str]:
    """Status label strings for int8 codes."""
    return [STATUS_LABELS[int(c)] for c in codes]


@dataclass
class FakeManifest:
    """What the trainer reads from a zpml_data Manifest: label -> count over all cells."""

    status_counts: dict[str, int]


class ManifestLoader:
    """An iterable of batches with a ``manifest``, counting how often it is read."""

    def __init__(self, batches: list[Any], status_counts: dict[str, int] | None = None) -> None:
        self.batches = batches
        if status_counts is None:
            codes = torch.cat([batch[2] for batch in batches])
            status_counts = {
                STATUS_LABELS[code]: int(n)
                for code, n in enumerate(torch.bincount(codes.long(), minlength=7).tolist())
                if n
            }
        self.manifest = FakeManifest(status_counts)
        self.batches_read = 0

    def __iter__(self) -> Iterator[Any]:
        for batch in self.batches:
            self.batches_read += 1
            yield batch


def state_copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of a module's state."""
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


def assert_states_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    """Same keys, bitwise equal tensors."""
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs"


def assert_states_close(
    a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], rtol: float = 1e-5, atol: float = 1e-6
) -> None:
    """Same keys, tensors equal to float tolerance."""
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=rtol, atol=atol, msg=name)
