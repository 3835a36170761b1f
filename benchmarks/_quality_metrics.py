"""The quality benchmark's metrics, as ``shared`` TRAINING-QUALITY defines them, and calibration.

A method's validation output is a :class:`Prediction`: a point value for
every row (the latent value, or a regressor's prediction) and, for a
projective model, ``(P, Q)`` and the kind class, decoded here at a threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from benchmarks._quality_data import Part
from zpml_data.status import BOTTOM_STATUSES, Status

KIND_DOMAIN_INVALID_OR_BOTTOM = 1  # index in zpml_train.model.gated.KIND_CLASSES
_BOTTOM_CODES = np.array(sorted(int(s) for s in BOTTOM_STATUSES))


@dataclass(frozen=True)
class Prediction:
    """One method's output on the validation rows.

    Attributes:
        latent: ``[N]`` point prediction on every row.
        P, Q: ``[N]`` projective outputs (``None`` for a plain regressor).
        kind: ``[N]`` argmax of the kind logits (``None`` without a kind output).
        tau: The threshold the projective outputs are decoded at.
    """

    latent: np.ndarray
    P: np.ndarray | None = None
    Q: np.ndarray | None = None
    kind: np.ndarray | None = None
    tau: float = 0.5

    @property
    def bottom(self) -> np.ndarray:
        """Decoded ⊥: ``|Q| < tau`` or a non-finite pair (never, without ``Q``)."""
        if self.P is None or self.Q is None:
            return np.zeros(len(self.latent), dtype=bool)
        with np.errstate(invalid="ignore"):
            return ~(np.abs(self.Q) >= self.tau) | ~np.isfinite(self.P)

    @property
    def decoded(self) -> np.ndarray:
        """``P / Q`` where finite, NaN where ⊥ (the latent without ``Q``)."""
        if self.P is None or self.Q is None:
            return self.latent
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.bottom, np.nan, self.P / np.where(self.Q == 0, 1.0, self.Q))


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else math.nan


def _rmse(error: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(error)))) if len(error) else math.nan


def _right_side(values: np.ndarray, limit: np.ndarray, codes: np.ndarray) -> np.ndarray:
    below = codes == Status.CENSORED_BELOW
    with np.errstate(invalid="ignore"):
        return np.where(below, values <= limit, values >= limit)


def metrics(part: Part, pred: Prediction) -> dict[str, float]:
    """Every figure of the table for one method on one split's validation rows."""
    finite = part.rows(Status.FINITE)
    censored = part.rows(Status.CENSORED_BELOW) | part.rows(Status.CENSORED_ABOVE)
    trained = ~part.rows(Status.MISSING)
    true_bottom = np.isin(part.codes, _BOTTOM_CODES)
    bottom, decoded = pred.bottom, pred.decoded
    orientation = np.where(part.rows(Status.CENSORED_BELOW), -1, 1)
    side = np.sign(np.nan_to_num(pred.P if pred.P is not None else pred.latent))
    bottom_side = bottom & (side == orientation)
    point = np.where(bottom, pred.latent, decoded)  # a finite guess where one decodes
    finite_side = ~bottom & _right_side(point, part.values, part.codes)
    shown = finite & ~bottom
    out = {
        "rmse_latent": _rmse(pred.latent[finite] - part.values[finite]),
        "rmse_decoded": _rmse(decoded[shown] - part.values[shown]),
        "finite_decoded": _ratio(shown.sum(), finite.sum()),
        "censored_bottom_side": _ratio((bottom_side & censored).sum(), censored.sum()),
        "censored_any_side": _ratio(((bottom_side | finite_side) & censored).sum(), censored.sum()),
    }
    out.update(_bottom_figures(part, pred, bottom & trained, true_bottom & trained))
    out["c_index"] = c_index(part, pred.latent)
    if pred.P is None:  # a plain regressor decodes nothing as ⊥
        for name in (
            "rmse_decoded",
            "censored_bottom_side",
            "bottom_precision",
            "bottom_recall",
            "bottom_f1",
            "di_recall",
        ):
            out[name] = math.nan
    return out


def _bottom_figures(
    part: Part, pred: Prediction, predicted: np.ndarray, actual: np.ndarray
) -> dict[str, float]:
    hits = (predicted & actual).sum()
    precision, recall = _ratio(hits, predicted.sum()), _ratio(hits, actual.sum())
    invalid = part.rows(Status.DOMAIN_INVALID)
    said_invalid = (
        predicted & (pred.kind == KIND_DOMAIN_INVALID_OR_BOTTOM)
        if pred.kind is not None
        else np.zeros_like(predicted)
    )
    return {
        "bottom_precision": precision,
        "bottom_recall": recall,
        "bottom_f1": _ratio(2 * hits, predicted.sum() + actual.sum()),
        "di_recall": _ratio((predicted & invalid).sum(), invalid.sum()),
        "di_precision": _ratio((said_invalid & invalid).sum(), said_invalid.sum())
        if pred.kind is not None
        else math.nan,
    }


def c_index(part: Part, latent: np.ndarray) -> float:
    """Harrell's C of the point prediction on finite (event) and censored_above rows."""
    rows = part.rows(Status.FINITE) | part.rows(Status.CENSORED_ABOVE)
    if not part.rows(Status.CENSORED_ABOVE).any() or part.rows(Status.CENSORED_BELOW).any():
        return math.nan  # a survival figure: right-censored data only
    from lifelines.utils import concordance_index

    return float(
        concordance_index(part.values[rows], latent[rows], part.codes[rows] == Status.FINITE)
    )


def best_f1_threshold(q_abs: np.ndarray, actual: np.ndarray) -> float:
    """The threshold on ``|Q|`` that maximises ⊥ F1 (⊥ iff ``|Q| < tau``)."""
    order = np.argsort(q_abs, kind="stable")
    sorted_q, hits = q_abs[order], np.cumsum(actual[order])
    predicted = np.arange(1, len(order) + 1)
    f1 = 2 * hits / (predicted + actual.sum())
    k = int(np.argmax(f1))  # rows 0..k decode ⊥
    upper = sorted_q[k + 1] if k + 1 < len(sorted_q) else sorted_q[k] * 2 + 1e-12
    return float(0.5 * (sorted_q[k] + upper))


def cross_calibrated(part: Part, pred: Prediction, seed: int) -> tuple[Prediction, float] | None:
    """Decode each half of the rows at the threshold the other half chose by ⊥ F1.

    ``None`` when ⊥ is the majority of the trained rows (F1 would then call
    most rows ⊥) or when there is no ⊥ to calibrate on. The returned
    prediction carries the per-row threshold folded into ``Q`` (``Q / tau``
    decoded at 1), so :func:`metrics` reads it as usual; the float is the
    mean of the two thresholds.
    """
    assert pred.P is not None and pred.Q is not None
    trained = ~part.rows(Status.MISSING)
    actual = np.isin(part.codes, _BOTTOM_CODES)
    if not actual[trained].any() or actual[trained].mean() > 0.5:
        return None
    half = np.random.default_rng(seed).permutation(len(actual)) % 2 == 0
    tau = np.empty(len(actual))
    for chosen, applied in ((half, ~half), (~half, half)):
        rows = chosen & trained
        tau[applied] = best_f1_threshold(np.abs(pred.Q[rows]), actual[rows])
    return replace(pred, P=pred.P / tau, Q=pred.Q / tau, tau=1.0), float(np.mean(np.unique(tau)))
