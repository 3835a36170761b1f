"""Per-status metrics: exact values on a hand-made batch, additivity, the reduction hook."""

from __future__ import annotations

import math

import pytest
import torch

from zpml_data import lift_semantic_targets
from zpml_data.errors import ShapeError
from zpml_data.status import Status
from zpml_train.model.gated import GatedOutputs
from zpml_train.training import metrics as metrics_module
from zpml_train.training.metrics import METRIC_BY_NAME, METRIC_NAMES, METRICS, MetricSums

pytestmark = pytest.mark.usefixtures("single_thread")

NAN = float("nan")
S = Status
# row:  0 1 2 3 4 5 6 7 8 9 10
CODES = [
    S.FINITE,
    S.FINITE,
    S.FINITE,
    S.CENSORED_BELOW,
    S.CENSORED_ABOVE,
    S.BOTTOM,
    S.MISSING,
    S.FAULT,
    S.DOMAIN_INVALID,
    S.CENSORED_ABOVE,
    S.CENSORED_BELOW,
]
# Finite values, and the limits of censored rows 9 (above 10) and 10 (below 0).
VALUES = [1.0, 2.0, 3.0, NAN, NAN, NAN, NAN, NAN, NAN, 10.0, 0.0]
# Decoded: 2/1=2 (err 1), 6/2=3 (err 1), ⊥, ⊥ with P<0 (right side), ⊥ with P<0 (wrong side),
# finite (a missed bottom), ⊥ (on a missing row), NaN P (⊥), ⊥, 12 (above its limit 10: on
# its side), 5 (not below its limit 0).
P = [2.0, 6.0, 1.0, -1.0, -1.0, 1.0, 1.0, NAN, 1.0, 12.0, 5.0]
Q = [1.0, 2.0, 0.0, 1e-9, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0]


def _batch() -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], object]:
    targets = lift_semantic_targets(torch.tensor(VALUES), _codes())
    return torch.tensor(0.5), (torch.tensor(P), torch.tensor(Q)), targets


def _codes() -> torch.Tensor:
    return torch.tensor([int(c) for c in CODES], dtype=torch.int8)


def test_every_metric_on_a_hand_made_batch() -> None:
    sums = MetricSums("cpu")
    sums.add(*_batch(), tau=1e-6, values=torch.tensor(VALUES), codes=_codes())
    result = sums.read()
    assert set(result) == set(METRIC_NAMES)
    assert result["loss"] == 0.5
    assert result["coverage"] == 5 / 11  # rows 0, 1, 5, 9, 10 decode finite
    assert result["finite_rmse"] == pytest.approx(1.0)  # rows 0 and 1, both off by 1
    assert math.isnan(result["finite_rmse_latent"])  # no latent value
    assert result["finite_decoded"] == 2 / 3
    assert result["bottom_recall"] == 4 / 7  # rows 3, 4, 7, 8 of bottoms 3, 4, 5, 7, 8, 9, 10
    assert result["bottom_precision"] == 4 / 5  # ⊥ on trained rows 2, 3, 4, 7, 8; 2 is finite
    assert result["bottom_f1"] == pytest.approx(2 / 3)
    assert result["censored_bottom_side"] == 1 / 4  # row 3 of 3, 4, 9, 10
    assert result["censored_any_side"] == 2 / 4  # and row 9, finite beyond its limit
    assert result["domain_invalid_recall"] == 1.0  # row 8
    assert math.isnan(result["domain_invalid_precision"])  # no kind output
    assert result["rows"] == 11 and result["missing"] == 1


def test_without_values_a_censored_cell_counts_only_when_bottom() -> None:
    sums = MetricSums("cpu")
    sums.add(*_batch(), tau=1e-6, codes=_codes())
    assert sums.read()["censored_any_side"] == 1 / 4


def test_without_codes_domain_invalid_is_not_guessed() -> None:
    sums = MetricSums("cpu")
    sums.add(*_batch(), tau=1e-6)
    # rows 5 (bottom) and 8 (domain_invalid) lift to the same targets: no rows to count
    result = sums.read()
    assert math.isnan(result["domain_invalid_recall"]) and result["bottom_recall"] == 4 / 7


def test_latent_values_and_the_kind_output() -> None:
    loss, (p, q), targets = _batch()
    latent = torch.tensor([1.5, 2.5, 5.0] + [100.0] * 8)  # finite rows off by .5, .5, 2
    kind = torch.zeros(11, 3)
    kind[[3, 4, 7, 8], 1] = 1.0  # domain_invalid-or-bottom on ⊥ rows 3, 4, 7, 8; 2 is censored
    outputs = GatedOutputs(p, q, latent, q, q, kind, q)
    sums = MetricSums("cpu")
    sums.add(loss, outputs, targets, 1e-6, values=torch.tensor(VALUES), codes=_codes())
    result = sums.read()
    assert result["finite_rmse_latent"] == pytest.approx(math.sqrt((0.25 + 0.25 + 4) / 3))
    assert result["domain_invalid_precision"] == 1 / 4  # of rows 3, 4, 7, 8 only 8 is


@pytest.mark.parametrize("flush_every", [1, 64])
def test_steps_with_and_without_the_optional_parts_count_as_each_alone(flush_every: int) -> None:
    loss, (p, q), targets = _batch()
    latent = torch.tensor([1.5, 2.5, 5.0] + [100.0] * 8)
    kind = torch.zeros(11, 3)
    kind[[3, 4, 7, 8], 1] = 1.0
    steps = [  # (outputs, keywords): every optional part present, then none, at another tau
        (GatedOutputs(p, q, latent, q, q, kind, q), {"values": torch.tensor(VALUES)}),
        ((p.flip(0), q.flip(0)), {"codes": _codes()}),
        ((p, q), {}),
    ]
    together = MetricSums("cpu", flush_every=flush_every)
    alone = []
    for tau, (outputs, keywords) in zip((1e-6, 0.5, 1e-6), steps, strict=True):
        together.add(loss, outputs, targets, tau, **keywords)
        alone.append(MetricSums("cpu"))
        alone[-1].add(loss, outputs, targets, tau, **keywords)
    slots = []
    for sums in alone:
        sums.read()  # counts its step
        slots.append(torch.cat([sums.sums, torch.tensor(sums.host, dtype=torch.float64)]))
    expected = metrics_module.summarise(torch.stack(slots).sum(dim=0).tolist())
    assert together.read() == pytest.approx(expected, nan_ok=True)


def test_calibration_finds_the_threshold_with_the_best_bottom_f1() -> None:
    codes = torch.tensor([S.BOTTOM, S.BOTTOM, S.FINITE, S.FINITE, S.FINITE], dtype=torch.int8)
    targets = lift_semantic_targets(torch.tensor([NAN, NAN, 1.0, 1.0, 1.0]), codes)
    q = torch.tensor([1e-3, 2e-3, 3e-3, 0.5, 1.0])
    sums = MetricSums("cpu", thresholds=torch.logspace(-6, 0, 121, dtype=torch.float64))
    sums.add(torch.tensor(0.0), (torch.ones(5), q), targets, 1e-6)
    calibration = sums.calibrate()
    assert 2e-3 < calibration.tau <= 3e-3 and calibration.f1 == 1.0
    assert calibration.reason == ""


def test_no_calibration_without_bottoms_or_when_bottom_is_the_majority() -> None:
    thresholds = torch.linspace(0.01, 0.99, 99)
    for labels, reason in (
        ([S.FINITE] * 3, "no ⊥ targets"),
        ([S.BOTTOM] * 2 + [S.FINITE], "majority"),
    ):
        codes = torch.tensor(labels, dtype=torch.int8)
        targets = lift_semantic_targets(torch.where(codes == 0, 1.0, NAN), codes)
        sums = MetricSums("cpu", thresholds=thresholds)
        sums.add(torch.tensor(0.0), (torch.ones(3), torch.full((3,), 0.3)), targets, 0.5)
        calibration = sums.calibrate()
        assert calibration.tau is None and reason in calibration.reason


def test_the_vocabulary_names_every_metric_once() -> None:
    names = [metric.name for metric in METRICS]
    assert len(names) == len(set(names)) and set(METRIC_NAMES) <= set(names)
    assert METRIC_BY_NAME["bottom_recall"].format(0.5) == "50.0%"
    assert METRIC_BY_NAME["rows"].format(3000.0) == "3,000"
    assert METRIC_BY_NAME["finite_rmse"].format(float("nan")) == "-"


@pytest.mark.parametrize("flush_every", [1, 32])
def test_sums_are_additive_and_reset(flush_every: int) -> None:
    loss, outputs, targets = _batch()
    twice = MetricSums("cpu", flush_every=flush_every)
    twice.add(loss, outputs, targets, 1e-6)
    twice.add(loss * 3, outputs, targets, 10.0)  # every output ⊥ at this threshold
    result = twice.read()
    assert result["loss"] == 1.0 and result["rows"] == 22 and result["missing"] == 2
    assert result["coverage"] == 5 / 22
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


def test_outputs_that_do_not_fit_the_targets_are_refused() -> None:
    targets = lift_semantic_targets(torch.ones(4), torch.zeros(4, dtype=torch.int8))
    with pytest.raises(ShapeError, match="the model returned dict"):
        MetricSums("cpu").add(torch.tensor(0.0), {"P": torch.ones(4)}, targets, 1e-6)
    for flush_every in (1, 64):  # shapes are checked when counted
        sums = MetricSums("cpu", flush_every=flush_every)
        with pytest.raises(ShapeError, match=r"P \(4, 2\), Q \(4, 2\) do not match targets \(4,\)"):
            sums.add(torch.tensor(0.0), (torch.ones(4, 2), torch.ones(4, 2)), targets, 1e-6)
            sums.read()


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
    assert result["rows"] == 22 and result["coverage"] == 5 / 11  # ratios unchanged
