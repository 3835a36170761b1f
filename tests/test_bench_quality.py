"""The quality benchmark's metrics on hand-made predictions: each figure means what it says."""

import math

import numpy as np
import pytest

from benchmarks._quality_data import Part
from benchmarks._quality_metrics import Prediction, best_f1_threshold, cross_calibrated, metrics
from zpml_data.status import Status


def _part(codes, values):
    codes = np.array([int(c) for c in codes], dtype=np.int8)
    return Part(np.zeros((len(codes), 1), np.float32), np.array(values, np.float32), codes)


def test_the_best_f1_threshold_separates_small_q_from_large():
    q = np.array([0.01, 0.02, 0.03, 0.5, 0.6, 0.7])
    actual = np.array([True, True, True, False, False, False])
    tau = best_f1_threshold(q, actual)
    assert 0.03 < tau < 0.5


def test_censored_figures_need_bottom_and_the_right_side_or_a_value_beyond_the_limit():
    B, A, F = Status.CENSORED_BELOW, Status.CENSORED_ABOVE, Status.FINITE
    part = _part([B, B, B, A, A, F], [2.0, 2.0, 2.0, 97.0, 97.0, 50.0])
    # rows: ⊥ below (right), ⊥ above (wrong side), finite 1.0 <= 2 (right, not ⊥),
    # finite 99 >= 97 (right), ⊥ below for an above row (wrong), finite 48.
    P = np.array([-0.1, 0.1, 1.0, 99.0, -0.2, 48.0])
    Q = np.array([0.1, 0.1, 1.0, 1.0, 0.1, 1.0])
    figures = metrics(part, Prediction(latent=P / np.maximum(Q, 1), P=P, Q=Q, tau=0.5))
    assert figures["censored_bottom_side"] == pytest.approx(1 / 5)
    assert figures["censored_any_side"] == pytest.approx(3 / 5)
    assert figures["finite_decoded"] == 1.0
    assert figures["rmse_decoded"] == pytest.approx(2.0)
    assert math.isnan(figures["c_index"])  # censored below: not a survival table


def test_domain_invalid_precision_reads_the_kind_output():
    DI, FAULT, F = Status.DOMAIN_INVALID, Status.FAULT, Status.FINITE
    part = _part([DI, DI, FAULT, F], [np.nan, np.nan, np.nan, 1.0])
    P, Q = np.ones(4), np.array([0.1, 0.1, 0.1, 1.0])
    kind = np.array([1, 2, 1, 0])  # the second DI said fault, the fault said DI
    figures = metrics(part, Prediction(latent=P, P=P, Q=Q, kind=kind, tau=0.5))
    assert figures["di_recall"] == 1.0  # both decoded ⊥
    assert figures["di_precision"] == pytest.approx(1 / 2)
    assert figures["bottom_f1"] == 1.0


def test_a_plain_regressor_has_no_bottom_figures_and_is_scored_on_its_point_prediction():
    part = _part([Status.FINITE, Status.CENSORED_ABOVE], [1.0, 5.0])
    figures = metrics(part, Prediction(latent=np.array([2.0, 6.0])))
    assert figures["rmse_latent"] == pytest.approx(1.0)
    assert figures["censored_any_side"] == 1.0
    for name in ("rmse_decoded", "censored_bottom_side", "bottom_f1", "di_recall"):
        assert math.isnan(figures[name])
    assert figures["c_index"] == 1.0


def test_calibration_is_refused_when_bottom_is_the_majority():
    part = _part([Status.CENSORED_ABOVE] * 3 + [Status.FINITE], [5.0] * 4)
    prediction = Prediction(np.ones(4), P=np.ones(4), Q=np.array([0.1, 0.2, 0.3, 0.9]))
    assert cross_calibrated(part, prediction, seed=0) is None
