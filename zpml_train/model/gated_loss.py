"""The gated head's loss: a Tobit likelihood on the latent value, plus gate, side and kind.

Per trained target cell (``missing`` cells never count), with the latent
``μ``, its noise scale ``σ`` (both in value units, from
:class:`~zpml_train.model.gated.GatedOutputs`) and the stored value ``v``
(the limit, on censored rows):

* ``value``: finite ``½((v − μ)/σ)² + log σ``; censored_below
  ``−log Φ((v − μ)/σ)``; censored_above ``−log Φ((μ − v)/σ)``: the latent
  is pushed to the right side of the limit, not to the limit itself.
* ``gate``: binary cross-entropy of the gate logit, 1 on finite cells, 0 on
  every ⊥ cell (censored, domain_invalid, bottom, fault).
* ``side``: binary cross-entropy of the side logit on ⊥ cells: 0 below,
  1 above, ½ for ⊥ without a side.
* ``kind``: cross-entropy of the kind logits on ⊥ cells (censored |
  domain_invalid or bottom | fault).

The total is the weighted sum, each term summed over the trained cells and
divided by their count. It follows the trainer's loss protocol: it takes
``semantic_targets`` (so ``missing`` rows are allowed) and ``values``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from zpml_data.errors import ShapeError, UsageError
from zpml_data.lift import SemanticTargets
from zpml_train.model.gated import KIND_CLASSES, GatedOutputs
from zpml_train.model.losses import merge_loss_weights

assert KIND_CLASSES == ("censored", "domain_invalid_or_bottom", "fault")

# Weights of the four terms; each is a likelihood of its own part, so 1 each.
DEFAULT_GATED_WEIGHTS: dict[str, float] = {"value": 1.0, "gate": 1.0, "side": 1.0, "kind": 1.0}


class GatedLoss:
    """Tobit + gate + side + kind, over the non-missing cells of a batch.

    Args:
        loss_weights: Weights for any of ``value``, ``gate``, ``side``,
            ``kind``; the rest keep :data:`DEFAULT_GATED_WEIGHTS`.


    Raises:
        ConfigError: An unknown or negative weight.
    """

    def __init__(self, loss_weights: Mapping[str, float] | None = None) -> None:
        self.loss_weights = merge_loss_weights(
            DEFAULT_GATED_WEIGHTS, loss_weights, DEFAULT_GATED_WEIGHTS, "GatedLoss"
        )
        self._weights = torch.tensor([self.loss_weights[name] for name in DEFAULT_GATED_WEIGHTS])
        self._last: Tensor | None = None

    def __call__(
        self,
        outputs: Any,
        targets: tuple[Tensor, Tensor],
        *,
        semantic_targets: SemanticTargets | None = None,
        values: Tensor | None = None,
    ) -> Tensor:
        """The weighted total; the detached terms are kept in ``last_components``.

        Args:
            outputs: A :class:`~zpml_train.model.gated.GatedOutputs`.
            targets: ``(Y_n, Y_d)``; ``Y_n`` is the value on finite cells.
            semantic_targets: The batch's masks, orientation and kind (required).
            values: The batch's stored values: the limit on censored cells.
                Without them (or where a limit is not finite) censored cells
                train the gate, side and kind but not the latent.

        Returns:
            A scalar tensor.

        Raises:
            UsageError: ``outputs`` is not a gated head's, or ``semantic_targets`` is missing.
            ShapeError: Targets and outputs hold different numbers of cells.
        """
        out = _gated_outputs(outputs)
        if semantic_targets is None:
            raise UsageError(
                "GatedLoss needs semantic_targets (the status masks); call it as the "
                "trainer does: loss(outputs, (Y_n, Y_d), semantic_targets=..., values=...)"
            )
        finite, bottom, orientation, kind, value = _cells(
            semantic_targets, targets[0], values, out.P.shape
        )
        latent, log_sigma = out.latent.float(), out.log_sigma.float()
        usable = torch.isfinite(value)
        residual = (torch.where(usable, value, latent.detach()) - latent) * torch.exp(-log_sigma)
        side_target = orientation.to(residual.dtype)
        # value, the Tobit likelihood of the latent: Gaussian on finite cells; below a
        # limit v, P(μ + σε < v) = Φ((v − μ)/σ); above it, Φ((μ − v)/σ).
        censored = bottom * ((orientation != 0) & usable)
        value_term = finite * (0.5 * residual.square() + log_sigma) - censored * (
            torch.special.log_ndtr(-side_target * residual)
        )
        # Binary cross-entropy with logits x and target t is softplus(x) − t·x.
        # gate: finite -> 1, every ⊥ -> 0; side: below -> 0, above -> 1, no side -> ½.
        gate_logit, side_logit = out.gate_logit.float(), out.side_logit.float()
        gate_term = F.softplus(gate_logit) - finite * gate_logit
        side_term = F.softplus(side_logit) - (side_target + 1.0) * 0.5 * side_logit
        kind_logits = out.kind_logits.float()
        kind_term = kind_logits.logsumexp(-1) - kind_logits.gather(-1, kind.unsqueeze(-1))[..., 0]
        per_cell = torch.stack(
            (value_term, (finite + bottom) * gate_term, bottom * side_term, bottom * kind_term)
        )
        sums = per_cell.flatten(1).sum(1) / (finite + bottom).sum().clamp_min(1.0)
        self._last = sums.detach()
        return (sums * self._weights.to(sums.device)).sum()

    @property
    def last_components(self) -> dict[str, Tensor]:
        """The detached terms of the last call, by name (empty before the first)."""
        if self._last is None:
            return {}
        return dict(zip(DEFAULT_GATED_WEIGHTS, self._last.unbind(), strict=True))


def _cells(
    targets: SemanticTargets, Y_n: Tensor, values: Tensor | None, shape: torch.Size
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Per-cell finite and bottom masks (float), orientation, kind class and value, ``[B, T]``.

    The value is ``Y_n`` on finite cells and the stored limit on censored ones
    (NaN without ``values``).
    """

    def cells(field: Tensor, name: str) -> Tensor:
        if field.numel() != shape.numel():
            raise ShapeError(
                f"{name} holds {field.numel()} cells but the gated head emits "
                f"{tuple(shape)}; size the head's output_dim to the number of targets"
            )
        return field.reshape(shape)

    finite = cells(targets.mask_finite, "mask_finite").to(torch.float32)
    bottom = cells(targets.mask_bottom, "mask_bottom").to(torch.float32)
    orientation = cells(targets.orientation_label, "orientation_label")
    fault = (cells(targets.bottom_kind, "bottom_kind") == 1).long()
    # censored | domain_invalid or bottom | fault, the order of KIND_CLASSES.
    kind = torch.where(orientation != 0, 0, 1 + fault)
    value = cells(Y_n, "Y_n").to(torch.float32)
    limit = (
        torch.full_like(value, float("nan"))
        if values is None
        else cells(values, "values").to(torch.float32)
    )
    return finite, bottom, orientation, kind, torch.where(orientation != 0, limit, value)


def _gated_outputs(outputs: Any) -> GatedOutputs:
    if isinstance(outputs, GatedOutputs):
        return outputs
    if isinstance(outputs, (tuple, list)) and len(outputs) == len(GatedOutputs._fields):
        return GatedOutputs(*outputs)
    raise UsageError(
        f"GatedLoss needs a gated head's outputs, got {type(outputs).__name__}; build the "
        "model with ProjectiveMLP(..., head='gated'), or use SCMTrainingLoss for (P, Q)"
    )
