"""Training metrics: one vocabulary (:data:`METRICS`), sums kept on the device, read rarely.

Every metric zpml reports is named, explained and formatted once, here: the
trainer's history, ``metrics.jsonl``, the report and the summary table all
read :data:`METRICS`. Counts are of target cells (rows × targets); outputs
are decoded as :func:`~zpml_train.model.heads.decode` does, at the threshold
the caller gives (the trainer: ``tau_infer``).

Each step adds its cells' counts to one float64 tensor on the model's device;
nothing reaches the host until :meth:`MetricSums.read`. The sums pass
through :func:`reduce_sums` first: the one place a distributed run adds them
up across ranks. :meth:`MetricSums.calibrate` reads the ⊥ F1 of every
candidate threshold from two histograms kept the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor

from zpml_data.lift import SemanticTargets
from zpml_train.model.losses import projective_outputs
from zpml_train.training._counting import Cells, Step, joined, shaped_outputs, status_codes
from zpml_train.training.distributed import sum_across_ranks


@dataclass(frozen=True)
class Metric:
    """One reported metric.

    Attributes:
        name: The key in records, ``metrics.jsonl`` (``val_`` + name for validation).
        title: A short title for the report.
        meaning: What it counts, in one line.
        share: A share in [0, 1] (shown as a percentage) rather than a quantity.
    """

    name: str
    title: str
    meaning: str
    share: bool

    def format(self, value: Any) -> str:
        """``value`` as a person reads it: a percentage for shares, "-" for none."""
        if value is None or (isinstance(value, float) and value != value):
            return "-"
        if isinstance(value, float) and value.is_integer() and abs(value) >= 1 and not self.share:
            return f"{int(value):,}"
        if isinstance(value, float):
            return f"{value:.1%}" if self.share else f"{value:.4g}"
        return str(value)


METRICS: tuple[Metric, ...] = (
    Metric("loss", "Loss", "training loss per row", False),
    Metric("coverage", "Coverage", "outputs that decode finite", True),
    Metric(
        "finite_rmse_latent",
        "Finite RMSE (latent)",
        "RMSE of the latent value on every finite target (models with a latent value)",
        False,
    ),
    Metric("finite_rmse", "Finite RMSE (decoded)", "RMSE on finite targets decoded finite", False),
    Metric("finite_decoded", "Finite decoded", "finite targets decoded finite", True),
    Metric("bottom_recall", "⊥ recall", "⊥ targets decoded ⊥", True),
    Metric(
        "bottom_precision", "⊥ precision", "⊥ outputs on trained targets whose target is ⊥", True
    ),
    Metric("bottom_f1", "⊥ F1", "harmonic mean of ⊥ recall and precision", True),
    Metric(
        "censored_bottom_side",
        "Censored: ⊥ on its side",
        "censored targets decoded ⊥ on the right side (sign of P)",
        True,
    ),
    Metric(
        "censored_any_side",
        "Censored: on its side",
        "censored targets decoded ⊥ on the right side, or finite beyond their stored limit",
        True,
    ),
    Metric(
        "domain_invalid_recall", "domain_invalid recall", "domain_invalid targets decoded ⊥", True
    ),
    Metric(
        "domain_invalid_precision",
        "domain_invalid precision",
        "⊥ outputs of kind domain_invalid-or-bottom whose target is domain_invalid (kind output)",
        True,
    ),
    Metric(
        "tau_calibrated",
        "Calibrated tau_infer",
        "threshold with the best ⊥ F1 on validation (none: no ⊥ targets, or ⊥ the majority)",
        False,
    ),
    Metric("rows", "Cells", "target cells seen", False),
    Metric("missing", "Missing", "cells skipped as missing", False),
)
METRIC_BY_NAME = {metric.name: metric for metric in METRICS}
# What MetricSums.read gives; tau_calibrated comes from MetricSums.calibrate.
METRIC_NAMES = tuple(metric.name for metric in METRICS if metric.name != "tau_calibrated")

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
    "censored_bottom_side",
    "censored_any_side",
    "domain_invalid",
    "domain_invalid_hits",  # decoded ⊥
    "predicted_domain_invalid",  # decoded ⊥ with kind domain_invalid_or_bottom
    "domain_invalid_kind_hits",  # ... whose target is domain_invalid
    "latent_cells",  # finite targets with a latent value
    "latent_squared_error",
    "squared_error",  # on finite_decoded
)
_HOST_SLOTS = ("loss_rows", "cells")
_SLOTS = _DEVICE_SLOTS + _HOST_SLOTS


def reduce_sums(sums: Tensor) -> Tensor:
    """Combine the sums of every process; in one process, the sums themselves.

    Every metric is a ratio of sums, so adding the sums over ranks first gives
    the exact global value (every rank reads at the same steps).
    """
    return sum_across_ranks(sums)


class Calibration(NamedTuple):
    """The threshold with the best ⊥ F1 on some data, or why there is none.

    Attributes:
        tau: The threshold, or ``None``.
        f1: Its ⊥ F1 (NaN without a threshold).
        reason: Why there is no threshold (empty when there is one).
    """

    tau: float | None
    f1: float
    reason: str


class MetricSums:
    """Running per-status sums for one phase (an epoch, a validation pass).

    ``add`` only keeps references to a step's loss, detached outputs and
    targets; every ``flush_every`` steps (and before a read) the pending steps
    are joined and counted together, so the per-step cost is an append, not
    thirty small kernels.

    Args:
        device: Where the sums live: the model's device.
        flush_every: Steps held before they are counted. Above the trainer's
            default logging cadence (50), so that its reads set the flushes.
        thresholds: Candidate thresholds for :meth:`calibrate` (ascending);
            ``None``: no calibration histograms.
    """

    def __init__(
        self,
        device: torch.device | str,
        flush_every: int = 64,
        thresholds: Tensor | None = None,
    ) -> None:
        self.sums = torch.zeros(len(_DEVICE_SLOTS), dtype=torch.float64, device=device)
        self.host = [0.0] * len(_HOST_SLOTS)
        self.flush_every = flush_every
        self.thresholds = None if thresholds is None else thresholds.to(device, torch.float64)
        bins = 0 if thresholds is None else len(thresholds) + 1
        # Cells by how many candidates their |Q| reaches: ⊥ targets, other trained targets.
        self.histograms = torch.zeros((2, bins), dtype=torch.float64, device=device)
        self._pending: list[Step] = []
        # Every counted step's loss since the reset, one tensor per flush: the summed loss
        # tells whether one was not finite, these tell which (see first_nonfinite_loss).
        self._losses: list[Tensor] = []

    def reset(self) -> None:
        """Start over (in place, no allocation)."""
        self.sums.zero_()
        self.histograms.zero_()
        self.host = [0.0] * len(_HOST_SLOTS)
        self._pending.clear()
        self._losses.clear()

    def add(
        self,
        loss: Tensor,
        outputs: Any,
        targets: SemanticTargets,
        tau: float,
        *,
        values: Tensor | None = None,
        codes: Tensor | None = None,
    ) -> None:
        """Add one batch: its loss, its model outputs and its lifted targets (no host sync).

        Args:
            loss: The batch loss, a scalar tensor, detached (it is kept until
                the next flush).
            outputs: The model's ``(P, Q)``, or a named tuple with ``P``, ``Q``
                and optionally ``latent`` (value units) and ``kind_logits``
                (``[..., 3]``: censored, domain_invalid-or-bottom, fault).
            targets: The batch's lifted targets, on the sums' device.
            tau: The decoding threshold: ``|Q| < tau`` is ⊥.
            values: The batch's stored values (the limit on censored cells),
                one per target cell; without them a censored cell counts as on
                its side only when ⊥.
            codes: The int8 status codes; without them ``domain_invalid``
                cannot be told from ``bottom`` and its metrics are NaN.

        Raises:
            ShapeError: The outputs are not a projective pair; or, when they
                are counted (at a flush: this call, a read, a calibration),
                they do not match the targets' shape.
        """
        latent = getattr(outputs, "latent", None)
        kind_logits = getattr(outputs, "kind_logits", None)
        if not (isinstance(outputs, (tuple, list)) and len(outputs) >= 2):
            outputs = projective_outputs(outputs, targets.Y_n)  # decoded values: Q = 1
        self._pending.append(
            Step(
                loss,
                outputs[0].detach(),  # a graph kept till the flush could hold its activations
                outputs[1].detach(),
                targets,
                tau,
                values,
                codes,
                None if latent is None else latent.detach(),
                None if kind_logits is None else kind_logits.detach(),
            )
        )
        if len(self._pending) >= self.flush_every:
            self._flush()

    def read(self) -> dict[str, float]:
        """The metrics so far: one device-to-host copy of the reduced sums."""
        self._flush()
        host = torch.tensor(self.host, dtype=torch.float64).to(self.sums.device)
        return summarise(reduce_sums(torch.cat([self.sums, host])).tolist())

    @property
    def steps(self) -> int:
        """Steps added since the reset."""
        return sum(len(losses) for losses in self._losses) + len(self._pending)

    def first_nonfinite_loss(self) -> int:
        """Which step added since the reset (from 1) first had a loss that was not finite.

        0 when none had. The ``loss`` of :meth:`read` is not finite exactly
        when one had, so a caller reads this only then.
        """
        self._flush()
        if not self._losses:
            return 0
        bad = torch.nonzero(~torch.isfinite(torch.cat(self._losses))).flatten()
        return int(bad[0]) + 1 if len(bad) else 0

    def calibrate(self) -> Calibration:
        """The candidate threshold with the best ⊥ F1 on the cells added so far.

        None when there are no ⊥ targets, or when ⊥ targets are the majority
        of the trained cells (F1 then rewards decoding nearly everything ⊥).
        Ties: the middle one of the best candidates.
        """
        if self.thresholds is None:
            return Calibration(None, math.nan, "no candidate thresholds")
        self._flush()
        bottom, other = reduce_sums(self.histograms).cumsum(dim=1).cpu()
        bottoms, trained = float(bottom[-1]), float(bottom[-1] + other[-1])
        if bottoms == 0:
            return Calibration(None, math.nan, "no ⊥ targets to calibrate on")
        if bottoms > trained / 2:
            return Calibration(
                None,
                math.nan,
                f"⊥ targets are the majority ({bottoms / trained:.0%} of trained cells): "
                "F1 would favour decoding nearly everything ⊥",
            )
        # Index j: cells whose |Q| reaches fewer than j + 1 candidates decode ⊥ at candidate j.
        f1 = 2 * bottom[:-1] / (bottoms + bottom[:-1] + other[:-1])
        best = torch.nonzero(f1 == f1.max()).flatten()
        index = int(best[len(best) // 2])
        return Calibration(float(self.thresholds[index]), float(f1[index]), "")

    def _flush(self) -> None:
        """Count the pending steps in one pass over their concatenation."""
        if not self._pending:
            return
        steps, self._pending = self._pending, []
        with torch.no_grad():  # counts need no gradient, whatever the inputs carry
            self._count(steps)

    def _count(self, steps: list[Step]) -> None:
        device = self.sums.device
        targets = [s.targets for s in steps]
        Y_n = torch.cat([t.Y_n for t in targets])
        rows = [s.P.shape[0] for s in steps]
        P, Q = shaped_outputs(steps, Y_n)
        dtype, P, Q = P.dtype, P.float(), Q.float()
        self.host[0] += sum(rows)
        self.host[1] += P.numel()
        if all(s.tau == steps[0].tau for s in steps):  # the trainer decodes at one tau_infer
            tau = torch.tensor(steps[0].tau)  # 0-d: broadcasts on any device
        else:
            tau = torch.tensor([s.tau for s in steps]).repeat_interleave(torch.tensor(rows))
            tau = tau.to(device, non_blocking=True).view(-1, *([1] * (P.dim() - 1)))
        codes = [status_codes(s.targets) if s.codes is None else s.codes for s in steps]
        limits = joined([s.values for s in steps], steps, math.nan, P)
        cells = Cells(
            P,
            Q,
            tau,
            Y_n.float(),
            torch.cat([t.mask_finite for t in targets]),
            torch.cat([t.mask_bottom for t in targets]),
            torch.cat([t.orientation_label for t in targets]),
            torch.cat(codes).to(device, non_blocking=True),
            torch.full_like(P, math.nan) if limits is None else limits.float(),
        )
        latent = joined([s.latent for s in steps], steps, math.nan, P)
        kinds = [None if s.kind_logits is None else s.kind_logits.argmax(-1) for s in steps]
        counts = cells.counts(
            None if latent is None else latent.to(dtype).float(), joined(kinds, steps, -1, P)
        )
        losses = torch.stack([s.loss for s in steps]).reshape(len(steps)).double()
        loss_x_rows = losses @ torch.tensor(rows, dtype=torch.float64).to(device, non_blocking=True)
        self.sums += torch.cat([loss_x_rows.reshape(1), counts])
        self._losses.append(losses)
        if self.thresholds is not None:
            self._add_histograms(cells)

    def _add_histograms(self, cells: Cells) -> None:
        assert self.thresholds is not None
        # Where decode gives ⊥ at any threshold (non-finite P, Q or P/Q), |Q| counts as 0.
        score = torch.where(cells.always_bottom, 0.0, cells.Q.abs()).double()
        reached = torch.searchsorted(self.thresholds, score.flatten(), right=True)
        for row, mask in enumerate((cells.bottom, cells.finite)):
            self.histograms[row].index_add_(0, reached, mask.flatten().double())


def summarise(sums: list[float]) -> dict[str, float]:
    """Metrics from a list of slot sums (see :data:`METRICS`)."""
    s = dict(zip(_SLOTS, sums, strict=True))
    return {
        "loss": _ratio(s["loss_x_rows"], s["loss_rows"]),
        "coverage": _ratio(s["covered"], s["cells"]),
        "finite_rmse_latent": math.sqrt(_ratio(s["latent_squared_error"], s["latent_cells"])),
        "finite_rmse": math.sqrt(_ratio(s["squared_error"], s["finite_decoded"])),
        "finite_decoded": _ratio(s["finite_decoded"], s["finite"]),
        "bottom_recall": _ratio(s["bottom_hits"], s["bottom"]),
        "bottom_precision": _ratio(s["bottom_hits"], s["predicted_bottom"]),
        "bottom_f1": _ratio(2 * s["bottom_hits"], s["bottom"] + s["predicted_bottom"]),
        "censored_bottom_side": _ratio(s["censored_bottom_side"], s["censored"]),
        "censored_any_side": _ratio(s["censored_any_side"], s["censored"]),
        "domain_invalid_recall": _ratio(s["domain_invalid_hits"], s["domain_invalid"]),
        "domain_invalid_precision": _ratio(
            s["domain_invalid_kind_hits"], s["predicted_domain_invalid"]
        ),
        "rows": s["cells"],
        "missing": s["missing"],
    }


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan
