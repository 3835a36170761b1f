"""Per-status metrics: exact values on a hand-made batch, additivity, the reduction hook."""

from __future__ import annotations

import math

import pytest
import torch

from zpml_data import lift_semantic_targets
from zpml_data.status import Status
from zpml_train.training import metrics as metrics_module
from zpml_train.training.metrics import METRIC_NAMES, MetricSums

pytestmark = pytest.mark.usefixtures("single_thread")

NAN = float("nan")
S = Status
# row:        0       1       2          3                4                5          6        7
CODES = [
    S.FINITE,
    S.FINITE,
    S.FINITE,
    S.CENSORED_BELOW,
    S.CENSORED_ABOVE,
    S.BOTTOM,
    S.MISSING,
    S.FAULT,
]
VALUES = [1.0, 2.0, 3.0, NAN, NAN, NAN, NAN, NAN]
# Decoded: 2/1=2 (err 1), 6/2=3 (err 1), ⊥, ⊥ with P<0 (right side), ⊥ with P<0 (wrong side),
# finite (a missed bottom), ⊥ (on a missing row), NaN P (⊥).
P = [2.0, 6.0, 1.0, -1.0, -1.0, 1.0, 1.0, NAN]
Q = [1.0, 2.0, 0.0, 1e-9, 0.0, 1.0, 0.0, 1.0]


def _batch() -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], object]:
    targets = lift_semantic_targets(
        torch.tensor(VALUES), torch.tensor([int(c) for c in CODES], dtype=torch.int8)
    )
    return torch.tensor(0.5), (torch.tensor(P), torch.tensor(Q)), targets


def test_every_metric_on_a_hand_made_batch() -> None:
    sums = MetricSums("cpu")
    sums.add(*_batch(), tau=1e-6)
    result = sums.read()
    assert set(result) == set(METRIC_NAMES)
    assert result["loss"] == 0.5
    assert result["coverage"] == 3 / 8  # rows 0, 1, 5 decode finite
    assert result["finite_rmse"] == pytest.approx(1.0)  # rows 0 and 1, both off by 1
    assert result["finite_decoded"] == 2 / 3
    assert result["bottom_recall"] == 3 / 4  # rows 3, 4, 7 of bottoms 3, 4, 5, 7
    assert result["bottom_precision"] == 3 / 4  # ⊥ on trained rows 2, 3, 4, 7; row 2 is finite
    assert result["censored_accuracy"] == 1 / 2  # row 3 right, row 4 wrong
    assert result["rows"] == 8 and result["missing"] == 1


@pytest.mark.parametrize("flush_every", [1, 32])
def test_sums_are_additive_and_reset(flush_every: int) -> None:
    loss, outputs, targets = _batch()
    twice = MetricSums("cpu", flush_every=flush_every)
    twice.add(loss, outputs, targets, 1e-6)
    twice.add(loss * 3, outputs, targets, 10.0)  # every output ⊥ at this threshold
    result = twice.read()
    assert result["loss"] == 1.0 and result["rows"] == 16 and result["missing"] == 2
    assert result["coverage"] == 3 / 16
    twice.reset()
    empty = twice.read()
    assert empty["rows"] == 0 and math.isnan(empty["loss"]) and math.isnan(empty["coverage"])


def test_nan_and_inf_outputs_count_as_bottom() -> None:
    targets = lift_semantic_targets(torch.ones(3), torch.zeros(3, dtype=torch.int8))
    sums = MetricSums("cpu")
    outputs = (torch.tensor([NAN, 1.0, 1.0]), torch.tensor([1.0, float("inf"), NAN]))
    sums.add(torch.tensor(0.0), outputs, targets, 1e-6)
    assert sums.read()["coverage"] == 0.0


def test_two_column_outputs_count_cells() -> None:
    targets = lift_semantic_targets(torch.ones(4, 2), torch.zeros(4, 2, dtype=torch.int8))
    sums = MetricSums("cpu")
    sums.add(torch.tensor(1.0), (torch.ones(4, 2), torch.ones(4, 2)), targets, 1e-6)
    result = sums.read()
    assert result["rows"] == 8 and result["finite_rmse"] == 0.0
    assert result["loss"] == 1.0  # averaged over rows, not cells


def test_reading_goes_through_the_one_reduction(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def doubled(sums: torch.Tensor) -> torch.Tensor:  # what a two-rank all_reduce would give
        calls.append(sums.shape)
        return sums * 2

    monkeypatch.setattr(metrics_module, "reduce_sums", doubled)
    sums = MetricSums("cpu")
    sums.add(*_batch(), tau=1e-6)
    result = sums.read()
    assert len(calls) == 1
    assert result["rows"] == 16 and result["coverage"] == 3 / 8  # ratios unchanged
