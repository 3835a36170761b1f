"""The checks that run before compute: can the model emit ⊥, can the loss mask ``missing``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from zpml_data.errors import CapabilityError, ConfigError, DataError
from zpml_data.lift import SemanticTargets
from zpml_data.status import BOTTOM_STATUSES, UNTRAINED_STATUSES, Status

if TYPE_CHECKING:
    from zpml_train.training._protocol import LossProtocol

_CAPABILITIES = ("reachable", "unreachable_by_construction")


@dataclass(frozen=True)
class Capability:
    """What a model reports about reaching ⊥.

    Attributes:
        reachable: Whether ``|Q| < tau_infer`` can happen.
        source: The module(s) that reported it and their parameterisation.
    """

    reachable: bool
    source: str


def resolve_capability(model: nn.Module, tau_infer: float) -> Capability | None:
    """Ask the model, or else its submodules, for ``bottom_capability(tau_infer)``.

    Returns:
        ``None`` when nothing in the model reports a capability; unreachable
        when any reporting submodule is unreachable.

    Raises:
        ConfigError: A ``bottom_capability`` returned something other than
            ``"reachable"`` or ``"unreachable_by_construction"``.
    """
    candidates = [("model", model)] + [
        (name, module) for name, module in model.named_modules() if module is not model
    ]
    reporting: list[tuple[str, nn.Module, Any]] = []
    for name, module in candidates:
        method = getattr(module, "bottom_capability", None)
        if callable(method):
            reporting.append((name, module, method))
            if module is model:
                break  # the model speaks for its submodules
    if not reporting:
        return None
    modules = [(name, module) for name, module, _ in reporting]
    unreachable = []
    for name, module, method in reporting:
        answer = method(tau_infer)
        if answer not in _CAPABILITIES:
            raise ConfigError(
                f"{type(module).__name__}.bottom_capability returned {answer!r}; "
                f"expected one of {', '.join(map(repr, _CAPABILITIES))}"
            )
        if answer == "unreachable_by_construction":
            unreachable.append((name, module))
    shown = unreachable or modules
    return Capability(not unreachable, "; ".join(_describe(name, m) for name, m in shown))


def _describe(name: str, module: nn.Module) -> str:
    describe = getattr(module, "describe", None)
    text = describe() if callable(describe) else type(module).__name__
    return text if name == "model" else f"{name}: {text}"


def counts_from_manifest(status_counts: Mapping[str, int]) -> dict[Status, int]:
    """Status counts keyed by :class:`Status`, from a manifest's ``{label: count}``."""
    return {
        status: int(status_counts.get(status.label, 0))
        for status in Status
        if status_counts.get(status.label, 0)
    }


def counts_in_batch(codes: torch.Tensor | None, targets: SemanticTargets) -> dict[Status, int]:
    """Status counts of one batch: from its codes, or from its target masks.

    Without codes, bottoms are told apart only by orientation and kind, so
    ``bottom`` also counts ``domain_invalid`` rows.
    """
    if codes is not None:
        counts = torch.bincount(codes.reshape(-1).long().cpu(), minlength=len(Status)).tolist()
        return {Status(code): n for code, n in enumerate(counts) if n}
    orientation, kind = targets.orientation_label, targets.bottom_kind
    masks = {
        Status.FINITE: targets.mask_finite,
        Status.MISSING: targets.mask_untrained,
        Status.CENSORED_BELOW: orientation < 0,
        Status.CENSORED_ABOVE: orientation > 0,
        Status.FAULT: kind == 1,
        Status.BOTTOM: targets.mask_bottom & (orientation == 0) & (kind != 1),
    }
    found = {status: int(mask.sum()) for status, mask in masks.items()}
    return {status: n for status, n in found.items() if n}


def has_bottoms(codes: torch.Tensor | None, targets: SemanticTargets) -> bool:
    """Whether the batch holds a bottom target (on the host when codes are there)."""
    if codes is not None:
        return bool(torch.isin(codes, _codes(BOTTOM_STATUSES, codes)).any())
    return bool(targets.mask_bottom.any())


def has_untrained(codes: torch.Tensor | None, targets: SemanticTargets) -> bool:
    """Whether the batch holds a ``missing`` target."""
    if codes is not None:
        return bool(torch.isin(codes, _codes(UNTRAINED_STATUSES, codes)).any())
    return bool(targets.mask_untrained.any())


