"""SCM losses on projective outputs ``(P, Q)`` and lifted targets ``(Y_n, Y_d)``.

The four functions keep the reference package's positional signatures, so
loss code written against ``zeroproofml.losses`` moves over unchanged. Each
also takes a keyword-only ``mask``: the rows that count. Masked-out rows
(``missing`` targets) add nothing to the sum and nothing to the count, so
adding them to a batch changes neither the loss nor its gradients.

:class:`SCMTrainingLoss` combines them and follows the trainer's loss
protocol (see :mod:`zpml_train.training.trainer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import Tensor

from zpml_data.errors import ConfigError, ShapeError
from zpml_data.lift import SemanticTargets
from zpml_data.validate import require_choice, require_float
from zpml_train.model.policies import GradientPolicy, active_gradient_policy

MarginReduction = Literal["population", "conditional"]

# Component weights of SCMTrainingLoss: the reference package's defaults.
DEFAULT_LOSS_WEIGHTS: dict[str, float] = {"fit": 1.0, "margin": 0.1, "sign": 1.0, "rejection": 0.01}
# The largest loss weight. Only the weights' ratios shape training (Adam barely
# sees the loss's overall scale) and the defaults run from 0.01 to 1: a term
# weighed over 1e6 times a default one leaves the others near float32's
# resolution (about 7 digits), and a larger weight times a large loss runs out
# of float32's range (1e308 overflows every loss). Such a weight is a slip.
MAX_LOSS_WEIGHT = 1e6


def _masked_mean(values: Tensor, mask: Tensor | None) -> Tensor:
    """Mean over ``mask`` (all elements when ``None``); 0 when the mask is empty."""
    if mask is None:
        return values.mean()
    total = torch.where(mask, values, torch.zeros_like(values)).sum()
    return total / mask.sum().clamp_min(1).to(values.dtype)


def implicit_loss(
    P: Tensor,
    Q: Tensor,
    Y_n: Tensor,
    Y_d: Tensor,
    gamma: float = 1e-9,
    *,
    detach_scale: bool = False,
    mask: Tensor | None = None,
) -> Tensor:
    """Scale-invariant fit of ``(P, Q)`` to ``(Y_n, Y_d)``: the squared cross product.

    ``(P·Y_d − Q·Y_n)² / (Q²·Y_d² + P²·Y_n² + gamma)``, averaged.

    Args:
        P: Predicted numerators.
        Q: Predicted denominators.
        Y_n: Target numerators.
        Y_d: Target denominators (0 for ⊥).
        gamma: Keeps the ratio defined when both pairs are at the origin; >= 0.
        detach_scale: Stop the gradient through the normaliser.
        mask: Bool, the elements that count; ``None`` for all.

    Returns:
        A scalar tensor.

    Raises:
        ConfigError: ``gamma`` is negative or not finite.
    """
    gamma = require_float("gamma", gamma, minimum=0.0)
    error = (P * Y_d - Q * Y_n).square()
    scale = Q.square() * Y_d.square() + P.square() * Y_n.square()
    if detach_scale:
        scale = scale.detach()
    return _masked_mean(error / (scale + gamma), mask)


def margin_loss(
    Q: Tensor,
    tau_train: float = 1e-4,
    mask_finite: Tensor | None = None,
    *,
    reduction: MarginReduction = "population",
    mask: Tensor | None = None,
) -> Tensor:
    """Penalise denominators of finite targets that come within ``tau_train`` of zero.

    Args:
        Q: Predicted denominators.
        tau_train: The margin; ``relu(tau_train − |Q|)²`` is penalised.
        mask_finite: Bool, where the target is finite; ``None`` for everywhere.
        reduction: ``"population"`` averages over every counted element;
            ``"conditional"`` over the finite ones only.
        mask: Bool, the elements that count; ``None`` for all.

    Returns:
        A scalar tensor.

    Raises:
        ConfigError: A bad ``tau_train`` or ``reduction``.
    """
    tau = require_float("tau_train", tau_train, minimum=0.0)
    require_choice("reduction", reduction, ("population", "conditional"))
    penalty = torch.relu(tau - Q.abs()).square()
    if mask_finite is None:
        return _masked_mean(penalty, mask)
    finite = mask_finite.to(torch.bool).expand_as(Q)
    if mask is not None:
        finite = finite & mask
    penalty = torch.where(finite, penalty, torch.zeros_like(penalty))
    return _masked_mean(penalty, finite if reduction == "conditional" else mask)


def sign_consistency_loss(
    P: Tensor,
    Q: Tensor,
    Y_n: Tensor,
    Y_d: Tensor,
    gamma: float = 1e-9,
    mask_singular: Tensor | None = None,
    epsilon_sing: float = 1e-3,
    *,
    mask: Tensor | None = None,
) -> Tensor:
    """``1 − cos`` between ``(P, Q)`` and ``(Y_n, Y_d)`` on singular targets.

    It teaches the side of a bottom: a target ``(−1, 0)`` (censored below)
    wants ``P < 0``, ``(1, 0)`` wants ``P > 0``.

    Args:
        P: Predicted numerators.
        Q: Predicted denominators.
        Y_n: Target numerators.
        Y_d: Target denominators.
        gamma: Added under each norm's square root; >= 0.
        mask_singular: Bool, where the term applies; ``None`` for ``|Y_d| <= epsilon_sing``.
        epsilon_sing: The singular band when ``mask_singular`` is ``None``; >= 0.
        mask: Bool, the elements that count; ``None`` for all.

    Returns:
        A scalar tensor: the average over counted elements, 0 off the singular ones.

    Raises:
        ConfigError: A negative or non-finite ``gamma`` or ``epsilon_sing``.
    """
    gamma = require_float("gamma", gamma, minimum=0.0)
    epsilon = require_float("epsilon_sing", epsilon_sing, minimum=0.0)
    if mask_singular is None:
        mask_singular = Y_d.abs() <= epsilon  # False for NaN
    singular = mask_singular.to(torch.bool)
    if mask is not None:
        singular = singular & mask
    # Neutral values off the singular set keep the norms away from 0/0.
    p = torch.where(singular, P, torch.zeros_like(P))
    q = torch.where(singular, Q, torch.ones_like(Q))
    y_n = torch.where(singular, Y_n, torch.zeros_like(Y_n))
    y_d = torch.where(singular, Y_d, torch.ones_like(Y_d))
    cosine = (p * y_n + q * y_d) / (_norm(p, q, gamma) * _norm(y_n, y_d, gamma))
    loss = 1.0 - cosine.clamp(-1.0, 1.0)
    return _masked_mean(torch.where(singular, loss, torch.zeros_like(loss)), mask)


def _norm(a: Tensor, b: Tensor, gamma: float) -> Tensor:
    """``sqrt(a² + b² + gamma)``, computed on values divided by the larger magnitude.

    Squaring large float32 values overflows; dividing by ``max(|a|, |b|)``
    first keeps the squares near 1.
    """
    big = torch.maximum(a.abs(), b.abs())
    big = torch.where(big == 0, torch.ones_like(big), big)
    return big * torch.sqrt((a / big).square() + (b / big).square() + gamma / big.square())


def rejection_loss(
    is_bottom: Tensor,
    target_coverage: float = 0.95,
    *,
    policy: GradientPolicy | None = None,
    mask: Tensor | None = None,
) -> Tensor:
    """``relu(target_coverage − coverage)²`` on a hard bottom mask (no gradient).

    Args:
        is_bottom: Bool, where an output is ⊥.
        target_coverage: The coverage below which the penalty starts, in ``[0, 1]``.
        policy: ``REJECT`` makes the penalty 0; ``None`` takes the active policy.
        mask: Bool, the elements that count; ``None`` for all.

    Returns:
        A scalar tensor.

    Raises:
        ConfigError: ``target_coverage`` outside ``[0, 1]``.
    """
    target = require_float("target_coverage", target_coverage, minimum=0.0, maximum=1.0)
    if policy is None:
        active = active_gradient_policy()
        policy = None if active is None else active.policy
    bottom = is_bottom.detach().to(torch.float32)
    if policy is GradientPolicy.REJECT:
        return torch.zeros((), device=is_bottom.device)
    coverage = 1.0 - _masked_mean(bottom, mask)
    return torch.relu(target - coverage).square()


def projective_outputs(outputs: Any, like: Tensor) -> tuple[Tensor, Tensor]:
    """``(P, Q)`` from a model's outputs, shaped like the target ``like``.

    A tuple or list gives its first two entries; a single tensor is taken as
    decoded values (``Q = 1``, NaN/inf are ⊥). A trailing output axis of 1 is
    dropped for ``[B]`` targets.

    Raises:
        ShapeError: The outputs cannot be matched to the targets' shape.
    """
    if isinstance(outputs, (tuple, list)) and len(outputs) >= 2:
        P, Q = outputs[0], outputs[1]
    elif isinstance(outputs, Tensor):
        P, Q = outputs, torch.ones_like(outputs)
    else:
        raise ShapeError(
            f"the model returned {type(outputs).__name__}; a projective model returns (P, Q)"
        )
    if P.dim() == like.dim() + 1 and P.shape[-1] == 1:
        P, Q = P.squeeze(-1), Q.squeeze(-1)
    if P.shape != like.shape or Q.shape != like.shape:
        raise ShapeError(
            f"model outputs P {tuple(P.shape)}, Q {tuple(Q.shape)} do not match targets "
            f"{tuple(like.shape)}; size the head's output_dim to the number of targets"
        )
    return P, Q


class SCMTrainingLoss:
    """The SCM objective: implicit fit + margin + sign consistency + rejection.

    ``total = w_fit·implicit + w_margin·margin + w_sign·sign + w_rejection·rejection``

    ``missing`` rows are masked out of every term (when ``semantic_targets``
    is given, as the trainer does); the margin applies to finite targets and
    the sign term to bottom targets. The weights come from ``loss_weights``
    here, overridden per call by the trainer's ``loss_weights`` (config or
    curriculum).

    Args:
        loss_weights: Weights for any of ``fit``, ``margin``, ``sign``,
            ``rejection``; the rest keep :data:`DEFAULT_LOSS_WEIGHTS`.
        gamma: Passed to the implicit and sign terms.
        target_coverage: The rejection term's coverage target.

    Raises:
        ConfigError: An unknown or negative weight, or a bad ``gamma``/``target_coverage``.
    """

    def __init__(
        self,
        loss_weights: Mapping[str, float] | None = None,
        *,
        gamma: float = 1e-9,
        target_coverage: float = 0.95,
    ) -> None:
        self.gamma = require_float("gamma", gamma, minimum=0.0)
        self.target_coverage = require_float(
            "target_coverage", target_coverage, minimum=0.0, maximum=1.0
        )
        self.loss_weights = merge_loss_weights(DEFAULT_LOSS_WEIGHTS, loss_weights)
        self.last_components: dict[str, Tensor] = {}

    def __call__(
        self,
        outputs: Any,
        targets: tuple[Tensor, Tensor],
        *,
        semantic_targets: SemanticTargets | None = None,
        tau: float = 1e-4,
        loss_weights: Mapping[str, float] | None = None,
    ) -> Tensor:
        """The weighted total; the detached terms are kept in ``last_components``.

        Args:
            outputs: The model's ``(P, Q)``.
            targets: ``(Y_n, Y_d)``.
            semantic_targets: Masks; without them every row counts, finite
                where ``Y_d != 0`` and singular where ``Y_d == 0``.
            tau: This step's threshold: the margin and the bottom test for
                the rejection term.
            loss_weights: Per-call weights over this loss's own.

        Returns:
            A scalar tensor.
        """
        Y_n, Y_d = targets
        P, Q = projective_outputs(outputs, Y_n)
        weights = (
            self.loss_weights
            if loss_weights is None
            else merge_loss_weights(self.loss_weights, loss_weights)
        )
        if semantic_targets is None:
            trained, finite, singular = None, Y_d != 0, Y_d == 0
        else:
            finite, singular = semantic_targets.mask_finite, semantic_targets.mask_bottom
            trained = finite | singular
        terms = {
            "fit": implicit_loss(P, Q, Y_n, Y_d, self.gamma, mask=trained),
            "margin": margin_loss(Q, tau, finite, mask=trained),
            "sign": sign_consistency_loss(P, Q, Y_n, Y_d, self.gamma, singular, mask=trained),
            "rejection": rejection_loss(~(Q.abs() >= tau), self.target_coverage, mask=trained),
        }
        total = weights["fit"] * terms["fit"]
        for name in ("margin", "sign", "rejection"):
            total = total + weights[name] * terms[name]
        self.last_components = {name: term.detach() for name, term in terms.items()}
        return total


def merge_loss_weights(
    base: Mapping[str, float],
    override: Mapping[str, float] | None,
    terms: Mapping[str, float] = DEFAULT_LOSS_WEIGHTS,
    loss: str = "SCMTrainingLoss",
) -> dict[str, float]:
    """``base`` with ``override``'s weights over it; unknown terms and negative weights refused.

    Args:
        base: The weights to start from.
        override: Weights by term name, or ``None``.
        terms: The terms the loss knows (its default weights).
        loss: The loss's name, for messages.

    Raises:
        ConfigError: An unknown term or a weight that :func:`require_loss_weight` refuses.
    """
    merged = dict(base)
    for name, weight in (override or {}).items():
        if name not in terms:
            raise ConfigError(
                f"loss_weights has unknown term {name!r}; {loss} weighs "
                f"{', '.join(map(repr, terms))}"
            )
        merged[name] = require_loss_weight(name, weight)
    return merged


def require_loss_weight(name: str, weight: Any) -> float:
    """``weight`` for the term ``name`` as a float in ``[0, MAX_LOSS_WEIGHT]``.

    Raises:
        ConfigError: Not a finite number, below 0, or above :data:`MAX_LOSS_WEIGHT`.
    """
    label = f"loss_weights[{name!r}]"
    checked = require_float(label, weight, minimum=0.0)
    if checked > MAX_LOSS_WEIGHT:
        raise ConfigError(
            f"{label} = {weight!r} is above {MAX_LOSS_WEIGHT:g}, the largest loss weight: "
            "the weights only set the terms against each other (the defaults are 0.01 to 1) "
            f"and a larger one overflows float32 or drowns the other terms; lower it to "
            f"{MAX_LOSS_WEIGHT:g} or less, scaling the other weights by the same factor"
        )
    return checked
