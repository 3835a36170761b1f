"""The first step whose loss was not finite is named, however steps are flushed and read."""

import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.zpml_train._helpers import make_rows, split
from zpml_data import lift_semantic_targets
from zpml_data.errors import DataError
from zpml_train import ProjectiveMLP, SCMTrainer, SCMTrainingLoss, TrainingConfig
from zpml_train.training._finite import loss_not_finite
from zpml_train.training.metrics import MetricSums

pytestmark = pytest.mark.usefixtures("single_thread")

TARGETS = lift_semantic_targets(torch.ones(2), torch.zeros(2, dtype=torch.int8))
OUTPUTS = (torch.ones(2), torch.ones(2))


@settings(max_examples=60, deadline=None)
@given(
    steps=st.integers(1, 40),
    bad=st.sets(st.integers(1, 40), max_size=4),
    flush_every=st.integers(1, 9),
    read_every=st.integers(1, 50),
)
def test_the_first_bad_step_is_found_whatever_the_flushes(steps, bad, flush_every, read_every):
    sums = MetricSums("cpu", flush_every=flush_every)
    for step in range(1, steps + 1):
        loss = torch.tensor(float("nan") if step in bad else 0.5)
        sums.add(loss, OUTPUTS, TARGETS, 1e-6)
        if step % read_every == 0:
            sums.read()
    first = min((s for s in range(1, steps + 1) if s in bad), default=0)
    assert sums.first_nonfinite_loss() == first
    assert math.isfinite(sums.read()["loss"]) == (first == 0)  # what the trainer looks at
    assert sums.steps == steps
    sums.reset()
    assert sums.first_nonfinite_loss() == 0 and sums.steps == 0


def test_losses_of_one_element_in_any_dtype_are_watched():
    sums = MetricSums("cpu")
    for loss in (0.5, 0.5, float("inf"), float("nan")):
        sums.add(torch.tensor([loss], dtype=torch.bfloat16), OUTPUTS, TARGETS, 1e-6)
    assert sums.first_nonfinite_loss() == 3


class NanAtStep:
    """SCMTrainingLoss, but NaN from global step ``bad`` on."""

    def __init__(self, bad: int) -> None:
        self.bad, self.loss = bad, SCMTrainingLoss()

    def __call__(
        self, outputs: Any, targets: Any, *, semantic_targets: Any, tau: float, global_step: int
    ) -> torch.Tensor:
        loss = self.loss(outputs, targets, semantic_targets=semantic_targets, tau=tau)
        return loss * float("nan") if global_step >= self.bad else loss


@pytest.mark.parametrize("log_every", [None, 3])
def test_the_trainer_names_the_global_step_and_its_epoch(log_every: int | None) -> None:
    torch.manual_seed(0)
    config = TrainingConfig(
        max_epochs=3,
        log_hook=None if log_every is None else (lambda record: None),
        log_every_n_steps=log_every or 50,
    )
    model = ProjectiveMLP(3, 1, hidden=(8,))
    trainer = SCMTrainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.0),
        NanAtStep(12),
        split(make_rows(40), [8] * 5),  # five steps an epoch: step 12 is the second of epoch 2
        config=config,
    )
    with pytest.raises(DataError, match="not finite at step 12 of epoch 2"):
        trainer.fit()
    assert len(trainer.history) == 2


def _margin_trainer(**weights: float) -> SCMTrainer:
    """Training thresholds of 2e18: the margin term is about 4e36, a hundredth of float32's top."""
    torch.manual_seed(0)
    model = ProjectiveMLP(3, 1, hidden=(8,))
    config = TrainingConfig(tau_train_min=2e18, tau_train_max=2e18, loss_weights=weights or None)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    return SCMTrainer(
        model, optimizer, SCMTrainingLoss(), split(make_rows(64), [32, 32]), config=config
    )


def test_a_loss_weight_that_overflows_the_loss_is_named() -> None:
    assert len(_margin_trainer().fit()) == 1  # margin weighed 0.1: about 4e35, finite
    with pytest.raises(
        DataError, match=r"at step 1 of epoch 0 .*lower the loss weights above 1 \('margin': 1000\)"
    ):
        _margin_trainer(margin=1000.0, fit=0.5).fit()


def test_the_loss_weights_are_not_named_when_none_is_above_1() -> None:
    error = loss_not_finite(1, 0, {"fit": 1.0, "margin": 0.1})
    assert str(error).endswith("values, or lower the learning rate")
    assert "loss weights" not in str(error)