def _codes(statuses: frozenset[Status], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(sorted(statuses), dtype=like.dtype, device=like.device)


def capability_error(
    capability: Capability, counts: Mapping[Status, int], tau_infer: float, where: str
) -> CapabilityError:
    """The refusal to train a model that cannot emit ⊥ on data that hold bottoms."""
    bottoms = {s: n for s, n in counts.items() if s in BOTTOM_STATUSES}
    by_label = ", ".join(f"{s.label}: {n:,}" for s, n in sorted(bottoms.items()))
    return CapabilityError(
        f"refusing to train: {where} holds {sum(bottoms.values()):,} bottom (⊥) targets "
        f"({by_label}), but {capability.source} cannot emit ⊥: its denominator never falls "
        f"below tau_infer={tau_infer:g} (unreachable_by_construction). Use a head that can "
        "reach ⊥ (q_param='none', or q_min < tau_infer), remove those rows, or set "
        "TrainingConfig(allow_bottom_unreachable=True) only if these labels are "
        "intentional noise or outside the task."
    )


def missing_loss_error(loss_fn: Any, counts: Mapping[Status, int], where: str) -> ConfigError:
    """The refusal to train with a loss that cannot mask ``missing`` rows."""
    missing = sum(n for s, n in counts.items() if s in UNTRAINED_STATUSES)
    name = getattr(loss_fn, "__qualname__", type(loss_fn).__name__)
    return ConfigError(
        f"refusing to train: {where} holds {missing:,} 'missing' targets, which are neither "
        f"finite nor bottom, but the loss {name} does not accept a `semantic_targets` "
        "keyword, so it cannot mask them. Add `semantic_targets=None` to its signature and "
        "mask with semantic_targets.mask_untrained (SCMTrainingLoss does), or drop those rows."
    )


@dataclass(frozen=True)
class DataChecks:
    """The checks before compute, by a loader's manifest or else per batch on the host.

    Attributes:
        capability: The model's, or ``None`` when it reports none.
        allow_unreachable: ``TrainingConfig.allow_bottom_unreachable``.
        tau_infer: The decoding threshold the capability was asked about.
        loss_fn: The loss, named in refusals.
        protocol: The loss's keywords: can it mask ``missing`` rows?
    """

    capability: Capability | None
    allow_unreachable: bool
    tau_infer: float
    loss_fn: Any
    protocol: LossProtocol

    @property
    def refuses_bottoms(self) -> bool:
        """Whether training data with ⊥ targets must be refused."""
        return (
            self.capability is not None
            and not self.capability.reachable
            and not self.allow_unreachable
        )

    def manifest(self, loader: Any, *, training: bool) -> bool:
        """Check the loader's manifest counts; ``True`` if it had them (no batch checks needed).

        Raises:
            CapabilityError: Training data with ⊥ targets the model cannot emit.
            DataError: Training data whose every target is ``missing``.
            ConfigError: ``missing`` targets and a loss that cannot mask them.
        """
        status_counts = getattr(getattr(loader, "manifest", None), "status_counts", None)
        if status_counts is None:
            return False
        counts = counts_from_manifest(status_counts)
        where = f"the {'training' if training else 'validation'} data (by its manifest)"
        if training and counts and all(s in UNTRAINED_STATUSES for s in counts):
            raise DataError(
                f"refusing to train: {where} holds {sum(counts.values()):,} target cells, "
                "every one 'missing': no finite or ⊥ target to learn from; label the "
                "targets (zpml convert) or shard data with measured rows"
            )
        if training and self.refuses_bottoms and any(s in BOTTOM_STATUSES for s in counts):
            assert self.capability is not None
            raise capability_error(self.capability, counts, self.tau_infer, where)
        if not self.protocol.masks_missing and any(s in UNTRAINED_STATUSES for s in counts):
            raise missing_loss_error(self.loss_fn, counts, where)
        return True

    def batch(
        self, codes: torch.Tensor | None, targets: SemanticTargets, *, training: bool
    ) -> None:
        """The same checks on one batch, on the host, before its step.

        Raises:
            CapabilityError, ConfigError: As :meth:`manifest`.
        """
        if training and self.refuses_bottoms and has_bottoms(codes, targets):
            assert self.capability is not None
            counts = counts_in_batch(codes, targets)
            raise capability_error(self.capability, counts, self.tau_infer, "a batch")
        if not self.protocol.masks_missing and has_untrained(codes, targets):
            raise missing_loss_error(self.loss_fn, counts_in_batch(codes, targets), "a batch")
