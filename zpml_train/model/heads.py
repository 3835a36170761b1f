"""Projective heads that emit ``(P, Q)``, their bottom capability, and strict decoding.

A projective model never divides in its forward pass: it emits a numerator
``P`` and a denominator ``Q`` per output, and decoding reads ``P / Q`` where
``|Q| >= tau_infer`` and ⊥ elsewhere. Whether a head can reach ⊥ at all is a
property of how it parameterises ``Q``; the trainer asks it through
``bottom_capability(tau_infer)`` before training on data that hold bottoms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import ClassVar, Literal, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from zpml_data.errors import ConfigError
from zpml_data.validate import require_choice, require_float, require_positive_int
from zpml_train.model.gated import GatedHead, GatedOutputs
from zpml_train.model.policies import gate_bottom_paths
from zpml_train.model.size import check_model_size

BottomCapability = Literal["reachable", "unreachable_by_construction"]
QParam = Literal["none", "softplus"]
Q_PARAMS: tuple[QParam, ...] = ("none", "softplus")
HeadName = Literal["rational", "gated"]
HEAD_NAMES: tuple[HeadName, ...] = ("rational", "gated")


def check_tau_infer(tau_infer: float) -> float:
    """``tau_infer`` as a float, refused unless finite and strictly positive.

    A zero threshold would let an exactly zero denominator decode to inf/NaN
    while the bottom mask stays False.

    Raises:
        ConfigError: Not a finite number above 0.
    """
    return require_float("tau_infer", tau_infer, minimum=0.0, strict_minimum=True)


class RationalHead(nn.Module):
    """A projective rational head: features ``[B, F]`` to ``(P, Q)``, each ``[B, T]``.

    ``P`` and ``Q`` are affine in the features, so their ratio is a rational
    function of them. ``q_param`` chooses how ``Q`` is parameterised:

    * ``"none"``: ``Q`` is the affine output itself and can cross zero, so ⊥
      is reachable. Its bias starts at 1, so a fresh head decodes finite.
    * ``"softplus"``: ``Q = softplus(.) + q_min > q_min``: never below
      ``q_min``, so ⊥ is unreachable when ``q_min >= tau_infer``.

    Under an active :func:`~zpml_train.model.policies.gradient_policy`, the
    gradients of ``(P, Q)`` on bottom paths (``|Q| < tau``) follow the policy.

    Args:
        in_features: Feature width ``F``.
        out_features: Number of targets ``T``.
        q_param: ``"none"`` or ``"softplus"``.
        q_min: The floor added after softplus (ignored for ``"none"``); >= 0.

    Attributes:
        DEFAULT_THRESHOLDS: The thresholds a run uses with this head by default.
    """

    DEFAULT_THRESHOLDS: ClassVar[Mapping[str, float]] = MappingProxyType(
        {"tau_infer": 0.05, "tau_train_min": 0.05, "tau_train_max": 0.1}
    )

    def __init__(
        self, in_features: int, out_features: int, *, q_param: QParam = "none", q_min: float = 0.0
    ) -> None:
        super().__init__()
        require_positive_int("in_features", in_features)
        self.out_features = require_positive_int("out_features", out_features)
        self.q_param: QParam = require_choice("q_param", q_param, Q_PARAMS)
        self.q_min = require_float("q_min", q_min, minimum=0.0)
        self.numerator = nn.Linear(in_features, out_features)
        self.denominator = nn.Linear(in_features, out_features)
        with torch.no_grad():
            self.denominator.weight.mul_(0.1)
            # Q starts near 1 (softplus: near 1 + q_min), so every output decodes finite.
            self.denominator.bias.fill_(1.0 if q_param == "none" else math.log(math.e - 1.0))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(P, Q)``, each ``[B, T]``."""
        P = self.numerator(features)
        Q = self.denominator(features)
        if self.q_param == "softplus":
            Q = F.softplus(Q) + self.q_min
        return gate_bottom_paths(P, Q)

    def bottom_capability(self, tau_infer: float) -> BottomCapability:
        """Whether ``|Q| < tau_infer`` can happen at all with this parameterisation.

        Raises:
            ConfigError: ``tau_infer`` is not a finite number above 0.
        """
        tau = check_tau_infer(tau_infer)
        if self.q_param == "softplus" and self.q_min >= tau:
            return "unreachable_by_construction"
        return "reachable"

    def describe(self) -> str:
        """The head and its parameterisation, for messages."""
        return f"{type(self).__name__}(q_param={self.q_param!r}, q_min={self.q_min!r})"


