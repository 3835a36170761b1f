"""Gradient policies: what happens to gradients that flow through bottom (⊥) paths.

A projective head marks an output as a bottom path when ``|Q| < tau``. Inside
``with gradient_policy(policy, tau=...)`` the head rewrites the gradients of
``(P, Q)`` on those paths:

* ``CLAMP``: zero on bottom paths; clipped to ``[-1, 1]`` elsewhere.
* ``PROJECT``: zero on bottom paths; untouched elsewhere.
* ``REJECT``: zero for every output of a row with any bottom path (the row is
  rejected as a whole).
* ``PASSTHROUGH``: untouched everywhere.

Outside any ``gradient_policy`` block no policy is active and heads leave
gradients alone, exactly like ``PASSTHROUGH``. The values match the reference
package's enum (``"clamp"``, ``"project"``, ``"reject"``, ``"pass"``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

import torch

from zpml_data.errors import ConfigError
from zpml_data.validate import require_float


class GradientPolicy(enum.Enum):
    """How gradients through bottom paths (``|Q| < tau``) are treated."""

    CLAMP = "clamp"
    PROJECT = "project"
    REJECT = "reject"
    PASSTHROUGH = "pass"

    @classmethod
    def parse(cls, value: GradientPolicy | str, where: str = "gradient_policy") -> GradientPolicy:
        """A policy from an enum member or its value or name, as written in a config file.

        Raises:
            ConfigError: ``value`` names no policy; the message lists the valid ones.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            for member in cls:
                if value.lower() in (member.value, member.name.lower()):
                    return member
        names = ", ".join(repr(member.value) for member in cls)
        raise ConfigError(f"{where} must be one of {names}; got {value!r}")


class ActivePolicy(NamedTuple):
    """The policy in force and the bottom threshold it applies at."""

    policy: GradientPolicy
    tau: float


# Per logical context (thread, asyncio task), like the reference package.
_ACTIVE: ContextVar[ActivePolicy | None] = ContextVar("zpml_gradient_policy", default=None)

# The bottom threshold assumed when a caller activates a policy without one:
# TrainingConfig's default tau_train_min.
DEFAULT_TAU = 1e-4


@contextmanager
def gradient_policy(policy: GradientPolicy | str, *, tau: float = DEFAULT_TAU) -> Iterator[None]:
    """Activate ``policy`` for projective heads run inside the block.

    Args:
        policy: The policy, or its value (``"clamp"``, ``"project"``, ...).
        tau: The bottom threshold: an output with ``|Q| < tau`` is a bottom
            path. The trainer passes each step's drawn threshold.

    Yields:
        Nothing; the policy is reset when the block exits, even on error.

    Raises:
        ConfigError: Unknown policy, or ``tau`` not a positive number.
    """
    active = ActivePolicy(GradientPolicy.parse(policy), require_float("tau", tau, minimum=0.0))
    token = _ACTIVE.set(active)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active_gradient_policy() -> ActivePolicy | None:
    """The policy set by the innermost ``gradient_policy`` block, or ``None``."""
    return _ACTIVE.get()


def apply_gradient_policy(
    grad: torch.Tensor, bottom: torch.Tensor, policy: GradientPolicy
) -> torch.Tensor:
    """Rewrite a gradient per ``policy`` (vectorised, no host sync).

    Args:
        grad: The gradient of a head output, ``[B]`` or ``[B, T]``.
        bottom: Bool, like ``grad``: True on bottom paths.
        policy: The policy to apply.

    Returns:
        The rewritten gradient (``grad`` itself for ``PASSTHROUGH``).
    """
    if policy is GradientPolicy.PASSTHROUGH:
        return grad
    if policy is GradientPolicy.REJECT and bottom.dim() > 1:
        bottom = bottom.any(dim=-1, keepdim=True).expand_as(bottom)
    if policy is GradientPolicy.CLAMP:
        grad = grad.clamp(-1.0, 1.0)
    return grad.masked_fill(bottom, 0.0)


class _PolicyGate(torch.autograd.Function):
    """Identity forward; the active policy applied to the gradient backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, bottom: torch.Tensor, policy: GradientPolicy) -> Any:
        ctx.save_for_backward(bottom)
        ctx.policy = policy
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        (bottom,) = ctx.saved_tensors
        return apply_gradient_policy(grad, bottom, ctx.policy), None, None


def gate_bottom_paths(P: torch.Tensor, Q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the active policy to the gradients of a head's ``(P, Q)``.

    Without an active policy, with ``PASSTHROUGH``, or when no gradient is
    being recorded, ``(P, Q)`` are returned as they are.

    Args:
        P: Numerators, ``[B]`` or ``[B, T]``.
        Q: Denominators, shaped like ``P``.

    Returns:
        ``(P, Q)``, gated.
    """
    active = _ACTIVE.get()
    if active is None or active.policy is GradientPolicy.PASSTHROUGH:
        return P, Q
    if not torch.is_grad_enabled() or not (P.requires_grad or Q.requires_grad):
        return P, Q
    bottom = ~(Q.detach().abs() >= active.tau)  # NaN denominators are bottom too
    return (
        _PolicyGate.apply(P, bottom, active.policy),
        _PolicyGate.apply(Q, bottom, active.policy),
    )
