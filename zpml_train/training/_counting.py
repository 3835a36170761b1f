"""The counting behind :class:`~zpml_train.training.metrics.MetricSums`: one flush's cells."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from zpml_data.lift import SemanticTargets
from zpml_data.status import Status

# The kind class of domain_invalid (and bottom) targets in a model's kind logits.
KIND_DOMAIN_INVALID = 1


class Step(NamedTuple):
    """One step's detached outputs and targets, waiting to be counted."""

    loss: Tensor
    P: Tensor
    Q: Tensor
    targets: SemanticTargets
    tau: float
    codes: Tensor
    limits: Tensor
    latent: Tensor | None
    kind: Tensor | None


class Cells:
    """One flush's cells, decoded, and the counts every metric is a ratio of."""

    def __init__(
        self,
        P: Tensor,
        Q: Tensor,
        tau: Tensor,
        Y_n: Tensor,
        finite: Tensor,
        bottom: Tensor,
        orientation: Tensor,
        codes: Tensor,
        limits: Tensor,
    ) -> None:
        self.P, self.Q, self.Y_n = P, Q, Y_n
        self.finite, self.bottom, self.codes, self.limits = finite, bottom, codes, limits
        self.orientation = orientation.to(P.dtype)
        # decode's rule: ⊥ where |Q| < tau or P, Q or P/Q is not finite (NaN counts as ⊥).
        quotient = P / torch.where(Q == 0, torch.ones_like(Q), Q)
        self.always_bottom = (
            ~torch.isfinite(P) | ~torch.isfinite(Q) | (Q == 0) | ~torch.isfinite(quotient)
        )
        self.decoded_bottom = ~(Q.abs() >= tau) | self.always_bottom
        self.quotient = quotient

    def counts(self, latent: Tensor, kind: Tensor) -> Tensor:
        """The device slots after ``loss_x_rows``, as float64 sums."""
        finite, bottom, pb = self.finite, self.bottom, self.decoded_bottom
        trained = finite | bottom
        decoded = finite & ~pb
        censored = self.orientation != 0
        on_side = pb & (torch.sign(torch.nan_to_num(self.P)) == self.orientation)
        beyond = torch.where(
            self.orientation < 0, self.quotient < self.limits, self.quotient > self.limits
        )
        domain_invalid = self.codes == Status.DOMAIN_INVALID
        predicted_di = pb & trained & (kind == KIND_DOMAIN_INVALID)
        has_latent = finite & ~torch.isnan(latent)
        masks = torch.stack(
            [
                ~trained,
                ~pb,
                finite,
                decoded,
                bottom,
                pb & trained,
                pb & bottom,
                censored,
                censored & on_side,
                censored & (on_side | (~pb & beyond)),
                domain_invalid,
                domain_invalid & pb,
                predicted_di,
                predicted_di & domain_invalid,
                has_latent,
            ]
        ).flatten(1)
        latent_error = torch.where(has_latent, latent - self.Y_n, torch.zeros_like(latent))
        error = torch.where(decoded, self.quotient - self.Y_n, torch.zeros_like(self.P))
        return torch.cat(
            [
                masks.sum(dim=1, dtype=torch.float64),
                latent_error.square().sum(dtype=torch.float64).reshape(1),
                error.square().sum(dtype=torch.float64).reshape(1),
            ]
        )


def joined(steps: list[Step], field: str, fill: float) -> Tensor:
    """One optional output of every step side by side, ``fill`` where a step had none."""
    parts = [getattr(step, field) for step in steps]
    return torch.cat(
        [
            torch.full_like(step.P, fill) if part is None else part.to(step.P.dtype)
            for step, part in zip(steps, parts, strict=True)
        ]
    )


def status_codes(targets: SemanticTargets) -> Tensor:
    """Status codes read back from lifted targets (``domain_invalid`` reads as ``bottom``)."""
    orientation, kind = targets.orientation_label, targets.bottom_kind
    codes = torch.full_like(orientation, int(Status.BOTTOM), dtype=torch.int8)
    codes = torch.where(targets.mask_finite, int(Status.FINITE), codes)
    codes = torch.where(targets.mask_untrained, int(Status.MISSING), codes)
    codes = torch.where(orientation < 0, int(Status.CENSORED_BELOW), codes)
    codes = torch.where(orientation > 0, int(Status.CENSORED_ABOVE), codes)
    return torch.where(targets.mask_bottom & (kind == 1), int(Status.FAULT), codes)