class ProjectiveMLP(nn.Module):
    """An MLP backbone (ReLU) with a :class:`RationalHead` or a :class:`GatedHead` on top.

    Args:
        input_dim: Input features per row.
        output_dim: Targets per row.
        hidden: Widths of the hidden layers (may be empty).
        q_param: The rational head's denominator parameterisation, see :class:`RationalHead`.
        q_min: The rational head's softplus floor.
        head: ``"rational"`` (learns poles) or ``"gated"`` (learns censored,
            domain_invalid and fault targets; see :mod:`zpml_train.model.gated`).

    Raises:
        ConfigError: An unknown head, or ``q_param``/``q_min`` given to the gated head.
    """

    input_shift: torch.Tensor
    input_scale: torch.Tensor

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        hidden: Sequence[int] = (64, 64),
        *,
        q_param: QParam = "none",
        q_min: float = 0.0,
        head: HeadName = "rational",
    ) -> None:
        super().__init__()
        self.head_name: HeadName = require_choice("head", head, HEAD_NAMES)
        if head == "gated" and (q_param != "none" or q_min != 0.0):
            raise ConfigError(
                f"q_param={q_param!r}, q_min={q_min!r} shape a rational head's Q; the gated "
                "head's Q is its gate: leave them at their defaults or use head='rational'"
            )
        width = require_positive_int("input_dim", input_dim)
        sizes = [require_positive_int(f"hidden[{i}]", size) for i, size in enumerate(hidden)]
        check_model_size(
            width,
            require_positive_int("output_dim", output_dim),
            sizes,
            "ProjectiveMLP",
            hint=": use fewer or narrower hidden layers",
        )
        layers: list[nn.Module] = []
        for size in sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.backbone = nn.Sequential(*layers)
        self.head: RationalHead | GatedHead = (
            GatedHead(width, output_dim)
            if head == "gated"
            else RationalHead(width, output_dim, q_param=q_param, q_min=q_min)
        )
        # Inputs are standardised as (x - input_shift) / input_scale; buffers, so
        # checkpoints carry them. The identity until set_input_scaling is called.
        self.register_buffer("input_shift", torch.zeros(input_dim))
        self.register_buffer("input_scale", torch.ones(input_dim))

    def set_input_scaling(self, shift: torch.Tensor, scale: torch.Tensor) -> None:
        """Standardise inputs with these per-feature statistics (a zero scale counts as 1).

        Args:
            shift: ``[input_dim]``, usually the training inputs' mean.
            scale: ``[input_dim]``, usually their standard deviation.
        """
        scale = torch.where(torch.isfinite(scale) & (scale > 0), scale, torch.ones_like(scale))
        self.input_shift.copy_(torch.nan_to_num(shift, nan=0.0, posinf=0.0, neginf=0.0))
        self.input_scale.copy_(scale)

    def set_value_scaling(self, shift: torch.Tensor | float, scale: torch.Tensor | float) -> None:
        """The finite training values' mean and standard deviation, per target.

        The gated head expresses its latent value in these units (a zero or
        non-finite scale counts as 1); the rational head ignores them.

        Args:
            shift: ``[output_dim]`` or a scalar.
            scale: ``[output_dim]`` or a scalar.
        """
        if isinstance(self.head, GatedHead):
            self.head.set_value_scaling(shift, scale)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | GatedOutputs:
        """``(P, Q)`` for inputs ``[B, input_dim]``, each ``[B, output_dim]``.

        The gated head returns :class:`GatedOutputs`, whose first two fields are ``(P, Q)``.
        """
        return self.head(self.backbone((inputs - self.input_shift) / self.input_scale))

    def bottom_capability(self, tau_infer: float) -> BottomCapability:
        """The head's capability (see :meth:`RationalHead.bottom_capability`)."""
        return self.head.bottom_capability(tau_infer)

    def describe(self) -> str:
        """The model, its head and the head's parameterisation, for messages."""
        return f"{type(self).__name__} with {self.head.describe()}"


class Decoded(NamedTuple):
    """Strictly decoded outputs.

    Attributes:
        values: ``P / Q`` where finite, NaN where ⊥.
        bottom: True where ⊥: ``|Q| < tau_infer``, ``Q == 0``, or a non-finite
            ``P``, ``Q`` or quotient.
        side: int8; the sign of ``P`` where ⊥ (-1 censored below, +1 above,
            0 when ``P`` is 0 or NaN), 0 where finite.
    """

    values: torch.Tensor
    bottom: torch.Tensor
    side: torch.Tensor


def decode(P: torch.Tensor, Q: torch.Tensor, tau_infer: float) -> Decoded:
    """Decode projective outputs strictly: finite values, or ⊥ with its side.

    Args:
        P: Numerators.
        Q: Denominators, shaped like ``P``.
        tau_infer: The strict threshold, > 0.

    Returns:
        A :class:`Decoded` of ``(values, bottom, side)``.

    Raises:
        ConfigError: ``tau_infer`` is not above 0, or rounds to 0 in ``Q``'s
            dtype (the gate could not tell it from an exact zero).
    """
    tau = check_tau_infer(tau_infer)
    if Q.is_floating_point() and float(torch.tensor(tau, dtype=Q.dtype)) == 0.0:
        raise ConfigError(
            f"tau_infer={tau!r} rounds to 0 in {Q.dtype}; choose tau_infer >= "
            f"{torch.finfo(Q.dtype).tiny!r} or decode in a wider dtype"
        )
    bottom = (Q.abs() < tau) | ~torch.isfinite(Q) | ~torch.isfinite(P)
    quotient = P / torch.where(bottom, torch.ones_like(Q), Q)
    bottom = bottom | ~torch.isfinite(quotient)
    values = quotient.masked_fill(bottom, float("nan"))
    side = torch.where(bottom, torch.sign(torch.nan_to_num(P, nan=0.0)), torch.zeros_like(P))
    return Decoded(values, bottom, side.to(torch.int8))
