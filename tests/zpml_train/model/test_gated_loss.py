"""GatedLoss: the Tobit term, gate, side and kind targets, missing rows, the protocol."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from zpml_data import lift_semantic_targets
from zpml_data.errors import ConfigError, UsageError
from zpml_data.status import Status
from zpml_train.model.gated import GatedHead, GatedOutputs
from zpml_train.model.gated_loss import GatedLoss
from zpml_train.training._protocol import LossProtocol


def _outputs(latent, *, gate=0.0, side=0.0, kind=(0.0, 0.0, 0.0), log_sigma=0.0):
    """Hand-made GatedOutputs ``[B, 1]`` whose parts are leaves that record gradients."""
    latent = torch.as_tensor(latent, dtype=torch.float32).reshape(-1, 1).requires_grad_()
    rows = latent.shape[0]

    def leaf(value, *shape):
        return torch.full(shape, float(value)).requires_grad_()

    kind_logits = torch.tensor(kind, dtype=torch.float32).expand(rows, 1, 3).clone()
    return GatedOutputs(
        P=latent.detach().clone(),
        Q=torch.ones(rows, 1),
        latent=latent,
        gate_logit=leaf(gate, rows, 1),
        side_logit=leaf(side, rows, 1),
        kind_logits=kind_logits.requires_grad_(),
        log_sigma=leaf(log_sigma, rows, 1),
    )


def _loss(out, values, statuses, **kwargs):
    values = torch.tensor(values, dtype=torch.float32)
    codes = torch.tensor([int(s) for s in statuses], dtype=torch.int8)
    targets = lift_semantic_targets(values, codes)
    loss = GatedLoss(**kwargs)
    total = loss(out, (targets.Y_n, targets.Y_d), semantic_targets=targets, values=values)
    return total, loss


@pytest.mark.parametrize(
    ("status", "start", "limit"),
    [(Status.CENSORED_ABOVE, 3.0, 5.0), (Status.CENSORED_BELOW, 7.0, 5.0)],
)
def test_the_tobit_term_pushes_the_latent_to_the_right_side_of_the_limit(status, start, limit):
    latent = torch.tensor([[start]], requires_grad=True)
    optimizer = torch.optim.SGD([latent], lr=0.5)
    for _ in range(50):
        out = _outputs(0.0)._replace(latent=latent)
        total, _ = _loss(out, [limit], [status], loss_weights={"gate": 0, "side": 0, "kind": 0})
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    if status is Status.CENSORED_ABOVE:
        assert latent.item() > limit + 0.5
    else:
        assert latent.item() < limit - 0.5


def test_a_censored_row_on_the_right_side_costs_little_and_on_the_wrong_side_a_lot():
    weights = {"gate": 0, "side": 0, "kind": 0}
    right, _ = _loss(_outputs([9.0]), [5.0], [Status.CENSORED_ABOVE], loss_weights=weights)
    wrong, _ = _loss(_outputs([1.0]), [5.0], [Status.CENSORED_ABOVE], loss_weights=weights)
    assert right.item() < 1e-3 < 5.0 < wrong.item()


def test_finite_rows_fit_the_value_with_a_gaussian_likelihood():
    out = _outputs([2.0], log_sigma=0.0)
    total, _ = _loss(out, [5.0], [Status.FINITE], loss_weights={"gate": 0})
    assert total.item() == pytest.approx(0.5 * 3.0**2)
    total.backward()
    assert out.latent.grad.item() == pytest.approx(-3.0)  # towards the value
    # σ grows when the residual is larger than σ: d/dℓ (½r²e^{-2ℓ} + ℓ) = 1 − r² < 0.
    assert out.log_sigma.grad.item() == pytest.approx(1 - 9.0)


def test_without_limits_censored_rows_do_not_train_the_latent():
    out = _outputs([1.0])
    codes = torch.tensor([int(Status.CENSORED_ABOVE)], dtype=torch.int8)
    targets = lift_semantic_targets(torch.tensor([5.0]), codes)
    GatedLoss()(out, (targets.Y_n, targets.Y_d), semantic_targets=targets).backward()
    assert out.latent.grad.item() == 0.0
    assert out.gate_logit.grad.item() > 0  # still closes the gate


@pytest.mark.parametrize(
    ("status", "side_sign", "kind_class"),
    [
        (Status.CENSORED_BELOW, +1, 0),
        (Status.CENSORED_ABOVE, -1, 0),
        (Status.DOMAIN_INVALID, 0, 1),
        (Status.BOTTOM, 0, 1),
        (Status.FAULT, 0, 2),
    ],
)
def test_every_bottom_closes_the_gate_and_learns_its_side_and_kind(status, side_sign, kind_class):
    out = _outputs([0.0])
    total, _ = _loss(out, [np.nan if status is not Status.CENSORED_BELOW else 2.0], [status])
    total.backward()
    assert out.gate_logit.grad.item() > 0  # gradient descent lowers g
    # The side's gradient: positive pushes it below (side target 0), negative above.
    assert np.sign(out.side_logit.grad.item()) == side_sign
    kind_grad = out.kind_logits.grad[0, 0]
    assert int(kind_grad.argmin()) == kind_class


def test_a_finite_row_opens_the_gate_and_leaves_side_and_kind_alone():
    out = _outputs([0.0])
    total, _ = _loss(out, [1.0], [Status.FINITE])
    total.backward()
    assert out.gate_logit.grad.item() < 0
    assert out.side_logit.grad.item() == 0.0
    assert not out.kind_logits.grad.any()


def test_the_loss_is_a_mean_over_trained_rows_and_reports_its_terms():
    one, loss = _loss(_outputs([1.0]), [2.0], [Status.FINITE])
    many, _ = _loss(_outputs([1.0] * 4), [2.0] * 4, [Status.FINITE] * 4)
    assert many.item() == pytest.approx(one.item())
    assert set(loss.last_components) == {"value", "gate", "side", "kind"}
    assert sum(loss.last_components.values()).item() == pytest.approx(one.item())


_TRAINED = [s for s in Status if s is not Status.MISSING]


@settings(max_examples=40, deadline=None)
@given(
    statuses=st.lists(st.sampled_from(_TRAINED), min_size=1, max_size=12),
    extra=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_missing_rows_add_nothing(statuses, extra, seed):
    generator = torch.Generator().manual_seed(seed)
    head = GatedHead(3, 1)
    head.set_value_scaling(4.0, 2.0)
    rows = len(statuses) + extra
    features = torch.randn(rows, 3, generator=generator)
    values = (torch.randn(rows, generator=generator) * 3 + 4).tolist()
    codes = list(statuses) + [Status.MISSING] * extra
    values = [
        np.nan if s in (Status.DOMAIN_INVALID, Status.FAULT, Status.BOTTOM) else v
        for s, v in zip(codes, values, strict=True)
    ]

    def loss_and_grads(n):
        head.zero_grad()
        total, _ = _loss(head(features[:n]), values[:n], codes[:n])
        total.backward()
        return total.detach(), [p.grad.clone() for p in head.parameters()]

    without, grads_without = loss_and_grads(len(statuses))
    with_missing, grads_with = loss_and_grads(rows)
    torch.testing.assert_close(with_missing, without)
    for a, b in zip(grads_with, grads_without, strict=True):
        torch.testing.assert_close(a, b)


def test_a_batch_of_only_missing_rows_costs_zero():
    total, _ = _loss(_outputs([3.0, 4.0]), [np.nan, 1.0], [Status.MISSING, Status.MISSING])
    assert total.item() == 0.0


def test_it_refuses_what_it_cannot_train_on():
    codes = torch.tensor([int(Status.FINITE)], dtype=torch.int8)
    targets = lift_semantic_targets(torch.tensor([1.0]), codes)
    pair = (torch.ones(1, 1), torch.ones(1, 1))
    with pytest.raises(UsageError, match=r"gated head's outputs.*head='gated'"):
        GatedLoss()(pair, (targets.Y_n, targets.Y_d), semantic_targets=targets)
    with pytest.raises(UsageError, match="needs semantic_targets"):
        GatedLoss()(_outputs([1.0]), (targets.Y_n, targets.Y_d))
    with pytest.raises(ConfigError, match="unknown term 'fit'"):
        GatedLoss({"fit": 1.0})
    with pytest.raises(ConfigError, match="loss_weights\\['side'\\]"):
        GatedLoss({"side": -1.0})


def test_the_trainer_passes_it_the_masks():
    protocol = LossProtocol.of(GatedLoss())
    assert protocol.masks_missing
