"""Per-status training metrics, accumulated on the device and read by the host rarely.

Each step adds a handful of sums to one float64 tensor on the model's device;
nothing is copied to the host until :meth:`MetricSums.read` (the trainer
calls it at the logging cadence and at the end of an epoch). All counts are
of target cells (rows × targets). The sums pass through
:func:`reduce_sums` before they are read: the one place a distributed run
adds them up across ranks.

Metrics (each a float; NaN where its denominator is 0):

* ``loss``: the loss averaged over rows.
* ``coverage``: the share of outputs that decode finite (NaN/inf outputs are ⊥).
* ``finite_rmse``: RMSE of decoded values on finite targets that decode finite.
* ``finite_decoded``: the share of finite targets that decode finite.
* ``bottom_recall``: the share of bottom targets that decode ⊥.
* ``bottom_precision``: the share of ⊥ outputs on trained targets whose target is bottom.
* ``censored_accuracy``: the share of censored targets where the sign of ``P``
  gives the censored side (below: ``P < 0``; above: ``P > 0``).
* ``rows``: target cells seen; ``missing``: cells skipped as ``missing``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from zpml_data.lift import SemanticTargets
from zpml_train.model.losses import projective_outputs
from zpml_train.training.distributed import sum_across_ranks

# Slots of the sums: first those counted on the device, then those the host knows.
_DEVICE_SLOTS = (
    "loss_x_rows",  # sum of batch loss × batch rows
    "missing",
    "covered",  # decoded finite
    "finite",  # finite targets
    "finite_decoded",  # finite targets decoded finite
    "bottom",  # bottom targets
    "predicted_bottom",  # ⊥ outputs on trained targets
    "bottom_hits",  # bottom targets decoded ⊥
    "censored",
    "censored_correct",
    "squared_error",  # on finite_decoded
)
_HOST_SLOTS = ("loss_rows", "cells")
_SLOTS = _DEVICE_SLOTS + _HOST_SLOTS
METRIC_NAMES = (
    "loss",
    "coverage",
    "finite_rmse",
    "finite_decoded",
    "bottom_recall",
    "bottom_precision",
    "censored_accuracy",
    "rows",
    "missing",
)


def reduce_sums(sums: Tensor) -> Tensor:
    """Combine the sums of every process; in one process, the sums themselves.

    Every metric is a ratio of sums, so adding the sums over ranks first gives
    the exact global value (every rank reads at the same steps).
    """
    return sum_across_ranks(sums)


class MetricSums:
    """Running per-status sums for one phase (an epoch, a validation pass).

    ``add`` only keeps references to a step's detached outputs and targets;
    every ``flush_every`` steps (and before a read) the pending steps are
    counted together, so the per-step cost is an append, not twenty small
    kernels.

    Args:
        device: Where the sums live: the model's device.
        flush_every: Steps held before they are counted.
    """

    def __init__(self, device: torch.device | str, flush_every: int = 32) -> None:
        self.sums = torch.zeros(len(_DEVICE_SLOTS), dtype=torch.float64, device=device)
        self.host = [0.0] * len(_HOST_SLOTS)
        self.flush_every = flush_every
        self._pending: list[tuple[Tensor, Tensor, Tensor, SemanticTargets, float]] = []

    def reset(self) -> None:
        """Start over (in place, no allocation)."""
        self.sums.zero_()
        self.host = [0.0] * len(_HOST_SLOTS)
        self._pending.clear()

    def add(self, loss: Tensor, outputs: Any, targets: SemanticTargets, tau: float) -> None:
        """Add one batch: its loss, its model outputs and its lifted targets (no host sync).

        Args:
            loss: The batch loss, a scalar tensor.
            outputs: The model's ``(P, Q)`` (or decoded values).
            targets: The batch's lifted targets, on the sums' device.
            tau: The bottom threshold of this step: ``|Q| < tau`` is ⊥.

        Raises:
            ShapeError: The outputs do not match the targets' shape.
        """
        P, Q = projective_outputs(outputs, targets.Y_n)
        self._pending.append((loss.detach(), P.detach(), Q.detach(), targets, tau))
        self.host[0] += P.shape[0]
        self.host[1] += P.numel()
        if len(self._pending) >= self.flush_every:
            self._flush()

    def read(self) -> dict[str, float]:
        """The metrics so far: one device-to-host copy of the reduced sums."""
        self._flush()
        host = torch.tensor(self.host, dtype=torch.float64).to(self.sums.device)
        return summarise(reduce_sums(torch.cat([self.sums, host])).tolist())

    def _flush(self) -> None:
        """Count the pending steps in one pass over their concatenation."""
        if not self._pending:
            return
        losses, Ps, Qs, targets, taus = zip(*self._pending, strict=True)
        self._pending.clear()
        rows = torch.tensor([p.shape[0] for p in Ps])
        device = self.sums.device
        P, Q = torch.cat(Ps).float(), torch.cat(Qs).float()
        tau = torch.tensor(taus).repeat_interleave(rows).to(device, non_blocking=True)
        tau = tau.view(-1, *([1] * (P.dim() - 1)))
        Y_n = torch.cat([t.Y_n for t in targets]).float()
        finite = torch.cat([t.mask_finite for t in targets])
        bottom = torch.cat([t.mask_bottom for t in targets])
        orientation = torch.cat([t.orientation_label for t in targets])
        # `not >=`: NaN denominators count as ⊥, like NaN/inf outputs.
        predicted_bottom = ~(Q.abs() >= tau) | ~torch.isfinite(P) | torch.isinf(Q)
        decoded = finite & ~predicted_bottom
        censored = orientation != 0
        counts = torch.stack(
            [
                ~(finite | bottom),
                ~predicted_bottom,
                finite,
                decoded,
                bottom,
                predicted_bottom & (finite | bottom),
                predicted_bottom & bottom,
                censored,
                censored & (torch.sign(P) == orientation.to(P.dtype)),
            ]
        ).flatten(1)
        error = torch.where(decoded, P / Q - Y_n, torch.zeros_like(P))
        loss_x_rows = torch.stack(losses).double() @ rows.to(
            device, torch.float64, non_blocking=True
        )
        self.sums += torch.cat(
            [
                loss_x_rows.reshape(1),
                counts.sum(dim=1, dtype=torch.float64),
                error.square().sum(dtype=torch.float64).reshape(1),
            ]
        )


def summarise(sums: list[float]) -> dict[str, float]:
    """Metrics from a list of slot sums (see the module docstring)."""
    s = dict(zip(_SLOTS, sums, strict=True))
    return {
        "loss": _ratio(s["loss_x_rows"], s["loss_rows"]),
        "coverage": _ratio(s["covered"], s["cells"]),
        "finite_rmse": math.sqrt(_ratio(s["squared_error"], s["finite_decoded"])),
        "finite_decoded": _ratio(s["finite_decoded"], s["finite"]),
        "bottom_recall": _ratio(s["bottom_hits"], s["bottom"]),
        "bottom_precision": _ratio(s["bottom_hits"], s["predicted_bottom"]),
        "censored_accuracy": _ratio(s["censored_correct"], s["censored"]),
        "rows": s["cells"],
        "missing": s["missing"],
    }


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan
