"""The gated projective head: a latent value, a finiteness gate, a side and a kind per target.

The rational head reaches ⊥ only where an affine ``Q`` crosses zero, and its
loss is blind to the side of a ⊥ target; on censored data it learns neither
the values nor the sides. The gated head separates what is predicted:

* ``ŷ``: the latent value, in standardised units (the finite training
  values' mean ``m`` and standard deviation ``d`` set the units);
* ``g = sigmoid(a)``: the finiteness gate, the probability that the target
  is finite;
* ``s = tanh(b)``: the side of a ⊥ (−1 below, +1 above);
* kind logits over (censored, domain_invalid or bottom, fault).

It emits ``Q = g`` and ``P = d·(g·ŷ + (1 − g)^k·s) + m·g``, so decoding
stays the SCM decode: ⊥ iff ``|Q| < tau_infer`` with side ``sign(P)``, and
``P / Q = d·ŷ + m + d·s·(1 − g)^k / g`` elsewhere, which tends to the latent
value as the gate opens. ``tau_infer`` is then a probability threshold:
anything in ``(0, 1)`` can decode ⊥, 0.5 is the natural default.

The head owns the learned noise scale of the latent (one ``log σ`` per
target, in standardised units), so the optimizer and checkpoints see it;
:class:`~zpml_train.model.gated_loss.GatedLoss` reads it from the outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar, Literal, NamedTuple

import torch
from torch import nn

from zpml_data.errors import ConfigError
from zpml_data.validate import require_float, require_positive_int

# Kind classes of a ⊥ target, in the order of the kind logits.
KIND_CLASSES = ("censored", "domain_invalid_or_bottom", "fault")


class GatedOutputs(NamedTuple):
    """What :class:`GatedHead` emits; the first two fields are the projective pair.

    Attributes:
        P: Numerators in value units, ``[B, T]``.
        Q: Denominators (the gate), ``[B, T]``.
        latent: The latent value in value units (``d·ŷ + m``), ``[B, T]``.
        gate_logit: ``a``, whose sigmoid is the probability of a finite target, ``[B, T]``.
        side_logit: ``2b``, whose sigmoid is the probability of ⊥ above
            (censored_above) rather than below, ``[B, T]``.
        kind_logits: ``[B, T, 3]`` over :data:`KIND_CLASSES`.
        log_sigma: The log of the latent's noise scale σ in value units
            (``log d + ℓ``), broadcast to ``[B, T]``.
    """

    P: torch.Tensor
    Q: torch.Tensor
    latent: torch.Tensor
    gate_logit: torch.Tensor
    side_logit: torch.Tensor
    kind_logits: torch.Tensor
    log_sigma: torch.Tensor


class GatedHead(nn.Module):
    """A gated projective head: features ``[B, F]`` to :class:`GatedOutputs`.

    Args:
        in_features: Feature width ``F``.
        output_dim: Number of targets ``T``.
        power: ``k`` in ``(1 − g)^k``: how fast the side's share of ``P``
            fades as the gate opens (2: decoded values near the threshold
            stay close to the latent, the side still decides ⊥'s sign).

    Attributes:
        DEFAULT_THRESHOLDS: The thresholds a run uses with this head by default.
    """

    DEFAULT_THRESHOLDS: ClassVar[Mapping[str, float]] = MappingProxyType(
        {"tau_infer": 0.5, "tau_train_min": 0.5, "tau_train_max": 0.5}
    )

    value_shift: torch.Tensor
    value_scale: torch.Tensor

    def __init__(self, in_features: int, output_dim: int, *, power: int = 2) -> None:
        super().__init__()
        width = require_positive_int("in_features", in_features)
        self.out_features = require_positive_int("output_dim", output_dim)
        self.power = require_positive_int("power", power)
        # One affine map gives every part (latent, gate, side, kind logits):
        # one matmul and two parameter tensors, so a step costs what an MLP's does.
        self.parts = nn.Linear(width, output_dim * (3 + len(KIND_CLASSES)))
        self.log_sigma = nn.Parameter(torch.zeros(output_dim))
        with torch.no_grad():
            # The gate starts open and nearly flat (g ≈ 0.73), so a fresh head
            # decodes finite at 0.5.
            self.parts.weight[output_dim : 2 * output_dim].mul_(0.1)
            self.parts.bias[output_dim : 2 * output_dim].fill_(1.0)
        # Value units: latent = value_scale·ŷ + value_shift. Buffers, so checkpoints
        # carry them; the identity until set_value_scaling is called.
        self.register_buffer("value_shift", torch.zeros(output_dim))
        self.register_buffer("value_scale", torch.ones(output_dim))

    def set_value_scaling(self, shift: torch.Tensor | float, scale: torch.Tensor | float) -> None:
        """Express the latent in value units: ``value = scale·ŷ + shift``.

        Args:
            shift: ``[output_dim]`` or a scalar, usually the finite training values' mean.
            scale: Likewise, usually their standard deviation; a zero or
                non-finite scale counts as 1, a non-finite shift as 0.
        """
        shift_t = torch.as_tensor(shift, dtype=self.value_shift.dtype).expand_as(self.value_shift)
        scale_t = torch.as_tensor(scale, dtype=self.value_scale.dtype).expand_as(self.value_scale)
        scale_t = torch.where(
            torch.isfinite(scale_t) & (scale_t > 0), scale_t, torch.ones_like(scale_t)
        )
        shift_t = torch.nan_to_num(shift_t, nan=0.0, posinf=0.0, neginf=0.0)
        self.value_shift.copy_(shift_t.to(self.value_shift.device))
        self.value_scale.copy_(scale_t.to(self.value_scale.device))

    def forward(self, features: torch.Tensor) -> GatedOutputs:
        """The projective pair and the parts it is made of, for features ``[B, F]``."""
        T = self.out_features
        standardised, gate_logit, half_side, kind_flat = self.parts(features).split(
            [T, T, T, T * len(KIND_CLASSES)], dim=-1
        )
        gate = torch.sigmoid(gate_logit)
        side = torch.tanh(half_side)
        shift, scale = self.value_shift, self.value_scale
        P = scale * (gate * standardised + (1.0 - gate).pow(self.power) * side) + shift * gate
        kind_logits = kind_flat.unflatten(-1, (T, len(KIND_CLASSES)))
        log_sigma = (self.log_sigma + scale.log()).expand_as(standardised)
        return GatedOutputs(
            P=P,
            Q=gate,
            latent=scale * standardised + shift,
            gate_logit=gate_logit,
            side_logit=2.0 * half_side,
            kind_logits=kind_logits,
            log_sigma=log_sigma,
        )

    def bottom_capability(self, tau_infer: float) -> Literal["reachable"]:
        """``"reachable"`` for any ``0 < tau_infer < 1``: the gate closes below any such threshold.

        Raises:
            ConfigError: ``tau_infer`` is not a finite number in ``(0, 1)``.
        """
        tau = require_float("tau_infer", tau_infer, minimum=0.0, strict_minimum=True)
        if tau >= 1.0:
            raise ConfigError(
                f"tau_infer={tau!r} is at or above 1: the gated head's Q is a probability "
                "in (0, 1), so every output would decode ⊥; choose 0 < tau_infer < 1 "
                f"(default {self.DEFAULT_THRESHOLDS['tau_infer']})"
            )
        return "reachable"

    def describe(self) -> str:
        """The head and its parameterisation, for messages."""
        return f"{type(self).__name__}(power={self.power!r})"
