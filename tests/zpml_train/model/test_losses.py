"""SCM losses against the reference package, masking of `missing`, SCMTrainingLoss."""

from __future__ import annotations

import inspect

import pytest
import torch
import zeroproof.losses as reference

from tests.zpml_train._helpers import make_rows
from zpml_data import lift_semantic_targets
from zpml_data.errors import ConfigError, ShapeError
from zpml_data.status import Status
from zpml_train import SCMTrainingLoss
from zpml_train.model import losses as ours

pytestmark = pytest.mark.usefixtures("single_thread")


def _tuples(n: int = 400, seed: int = 0) -> tuple[torch.Tensor, ...]:
    _, values, codes = make_rows(n, seed=seed)
    targets = lift_semantic_targets(values, codes)
    generator = torch.Generator().manual_seed(seed)
    P = torch.randn(n, generator=generator) * 3
    Q = torch.randn(n, generator=generator) * 1e-2
    return P, Q, targets.Y_n, targets.Y_d, targets.mask_finite, targets.mask_bottom


@pytest.mark.parametrize(
    "name", ["implicit_loss", "margin_loss", "sign_consistency_loss", "rejection_loss"]
)
def test_positional_signatures_match_the_reference(name: str) -> None:
    def positional(fn: object) -> list[str]:
        return [
            p.name
            for p in inspect.signature(fn).parameters.values()  # type: ignore[arg-type]
            if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        ]

    ref_params = inspect.signature(getattr(reference, name)).parameters
    our_params = inspect.signature(getattr(ours, name)).parameters
    assert positional(getattr(ours, name)) == positional(getattr(reference, name))
    for param in ref_params:  # every reference keyword exists, with the same default
        assert our_params[param].default == ref_params[param].default, param


def test_each_loss_equals_the_reference() -> None:
    P, Q, Y_n, Y_d, finite, bottom = _tuples()
    pairs = [
        (ours.implicit_loss(P, Q, Y_n, Y_d), reference.implicit_loss(P, Q, Y_n, Y_d)),
        (
            ours.implicit_loss(P, Q, Y_n, Y_d, 1e-3, detach_scale=True),
            reference.implicit_loss(P, Q, Y_n, Y_d, 1e-3, detach_scale=True),
        ),
        (ours.margin_loss(Q, 5e-3), reference.margin_loss(Q, 5e-3)),
        (ours.margin_loss(Q, 5e-3, finite), reference.margin_loss(Q, 5e-3, finite)),
        (
            ours.margin_loss(Q, 5e-3, finite, reduction="conditional"),
            reference.margin_loss(Q, 5e-3, finite, reduction="conditional"),
        ),
        (
            ours.sign_consistency_loss(P, Q, Y_n, Y_d),
            reference.sign_consistency_loss(P, Q, Y_n, Y_d),
        ),
        (
            ours.sign_consistency_loss(P, Q, Y_n, Y_d, 1e-6, bottom),
            reference.sign_consistency_loss(P, Q, Y_n, Y_d, 1e-6, bottom),
        ),
        (ours.rejection_loss(Q.abs() < 5e-3, 0.9), reference.rejection_loss(Q.abs() < 5e-3, 0.9)),
    ]
    for mine, theirs in pairs:
        torch.testing.assert_close(mine, theirs, rtol=1e-6, atol=1e-7)


def test_sign_consistency_survives_huge_outputs() -> None:
    P = torch.tensor([1e30, -1e30])
    loss = ours.sign_consistency_loss(P, torch.zeros(2), torch.tensor([1.0, 1.0]), torch.zeros(2))
    assert float(loss) == pytest.approx(1.0)  # half right (cos 1), half wrong (cos -1)


def test_masked_rows_change_neither_loss_nor_gradient() -> None:
    P, Q, Y_n, Y_d, finite, bottom = _tuples()
    keep = torch.arange(P.shape[0]) % 3 != 0
    for loss in (
        lambda p, q, yn, yd, f, b, m: ours.implicit_loss(p, q, yn, yd, mask=m),
        lambda p, q, yn, yd, f, b, m: ours.margin_loss(q, 5e-3, f, mask=m),
        lambda p, q, yn, yd, f, b, m: ours.sign_consistency_loss(p, q, yn, yd, 1e-9, b, mask=m),
        lambda p, q, yn, yd, f, b, m: ours.rejection_loss(q.abs() < 5e-3, mask=m),
    ):
        full_p = P.clone().requires_grad_()
        subset_p = P[keep].clone().requires_grad_()
        on_full = loss(full_p, Q, Y_n, Y_d, finite, bottom, keep)
        on_subset = loss(subset_p, Q[keep], Y_n[keep], Y_d[keep], finite[keep], bottom[keep], None)
        torch.testing.assert_close(on_full, on_subset)
        if on_full.requires_grad:
            on_full.backward()
            on_subset.backward()
            assert full_p.grad is not None and subset_p.grad is not None
            assert not full_p.grad[~keep].any()
            torch.testing.assert_close(full_p.grad[keep], subset_p.grad)


