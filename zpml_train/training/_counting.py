"""The counting behind :class:`~zpml_train.training.metrics.MetricSums`: one flush's cells."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from zpml_data.lift import SemanticTargets
from zpml_data.status import Status
from zpml_train.model.losses import projective_outputs

# The kind class of domain_invalid (and bottom) targets in a model's kind logits.
KIND_DOMAIN_INVALID = 1


class Step(NamedTuple):
    """One step's loss, outputs and targets, waiting to be counted.

    ``P`` and ``Q`` are detached, as the model returned them: the flush shapes
    them (:func:`shaped_outputs`).
    """

    loss: Tensor
    P: Tensor
    Q: Tensor
    targets: SemanticTargets
    tau: float
    values: Tensor | None
    codes: Tensor | None
    latent: Tensor | None
    kind_logits: Tensor | None


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
        # 0·P and 0·Q are NaN where P or Q is not finite, else 0: one test covers all three.
        zero = Q == 0
        quotient = P / torch.where(zero, 1.0, Q)
        self.always_bottom = ~torch.isfinite(quotient + 0 * P + 0 * Q) | zero
        self.decoded_bottom = ~(Q.abs() >= tau) | self.always_bottom
        self.quotient = quotient

    def counts(self, latent: Tensor | None, kind: Tensor | None) -> Tensor:
        """The device slots after ``loss_x_rows``, as float64 sums.

        Args:
            latent: The latent value of every cell (NaN where none); ``None``
                when no step had one.
            kind: The kind class of every cell; ``None`` when no step had one.
        """
        finite, bottom, pb = self.finite, self.bottom, self.decoded_bottom
        trained, covered = finite | bottom, ~pb
        decoded = finite & covered
        censored = self.orientation != 0
        on_side = pb & (torch.sign(self.P) == self.orientation)  # sign(NaN) is no side
        beyond = torch.where(
            self.orientation < 0, self.quotient < self.limits, self.quotient > self.limits
        )
        domain_invalid = self.codes == Status.DOMAIN_INVALID
        none = torch.zeros_like(finite)
        predicted_di = none if kind is None else pb & trained & (kind == KIND_DOMAIN_INVALID)
        has_latent = none if latent is None else finite & ~torch.isnan(latent)
        masks = torch.stack(
            [
                ~trained,
                covered,
                finite,
                decoded,
                bottom,
                pb & trained,
                pb & bottom,
                censored,
                censored & on_side,
                censored & (on_side | (covered & beyond)),
                domain_invalid,
                domain_invalid & pb,
                predicted_di,
                predicted_di & domain_invalid,
                has_latent,
            ]
        ).flatten(1)
        squares = torch.where(decoded, self.quotient - self.Y_n, 0.0).square()
        latent_squares = (
            squares.new_zeros(())
            if latent is None
            else torch.where(has_latent, latent - self.Y_n, 0.0).square()
        )
        return torch.cat(
            [
                # Counted in integers: a float64 sum would first copy every mask to float64.
                masks.sum(dim=1).to(torch.float64),
                latent_squares.sum(dtype=torch.float64).reshape(1),
                squares.sum(dtype=torch.float64).reshape(1),
            ]
        )


def shaped_outputs(steps: Sequence[Step], Y_n: Tensor) -> tuple[Tensor, Tensor]:
    """The steps' ``P`` and ``Q`` side by side, shaped like their joined targets ``Y_n``.

    Outputs alike from step to step (the usual case) are joined first and
    checked and shaped once, by :func:`~zpml_train.model.losses.projective_outputs`;
    others step by step.

    Raises:
        ShapeError: The outputs do not match the targets' shape.
    """
    trailing = steps[0].P.shape[1:]
    if all(s.P.shape[0] == s.targets.Y_n.shape[0] and s.P.shape[1:] == trailing for s in steps):
        pair = (torch.cat([s.P for s in steps]), torch.cat([s.Q for s in steps]))
        return projective_outputs(pair, Y_n)
    pairs = [projective_outputs((s.P, s.Q), s.targets.Y_n) for s in steps]
    return torch.cat([P for P, _ in pairs]), torch.cat([Q for _, Q in pairs])


def joined(
    parts: Sequence[Tensor | None], steps: Sequence[Step], fill: float, like: Tensor
) -> Tensor | None:
    """Per-step tensors side by side on ``like``'s device, shaped like ``like`` (the joined ``P``).

    Each step's part holds one value per cell of its ``P``; ``fill`` where a
    step had none; ``None`` when no step had one. Joined first and shaped
    once, so a flush costs a few kernels, not a few per step.
    """
    present = [part for part in parts if part is not None]
    if not present:
        return None
    if len(present) < len(parts):
        present = [
            (torch.full_like(step.P, fill) if part is None else part.to(like.device)).flatten()
            for step, part in zip(steps, parts, strict=True)
        ]
    return torch.cat(present).to(like.device, non_blocking=True).reshape(like.shape)


def status_codes(targets: SemanticTargets) -> Tensor:
    """Status codes read back from lifted targets (``domain_invalid`` reads as ``bottom``)."""
    orientation, kind = targets.orientation_label, targets.bottom_kind
    codes = torch.full_like(orientation, int(Status.BOTTOM), dtype=torch.int8)
    codes = torch.where(targets.mask_finite, int(Status.FINITE), codes)
    codes = torch.where(targets.mask_untrained, int(Status.MISSING), codes)
    codes = torch.where(orientation < 0, int(Status.CENSORED_BELOW), codes)
    codes = torch.where(orientation > 0, int(Status.CENSORED_ABOVE), codes)
    return torch.where(targets.mask_bottom & (kind == 1), int(Status.FAULT), codes)
