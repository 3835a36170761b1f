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

from zpml_data.errors import ConfigError, ShapeError, UsageError
from zpml_data.lift import SemanticTargets
from zpml_data.validate import require_float
from zpml_train.model.gated import KIND_CLASSES, GatedOutputs

# Weights of the four terms; each is a likelihood of its own part, so 1 each.
DEFAULT_GATED_WEIGHTS: dict[str, float] = {"value": 1.0, "gate": 1.0, "side": 1.0, "kind": 1.0}


class GatedLoss:
    """Tobit + gate + side + kind, over the non-missing cells of a batch.

    Args:
        loss_weights: Weights for any of ``value``, ``gate``, ``side``,
            ``kind``; the rest keep :data:`DEFAULT_GATED_WEIGHTS`.

    Attributes:
        last_components: The detached terms of the last call.

    Raises:
        ConfigError: An unknown or negative weight.
    """

    def __init__(self, loss_weights: Mapping[str, float] | None = None) -> None:
        self.loss_weights = _merge_weights(loss_weights)
        self.last_components: dict[str, Tensor] = {}

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
        shape = out.P.shape
        cells = _Cells.of(semantic_targets, targets[0], values, shape)
        terms = {
            "value": _value_term(out, cells),
            "gate": _gate_term(out, cells),
            "side": _side_term(out, cells),
            "kind": _kind_term(out, cells),
        }
        count = cells.trained.sum().clamp_min(1).to(torch.float32)
        total = torch.zeros((), device=out.P.device)
        for name, per_cell in terms.items():
            term = per_cell.sum() / count
            self.last_components[name] = term.detach()
            total = total + self.loss_weights[name] * term
        return total


class _Cells:
    """The per-cell targets of one batch, shaped like the outputs ``[B, T]``."""

    def __init__(self, **fields: Tensor) -> None:
        self.trained: Tensor = fields["trained"]
        self.finite: Tensor = fields["finite"]
        self.bottom: Tensor = fields["bottom"]
        self.orientation: Tensor = fields["orientation"]
        self.kind: Tensor = fields["kind"]
        self.value: Tensor = fields["value"]

    @classmethod
    def of(
        cls, targets: SemanticTargets, Y_n: Tensor, values: Tensor | None, shape: torch.Size
    ) -> _Cells:
        def cells(field: Tensor, name: str) -> Tensor:
            if field.numel() != shape.numel():
                raise ShapeError(
                    f"{name} holds {field.numel()} cells but the gated head emits "
                    f"{tuple(shape)}; size the head's output_dim to the number of targets"
                )
            return field.reshape(shape)

        finite = cells(targets.mask_finite, "mask_finite").to(torch.bool)
        bottom = cells(targets.mask_bottom, "mask_bottom").to(torch.bool)
        orientation = cells(targets.orientation_label, "orientation_label")
        fault = cells(targets.bottom_kind, "bottom_kind") == 1
        kind = torch.where(
            orientation != 0,
            KIND_CLASSES.index("censored"),
            torch.where(
                fault, KIND_CLASSES.index("fault"), KIND_CLASSES.index("domain_invalid_or_bottom")
            ),
        )
        value = cells(Y_n, "Y_n").to(torch.float32)
        if values is not None:
            limit = cells(values, "values").to(torch.float32)
            value = torch.where(orientation != 0, limit, value)
        else:
            value = torch.where(orientation != 0, torch.full_like(value, float("nan")), value)
        return cls(
            trained=finite | bottom,
            finite=finite,
            bottom=bottom,
            orientation=orientation,
            kind=kind,
            value=value,
        )


def _value_term(out: GatedOutputs, cells: _Cells) -> Tensor:
    latent = out.latent.float()
    log_sigma = out.log_sigma.float()
    sigma = log_sigma.exp()
    usable = torch.isfinite(cells.value)
    value = torch.where(usable, cells.value, latent.detach())
    residual = (value - latent) / sigma
    gaussian = 0.5 * residual.square() + log_sigma
    # Below the limit: P(μ + σε < v) = Φ((v − μ)/σ); above it: Φ((μ − v)/σ).
    censored = -torch.special.log_ndtr(residual * -cells.orientation.to(residual.dtype))
    finite = cells.finite & usable
    is_censored = cells.bottom & (cells.orientation != 0) & usable
    zero = torch.zeros_like(latent)
    return torch.where(finite, gaussian, torch.where(is_censored, censored, zero))


def _gate_term(out: GatedOutputs, cells: _Cells) -> Tensor:
    logit = out.gate_logit.float()
    target = cells.finite.to(logit.dtype)
    loss = F.binary_cross_entropy_with_logits(logit, target, reduction="none")
    return torch.where(cells.trained, loss, torch.zeros_like(loss))


def _side_term(out: GatedOutputs, cells: _Cells) -> Tensor:
    logit = out.side_logit.float()
    # -1 below -> 0, +1 above -> 1, no side -> ½.
    target = (cells.orientation.to(logit.dtype) + 1.0) * 0.5
    loss = F.binary_cross_entropy_with_logits(logit, target, reduction="none")
    return torch.where(cells.bottom, loss, torch.zeros_like(loss))


def _kind_term(out: GatedOutputs, cells: _Cells) -> Tensor:
    logits = out.kind_logits.float()
    loss = F.cross_entropy(logits.flatten(0, -2), cells.kind.flatten(), reduction="none")
    loss = loss.reshape(cells.kind.shape)
    return torch.where(cells.bottom, loss, torch.zeros_like(loss))


def _gated_outputs(outputs: Any) -> GatedOutputs:
    if isinstance(outputs, GatedOutputs):
        return outputs
    if isinstance(outputs, (tuple, list)) and len(outputs) == len(GatedOutputs._fields):
        return GatedOutputs(*outputs)
    raise UsageError(
        f"GatedLoss needs a gated head's outputs, got {type(outputs).__name__}; build the "
        "model with ProjectiveMLP(..., head='gated'), or use SCMTrainingLoss for (P, Q)"
    )


def _merge_weights(override: Mapping[str, float] | None) -> dict[str, float]:
    merged = dict(DEFAULT_GATED_WEIGHTS)
    for name, weight in (override or {}).items():
        if name not in DEFAULT_GATED_WEIGHTS:
            raise ConfigError(
                f"loss_weights has unknown term {name!r}; GatedLoss weighs "
                f"{', '.join(map(repr, DEFAULT_GATED_WEIGHTS))}"
            )
        merged[name] = require_float(f"loss_weights[{name!r}]", weight, minimum=0.0)
    return merged
