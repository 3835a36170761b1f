"""The loss watch names the first step whose loss was not finite, however steps are flushed."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.zpml_train._helpers import make_rows, split
from zpml_data.errors import DataError
from zpml_train import ProjectiveMLP, SCMTrainer, SCMTrainingLoss, TrainingConfig
from zpml_train.training._finite import LossWatch

pytestmark = pytest.mark.usefixtures("single_thread")


@settings(max_examples=60, deadline=None)
@given(
    steps=st.integers(1, 40),
    bad=st.sets(st.integers(1, 40), max_size=4),
    flush_every=st.integers(1, 9),
    start=st.integers(1, 5),
)
def test_the_first_bad_step_is_named_whatever_the_flushes(steps, bad, flush_every, start):
    watch = LossWatch(torch.device("cpu"), flush_every=flush_every)
    numbers = range(start, start + steps)
    for step in numbers:
        watch.note(torch.tensor(float("nan") if step in bad else 0.5), step)
    first = min((s for s in numbers if s in bad), default=None)
    if first is None:
        watch.check(epoch=0)  # nothing to raise
    else:
        with pytest.raises(DataError, match=rf"not finite at step {first} of epoch 3"):
            watch.check(epoch=3)
    watch.check(epoch=3)  # forgotten once raised


def test_steps_that_do_not_follow_each_other_keep_their_own_numbers():
    watch = LossWatch(torch.device("cpu"))
    for step, loss in ((1, 0.5), (2, 0.5), (7, float("inf")), (8, float("nan"))):
        watch.note(torch.tensor(loss, dtype=torch.bfloat16), step)
    with pytest.raises(DataError, match="not finite at step 7 of epoch 0"):
        watch.check(epoch=0)


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
    watch = LossWatch(torch.device("cpu"))
    watch.note(torch.tensor(float("nan")), 1)
    with pytest.raises(DataError, match=r"values, or lower the learning rate$") as raised:
        watch.check(epoch=0, loss_weights={"fit": 1.0, "margin": 0.1})
    assert "loss weights" not in str(raised.value)
