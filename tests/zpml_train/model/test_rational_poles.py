"""A model trained on the rational-poles example decodes ⊥ at the poles and values elsewhere."""

from __future__ import annotations

import pytest
import torch

from zpml_data import encode_status
from zpml_data.datasets import rational_poles
from zpml_train import ProjectiveMLP, SCMTrainer, SCMTrainingLoss, TrainingConfig, decode

pytestmark = pytest.mark.usefixtures("single_thread")

TAU = 0.05  # decode ⊥ where |Q| < TAU; trained with the same threshold


def _truth(x: torch.Tensor) -> torch.Tensor:
    return (x**2 + 1) / (x**2 - 0.25)


def test_trained_model_decodes_bottom_near_the_poles_and_values_away_from_them() -> None:
    frame = rational_poles(4000, seed=0, pole_width=0.05)  # targets within 0.05 of ±0.5 are ⊥
    x = torch.tensor(frame["x"].to_numpy(), dtype=torch.float32)[:, None]
    values = torch.tensor(frame["value"].to_numpy(), dtype=torch.float32)
    codes = torch.from_numpy(encode_status(frame["status"]))
    batches = [
        (x[i : i + 128], values[i : i + 128], codes[i : i + 128]) for i in range(0, 4000, 128)
    ]
    torch.manual_seed(0)
    model = ProjectiveMLP(1, 1, hidden=(32, 32))
    trainer = SCMTrainer(
        model,
        torch.optim.Adam(model.parameters(), lr=1e-2),
        SCMTrainingLoss(),
        batches,
        config=TrainingConfig(
            max_epochs=30, tau_infer=TAU, tau_train_min=TAU, tau_train_max=2 * TAU
        ),
    )
    trainer.fit()
    # Training metrics decode at tau_infer (the lower end of the training thresholds).
    assert trainer.history[-1]["bottom_recall"] > 0.5

    # Held-out points: none of them is a training input.
    near = torch.tensor([-0.51, -0.505, -0.5, -0.495, 0.495, 0.5, 0.505, 0.51])
    far = torch.tensor([-1.9, -1.3, -0.9, -0.75, -0.2, 0.0, 0.25, 0.75, 1.1, 1.7])
    with torch.no_grad():
        P, Q = model(torch.cat([near, far])[:, None])
    decoded, bottom, _ = decode(P.squeeze(-1), Q.squeeze(-1), TAU)
    assert bottom[: len(near)].all(), decoded[: len(near)]
    assert not bottom[len(near) :].any(), decoded[len(near) :]
    relative_error = (decoded[len(near) :] / _truth(far) - 1).abs()
    assert relative_error.max() < 0.1, relative_error
