"""Which head a run trains, from the data's status mix, and the model and loss that go with it.

The rational head learns poles (``bottom`` rows: ⊥ where an affine ``Q``
crosses zero) and cannot learn censoring; the gated head learns censored,
``domain_invalid`` and ``fault`` rows (a latent value with a Tobit loss, a
gate, a side, a kind) and cannot follow ``1/(x − a)`` near a pole. A run
picks by the manifest's counts unless ``run.head`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from zpml_data.status import Status
from zpml_train.data.loader import make_loader
from zpml_train.model.gated_loss import GatedLoss
from zpml_train.model.heads import HeadName, ProjectiveMLP
from zpml_train.model.losses import SCMTrainingLoss
from zpml_train.run.settings import RunSettings

# Labels only the gated head learns.
GATED_LABELS = tuple(
    s.label
    for s in (Status.CENSORED_BELOW, Status.CENSORED_ABOVE, Status.DOMAIN_INVALID, Status.FAULT)
)
# Rows read for the input and value statistics, at most (a shuffled sample).
SCALING_ROWS = 65_536


@dataclass(frozen=True)
class HeadChoice:
    """The head a run trains and why, in one line a person reads."""

    head: HeadName
    reason: str


def choose_head(status_counts: Mapping[str, int], requested: str = "auto") -> HeadChoice:
    """The head for training data with these status counts.

    Args:
        status_counts: The training manifest's ``{label: count}``.
        requested: ``run.head``: ``"auto"``, or a head that overrides the data.

    Returns:
        ``rational`` for ``bottom`` ⊥ rows alone; ``gated`` for censored,
        ``domain_invalid`` or ``fault`` rows (with ``bottom`` rows too: the
        poles will be learned poorly), and for finite rows alone (its latent
        value is fitted in value units, the rational head's fit is not).
    """
    if requested == "rational":
        return HeadChoice("rational", "head: rational (set by run.head)")
    if requested == "gated":
        return HeadChoice("gated", "head: gated (set by run.head)")
    gated = {label: n for label in GATED_LABELS if (n := int(status_counts.get(label, 0)))}
    poles = int(status_counts.get(Status.BOTTOM.label, 0))
    shown = ", ".join(f"{n:,} {label}" for label, n in gated.items())
    if gated and poles:
        return HeadChoice(
            "gated",
            f"head: gated, for the {shown} rows; the {poles:,} bottom rows (poles) will be "
            'learned poorly: set run.head = "rational" if the poles matter more',
        )
    if gated:
        return HeadChoice("gated", f"head: gated, for the {shown} rows")
    if poles:
        return HeadChoice("rational", f"head: rational, for the {poles:,} bottom rows (poles)")
    return HeadChoice("gated", "head: gated (no ⊥ rows: its latent value is a plain regression)")


def build_model(
    choice: HeadChoice, settings: RunSettings, inputs: int, targets: int
) -> tuple[ProjectiveMLP, Callable[..., torch.Tensor]]:
    """The chosen head on an MLP of ``settings.hidden``, and its loss."""
    model = ProjectiveMLP(
        inputs,
        targets,
        settings.hidden,
        q_param=settings.q_param,
        q_min=settings.q_min,
        head=choice.head,
    )
    return model, GatedLoss() if choice.head == "gated" else SCMTrainingLoss()


def default_thresholds(model: ProjectiveMLP, training: Mapping[str, Any]) -> dict[str, Any]:
    """``training`` with the head's default thresholds for those it does not set.

    A training threshold left to the head is raised to a configured
    ``tau_infer`` above it, so setting ``tau_infer`` alone never breaks
    ``tau_infer <= tau_train_min <= tau_train_max``.
    """
    chosen = {**type(model.head).DEFAULT_THRESHOLDS, **training}
    tau_infer = training.get("tau_infer")
    if isinstance(tau_infer, int | float) and not isinstance(tau_infer, bool):
        for name in ("tau_train_min", "tau_train_max"):
            if name not in training:
                chosen[name] = max(chosen[name], tau_infer)
    return chosen


def set_scaling(model: ProjectiveMLP, shard_dir: str | Path, seed: int) -> None:
    """Standardise inputs and express values by a shuffled sample of the training rows.

    Raw features on scales of 1e3 and 1e-2 side by side stall the MLP; the
    gated head's latent value is in units of the finite values' mean and
    standard deviation. The sample (at most :data:`SCALING_ROWS`) is the same
    on every rank.
    """
    sample = make_loader(shard_dir, 4096, seed=seed, rank=0, world_size=1)
    inputs, values = [], []
    for batch in sample:
        inputs.append(batch.inputs)
        finite = batch.status_labels == int(Status.FINITE)
        values.append(torch.where(finite, batch.values, torch.nan).reshape(len(finite), -1))
        if sum(len(i) for i in inputs) >= SCALING_ROWS:
            break
    if not inputs:
        return
    rows, cells = torch.cat(inputs), torch.cat(values).double()
    model.set_input_scaling(*_mean_and_spread(rows))
    shift, scale = _mean_and_spread(cells)
    model.set_value_scaling(shift.float(), scale.float())


def _mean_and_spread(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-column mean and population standard deviation, ignoring NaN."""
    mean = torch.nanmean(rows, dim=0)
    return mean, torch.nanmean((rows - mean) ** 2, dim=0).sqrt()
