"""The loss watch names the first step whose loss was not finite, however steps are flushed."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from zpml_data.errors import DataError
from zpml_train.training._finite import LossWatch


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
