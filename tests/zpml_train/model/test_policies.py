"""GradientPolicy: the context manager, the tensor rule, and heads gating bottom paths."""

from __future__ import annotations

import pytest
import torch

from zpml_data.errors import ConfigError
from zpml_train import GradientPolicy, RationalHead
from zpml_train.model.losses import rejection_loss
from zpml_train.model.policies import active_gradient_policy, apply_gradient_policy, gradient_policy

pytestmark = pytest.mark.usefixtures("single_thread")


def test_the_context_sets_and_restores_the_policy_even_on_error() -> None:
    assert active_gradient_policy() is None
    with gradient_policy(GradientPolicy.CLAMP, tau=0.5):
        assert active_gradient_policy() == (GradientPolicy.CLAMP, 0.5)
        with gradient_policy("reject"):
            assert active_gradient_policy().policy is GradientPolicy.REJECT  # type: ignore[union-attr]
        assert active_gradient_policy().policy is GradientPolicy.CLAMP  # type: ignore[union-attr]
    with pytest.raises(RuntimeError, match="boom"), gradient_policy("project"):
        raise RuntimeError("boom")
    assert active_gradient_policy() is None


def test_policies_parse_from_value_or_name() -> None:
    assert GradientPolicy.parse("pass") is GradientPolicy.PASSTHROUGH
    assert GradientPolicy.parse("PASSTHROUGH") is GradientPolicy.PASSTHROUGH
    with pytest.raises(
        ConfigError, match=r"must be one of 'clamp', 'project', 'reject', 'pass'; got 'x'"
    ):
        GradientPolicy.parse("x")
    with (
        pytest.raises(ConfigError, match=r"tau must be >= 0.0, got -1.0"),
        gradient_policy("clamp", tau=-1.0),
    ):
        pass


GRAD = torch.tensor([[3.0, -0.5], [0.25, -4.0], [1.0, 1.0]])
BOTTOM = torch.tensor([[True, False], [False, False], [False, True]])


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (GradientPolicy.PASSTHROUGH, [[3.0, -0.5], [0.25, -4.0], [1.0, 1.0]]),
        (GradientPolicy.PROJECT, [[0.0, -0.5], [0.25, -4.0], [1.0, 0.0]]),
        (GradientPolicy.CLAMP, [[0.0, -0.5], [0.25, -1.0], [1.0, 0.0]]),
        (GradientPolicy.REJECT, [[0.0, 0.0], [0.25, -4.0], [0.0, 0.0]]),
    ],
)
def test_each_policy_rewrites_bottom_path_gradients(policy: GradientPolicy, expected: list) -> None:
    assert apply_gradient_policy(GRAD, BOTTOM, policy).tolist() == expected


def _head_input_grads(policy: GradientPolicy | None) -> torch.Tensor:
    """Gradients reaching the head's inputs; Q = the first feature, so rows 0 and 2 are ⊥."""
    head = RationalHead(2, 1)
    with torch.no_grad():
        head.numerator.weight.copy_(torch.tensor([[0.0, 5.0]]))
        head.numerator.bias.zero_()
        head.denominator.weight.copy_(torch.tensor([[1.0, 0.0]]))
        head.denominator.bias.zero_()
    features = torch.tensor([[0.0, 1.0], [2.0, 1.0], [1e-3, 1.0]], requires_grad=True)
    context = gradient_policy(policy, tau=0.01) if policy else torch.enable_grad()
    with context:
        P, Q = head(features)
    (10 * P + Q).sum().backward()  # dL/dP = 10: CLAMP cuts it to 1
    assert features.grad is not None
    return features.grad


def test_heads_gate_gradients_on_bottom_paths_only_under_a_policy() -> None:
    free = _head_input_grads(None)
    assert free.tolist() == [[1.0, 50.0]] * 3
    assert _head_input_grads(GradientPolicy.PASSTHROUGH).tolist() == free.tolist()
    projected = _head_input_grads(GradientPolicy.PROJECT)
    assert projected.tolist() == [[0.0, 0.0], [1.0, 50.0], [0.0, 0.0]]
    clamped = _head_input_grads(GradientPolicy.CLAMP)
    assert clamped.tolist() == [[0.0, 0.0], [1.0, 5.0], [0.0, 0.0]]


def test_rejection_loss_is_zero_under_reject() -> None:
    bottom = torch.tensor([True, True, False, False])
    assert float(rejection_loss(bottom)) == pytest.approx((0.95 - 0.5) ** 2)
    with gradient_policy(GradientPolicy.REJECT):
        assert float(rejection_loss(bottom)) == 0.0
    assert float(rejection_loss(bottom, policy=GradientPolicy.REJECT)) == 0.0
