"""The loss trajectory matches the reference package's SCMTrainer (zeroproofml 0.6.1).

Same data, same initial model, same optimizer, same threshold draws (the
reference draws from the global RNG; ours from a generator with the same
seed), the same loss (ours SCMTrainingLoss; theirs composed from the
reference losses): every step's loss, the validation metrics and the final
weights agree to float tolerance.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
import zeroproof.losses as reference_losses
from zeroproof.training import SCMTrainer as ReferenceTrainer
from zeroproof.training import TrainingConfig as ReferenceConfig

from tests.zpml_train._helpers import assert_states_close, labels_of, make_rows, split, state_copy
from zpml_train import ProjectiveMLP, SCMTrainer, SCMTrainingLoss, TrainingConfig

pytestmark = pytest.mark.usefixtures("single_thread")

SEED = 11


def _reference_loss(
    outputs: Any, lifted: Any, *, tau: float, semantic_targets: Any
) -> torch.Tensor:
    """The reference's SCMTrainingLoss on the reference's implicit fit term."""
    P, Q = outputs[0].squeeze(-1), outputs[1].squeeze(-1)
    Y_n, Y_d = lifted
    fit = reference_losses.implicit_loss(P, Q, Y_n, Y_d)
    total, _ = reference_losses.SCMTrainingLoss()(
        fit,
        P,
        Q,
        Y_n,
        Y_d,
        is_bottom=Q.abs() < tau,
        mask_finite=semantic_targets.mask_finite,
        tau_train=tau,
    )
    return total


def _run_both(accumulation: int, epochs: int = 3) -> tuple[dict, dict]:
    inputs, values, codes = make_rows(4 * 48, seed=SEED)
    ours_batches = split((inputs, values, codes), [48] * 4)
    # The reference takes label strings; ours gets int8 codes.
    reference_batches = [(x, v, labels_of(c)) for x, v, c in ours_batches]
    torch.manual_seed(SEED)
    model = ProjectiveMLP(3, 1, hidden=(16, 16))
    reference_model = copy.deepcopy(model)
    common = {
        "max_epochs": epochs,
        "gradient_accumulation_steps": accumulation,
        "tau_train_min": 1e-4,
        "tau_train_max": 1e-2,
        "coverage_patience": 100,
    }

    records: list[dict[str, Any]] = []
    ours = SCMTrainer(
        model,
        torch.optim.Adam(model.parameters(), lr=5e-3),
        SCMTrainingLoss(),
        ours_batches,
        config=TrainingConfig(
            **common,
            seed=SEED,
            val_loader=ours_batches[:2],
            log_hook=records.append,
            log_every_n_steps=1,
        ),
    )
    ours.fit()
    theirs = ReferenceTrainer(
        reference_model,
        torch.optim.Adam(reference_model.parameters(), lr=5e-3),
        _reference_loss,
        reference_batches,
        config=ReferenceConfig(
            **common, val_loader=reference_batches[:2], device=torch.device("cpu")
        ),
    )
    torch.manual_seed(SEED)  # the reference draws thresholds from the global RNG
    reference_logs = theirs.fit()
    return (
        {
            "losses": [r["step_loss"] for r in records if r["phase"] == "train"],
            "thresholds": list(ours.last_thresholds),
            "val": [r[key] for r in ours.val_history for key in ("val_loss", "val_coverage")],
            "state": state_copy(model),
        },
        {
            "losses": [float(log["loss"]) for log in reference_logs],
            "thresholds": list(theirs.last_thresholds),
            "val": [r[key] for r in theirs.val_history for key in ("val_loss", "val_coverage")],
            "state": state_copy(reference_model),
        },
    )


@pytest.mark.parametrize("accumulation", [1, 3])
def test_loss_trajectory_matches_the_reference_trainer(accumulation: int) -> None:
    ours, theirs = _run_both(accumulation)
    assert len(ours["losses"]) == len(theirs["losses"]) == 12
    assert ours["thresholds"] == theirs["thresholds"]  # the same draws, bit for bit
    assert ours["losses"] == pytest.approx(theirs["losses"], rel=1e-5, abs=1e-7)
    assert ours["val"] == pytest.approx(theirs["val"], rel=1e-5, abs=1e-7)
    assert_states_close(ours["state"], theirs["state"], rtol=1e-5, atol=1e-6)


def test_the_trajectory_is_not_trivially_flat() -> None:
    ours, _ = _run_both(1, epochs=2)
    assert len(set(ours["losses"])) == len(ours["losses"])
