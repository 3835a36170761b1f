"""Properties of the trainer's pieces, over generated batches."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.zpml_train._helpers import assert_states_close, make_rows, split, state_copy
from zpml_data import lift_semantic_targets
from zpml_data.status import Status
from zpml_train import ProjectiveMLP, SCMTrainer, SCMTrainingLoss, TrainingConfig, decode

FAST = settings(max_examples=25, deadline=None)


@pytest.fixture(autouse=True, scope="module")
def _single_thread() -> Iterator[None]:
    # Tiny models: a second intra-op thread only adds spin-waits (see tests/zpml_train/conftest.py).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _loss_and_grads(
    model: torch.nn.Module, inputs: torch.Tensor, values: torch.Tensor, codes: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model.zero_grad()
    targets = lift_semantic_targets(values, codes)
    loss = SCMTrainingLoss()(
        model(inputs), (targets.Y_n, targets.Y_d), semantic_targets=targets, tau=1e-2
    )
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]  # type: ignore[union-attr]


@FAST
@given(
    rows=st.integers(1, 40),
    missing=st.lists(st.integers(0, 1000), min_size=1, max_size=20),
    garbage=st.floats(allow_nan=True, allow_infinity=True, width=32),
    seed=st.integers(0, 2**16),
)
def test_missing_rows_never_change_the_loss_or_the_gradients(
    rows: int, missing: list[int], garbage: float, seed: int
) -> None:
    inputs, values, codes = make_rows(rows, seed=seed)
    torch.manual_seed(seed)
    model = ProjectiveMLP(3, 1, hidden=(4,))
    expected = _loss_and_grads(model, inputs, values, codes)
    # Insert missing rows (any value, any inputs) at arbitrary positions.
    order = torch.randperm(rows + len(missing), generator=torch.Generator().manual_seed(seed))
    is_missing = order >= rows
    all_inputs = torch.empty(rows + len(missing), 3)
    all_inputs[~is_missing] = inputs
    all_inputs[is_missing] = torch.tensor(missing, dtype=torch.float32)[:, None].expand(-1, 3)
    all_values = torch.full((rows + len(missing),), garbage)
    all_values[~is_missing] = values
    all_codes = torch.full((rows + len(missing),), int(Status.MISSING), dtype=torch.int8)
    all_codes[~is_missing] = codes
    actual = _loss_and_grads(model, all_inputs, all_values, all_codes)
    torch.testing.assert_close(actual[0], expected[0], rtol=1e-5, atol=1e-6)
    for a, b in zip(actual[1], expected[1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@FAST
@given(
    sizes=st.lists(st.integers(1, 9), min_size=1, max_size=9),
    accumulation=st.integers(1, 4),
)
def test_accumulation_equals_one_big_batch_per_group(sizes: list[int], accumulation: int) -> None:
    rows = make_rows(sum(sizes), seed=len(sizes))

    def trained(batch_sizes: list[int], steps: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        model = ProjectiveMLP(3, 1, hidden=(4,))
        trainer = SCMTrainer(
            model,
            torch.optim.SGD(model.parameters(), lr=0.01),
            SCMTrainingLoss(),
            split(rows, batch_sizes),
            config=TrainingConfig(gradient_accumulation_steps=steps),
        )
        trainer.fit()
        return state_copy(model)

    groups = [sum(sizes[i : i + accumulation]) for i in range(0, len(sizes), accumulation)]
    assert_states_close(trained(sizes, accumulation), trained(groups, 1), rtol=1e-4, atol=1e-5)


@FAST
@given(
    P=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=30),
    Q=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=30),
    tau=st.floats(1e-6, 1.0),
)
def test_decode_is_finite_exactly_off_the_bottom_mask(P: list, Q: list, tau: float) -> None:
    n = min(len(P), len(Q))
    p, q = torch.tensor(P[:n]), torch.tensor(Q[:n])
    values, bottom, side = decode(p, q, tau)
    assert torch.equal(torch.isfinite(values), ~bottom)
    assert bool(((q.abs() < tau) <= bottom).all())
    assert bool((side[~bottom] == 0).all())


@FAST
@given(
    epochs=st.integers(1, 100),
    accumulation=st.integers(1, 64),
    amp=st.booleans(),
    taus=st.lists(st.floats(1e-8, 1.0), min_size=3, max_size=3),
    threshold=st.floats(0.0, 1.0),
    policy=st.sampled_from([None, "clamp", "project", "reject", "pass"]),
)
def test_config_round_trips_through_json(
    epochs: int, accumulation: int, amp: bool, taus: list, threshold: float, policy: str | None
) -> None:
    tau_infer, tau_min, tau_max = sorted(taus)
    config = TrainingConfig(
        max_epochs=epochs,
        gradient_accumulation_steps=accumulation,
        use_amp=amp,
        tau_infer=tau_infer,
        tau_train_min=tau_min,
        tau_train_max=tau_max,
        coverage_threshold=threshold,
        gradient_policy=policy,
    )
    assert TrainingConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


_CODES = st.sampled_from([int(s) for s in Status])
_Q = st.one_of(
    st.floats(-2, 2, allow_nan=False, width=32), st.sampled_from([0.0, float("nan"), float("inf")])
)


@FAST
@given(
    rows=st.lists(st.tuples(_CODES, st.floats(-5, 5, width=32), _Q), min_size=1, max_size=40),
    tau=st.floats(1e-4, 1.0),
)
def test_metrics_decode_as_decode_does(rows: list, tau: float) -> None:
    """Coverage, ⊥ recall and the censored sides agree with decode(P, Q, tau) row by row."""
    from zpml_train.training.metrics import MetricSums

    codes = torch.tensor([c for c, _, _ in rows], dtype=torch.int8)
    P = torch.tensor([p for _, p, _ in rows])
    Q = torch.tensor([q for _, _, q in rows])
    values = torch.where(codes == Status.FINITE, 1.0, float("nan"))
    sums = MetricSums("cpu")
    sums.add(torch.tensor(0.0), (P, Q), lift_semantic_targets(values, codes), tau, codes=codes)
    result = sums.read()
    decoded = decode(P, Q, tau)
    assert result["coverage"] == pytest.approx((~decoded.bottom).float().mean().item())
    trained = codes != Status.MISSING
    bottoms = trained & (codes != Status.FINITE)
    if bottoms.any():
        expected = (decoded.bottom & bottoms).sum() / bottoms.sum()
        assert result["bottom_recall"] == pytest.approx(float(expected))
    side = torch.where(codes == Status.CENSORED_BELOW, -1, 1)
    censored = (codes == Status.CENSORED_BELOW) | (codes == Status.CENSORED_ABOVE)
    if censored.any():
        on_side = censored & decoded.bottom & (decoded.side == side)
        assert result["censored_bottom_side"] == pytest.approx(
            float(on_side.sum() / censored.sum())
        )


@FAST
@given(
    cells=st.lists(st.tuples(st.booleans(), st.floats(0, 1.5, width=32)), min_size=2, max_size=60),
)
def test_the_calibration_sweep_equals_decoding_at_every_candidate(cells: list) -> None:
    """The histogram sweep gives the best ⊥ F1 that decoding at each candidate gives."""
    from zpml_train.training.metrics import MetricSums

    bottom = torch.tensor([b for b, _ in cells])
    Q = torch.tensor([q for _, q in cells])
    codes = torch.where(bottom, int(Status.BOTTOM), int(Status.FINITE)).to(torch.int8)
    targets = lift_semantic_targets(torch.where(bottom, float("nan"), 1.0), codes)
    candidates = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)
    sums = MetricSums("cpu", thresholds=candidates)
    sums.add(torch.tensor(0.0), (torch.ones_like(Q), Q), targets, 0.5)
    calibration = sums.calibrate()
    if not bottom.any() or bottom.sum() > len(cells) / 2:
        assert calibration.tau is None
        return
    f1 = []
    for tau in candidates.tolist():  # the slow way: decode at each candidate
        predicted = decode(torch.ones_like(Q), Q, tau).bottom
        hits = float((predicted & bottom).sum())
        f1.append(2 * hits / (float(bottom.sum()) + float(predicted.sum())))
    assert calibration.f1 == pytest.approx(max(f1))
    assert calibration.tau is not None
    assert f1[candidates.tolist().index(calibration.tau)] == pytest.approx(max(f1))