def test_scm_training_loss_equals_the_reference_combination() -> None:
    P, Q, Y_n, Y_d, finite, _ = _tuples()
    _, values, codes = make_rows(400)
    tau = 5e-3
    mine = SCMTrainingLoss()(
        (P, Q), (Y_n, Y_d), semantic_targets=lift_semantic_targets(values, codes), tau=tau
    )
    fit = reference.implicit_loss(P, Q, Y_n, Y_d)
    theirs, _ = reference.SCMTrainingLoss()(
        fit, P, Q, Y_n, Y_d, is_bottom=Q.abs() < tau, mask_finite=finite, tau_train=tau
    )
    torch.testing.assert_close(mine, theirs)


def test_scm_training_loss_ignores_missing_rows() -> None:
    inputs, values, codes = make_rows(300, seed=3)
    model = torch.nn.Linear(3, 2)
    loss_fn = SCMTrainingLoss()
    missing = codes == Status.MISSING

    def loss_and_grads(values: torch.Tensor, codes: torch.Tensor, rows: torch.Tensor) -> tuple:
        model.zero_grad()
        out = model(inputs[rows])
        targets = lift_semantic_targets(values[rows], codes[rows])
        loss = loss_fn(
            (out[:, 0], out[:, 1]), (targets.Y_n, targets.Y_d), semantic_targets=targets, tau=1e-2
        )
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]  # type: ignore[union-attr]

    relabelled = codes.clone()
    relabelled[::4] = Status.MISSING
    garbage = values.clone()
    garbage[::4] = 1e6  # a missing row's value is never read
    assert not missing.any()
    with_missing = loss_and_grads(garbage, relabelled, torch.arange(300))
    without = loss_and_grads(values, codes, torch.arange(300)[relabelled != Status.MISSING])
    torch.testing.assert_close(with_missing[0], without[0])
    for a, b in zip(with_missing[1], without[1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)  # summation order differs


def test_loss_weights_override_per_call_and_refuse_unknown_terms() -> None:
    P, Q, Y_n, Y_d, *_ = _tuples()
    loss_fn = SCMTrainingLoss({"margin": 0.0, "sign": 0.0, "rejection": 0.0})
    total = loss_fn((P, Q), (Y_n, Y_d))
    torch.testing.assert_close(total, loss_fn.last_components["fit"])
    fit_off = loss_fn((P, Q), (Y_n, Y_d), loss_weights={"fit": 0.0, "sign": 2.0})
    torch.testing.assert_close(fit_off, 2 * loss_fn.last_components["sign"])
    with pytest.raises(
        ConfigError,
        match=r"unknown term 'implicit'; SCMTrainingLoss weighs 'fit', 'margin', 'sign', "
        r"'rejection'",
    ):
        loss_fn((P, Q), (Y_n, Y_d), loss_weights={"implicit": 1.0})
    with pytest.raises(ConfigError, match=r"loss_weights\['sign'\] must be >= 0.0, got -2"):
        SCMTrainingLoss({"sign": -2})
    SCMTrainingLoss({"sign": ours.MAX_LOSS_WEIGHT})  # the bound itself is a weight
    with pytest.raises(ConfigError, match=r"loss_weights\['fit'\] = 1e\+308 is above 1e\+06"):
        loss_fn((P, Q), (Y_n, Y_d), loss_weights={"fit": 1e308})


def test_outputs_are_matched_to_the_targets_shape() -> None:
    loss_fn = SCMTrainingLoss()
    targets = (torch.ones(4), torch.ones(4))
    column = torch.ones(4, 1)
    assert loss_fn((column, column), targets).shape == ()
    with pytest.raises(ShapeError, match=r"P \(4, 2\), Q \(4, 2\) do not match targets \(4,\)"):
        loss_fn((torch.ones(4, 2), torch.ones(4, 2)), targets)
    with pytest.raises(
        ShapeError, match=r"the model returned dict; a projective model returns \(P, Q\)"
    ):
        loss_fn({}, targets)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ours.implicit_loss(*[torch.ones(2)] * 4, gamma=-1.0), r"gamma must be >= 0.0"),
        (
            lambda: ours.margin_loss(torch.ones(2), float("inf")),
            r"tau_train must be a finite number",
        ),
        (lambda: ours.margin_loss(torch.ones(2), reduction="sum"), r"reduction must be one of"),  # type: ignore[arg-type]
        (
            lambda: ours.rejection_loss(torch.ones(2, dtype=torch.bool), 2.0),
            r"target_coverage must be between",
        ),
    ],
)
def test_bad_loss_arguments_are_refused(call, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call()
