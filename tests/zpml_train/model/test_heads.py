"""Projective heads, their bottom capability, and strict decoding (reference as oracle)."""

from __future__ import annotations

import math

import pytest
import torch
from zeroproof.inference.mode import InferenceConfig, strict_inference

from zpml_data.errors import ConfigError
from zpml_train import ProjectiveMLP, RationalHead, decode

pytestmark = pytest.mark.usefixtures("single_thread")


def test_projective_mlp_emits_p_and_q_per_target() -> None:
    model = ProjectiveMLP(5, 3, hidden=(8,))
    P, Q = model(torch.randn(7, 5))
    assert P.shape == Q.shape == (7, 3)


def test_a_fresh_head_decodes_finite() -> None:
    torch.manual_seed(0)
    for q_param in ("none", "softplus"):
        with torch.no_grad():
            P, Q = ProjectiveMLP(4, 2, q_param=q_param)(torch.randn(256, 4))
        assert not decode(P, Q, 1e-6).bottom.any()
        assert 0.5 < float(Q.mean()) < 1.5


@pytest.mark.parametrize(
    ("q_param", "q_min", "tau_infer", "expected"),
    [
        ("none", 0.0, 1e-6, "reachable"),
        ("none", 5.0, 1e-6, "reachable"),  # q_min only floors softplus
        ("softplus", 0.0, 1e-6, "reachable"),
        ("softplus", 1e-7, 1e-6, "reachable"),
        ("softplus", 1e-6, 1e-6, "unreachable_by_construction"),
        ("softplus", 1e-3, 1e-6, "unreachable_by_construction"),
    ],
)
def test_bottom_capability_follows_the_softplus_floor(
    q_param: str, q_min: float, tau_infer: float, expected: str
) -> None:
    model = ProjectiveMLP(2, 1, q_param=q_param, q_min=q_min)  # type: ignore[arg-type]
    assert model.bottom_capability(tau_infer) == expected
    assert model.head.bottom_capability(tau_infer) == expected


def test_a_floored_head_never_goes_below_its_floor() -> None:
    head = RationalHead(1, 1, q_param="softplus", q_min=1e-3)
    with torch.no_grad():
        _, Q = head(torch.tensor([[-1e6], [0.0], [1e6]]))
    assert bool((Q >= 1e-3).all())


def test_capability_refuses_a_non_positive_tau_infer() -> None:
    with pytest.raises(ConfigError, match=r"tau_infer must be > 0.0, got 0.0"):
        ProjectiveMLP(2, 1).bottom_capability(0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"q_param": "exp"}, r"q_param must be one of 'none', 'softplus'; got 'exp'"),
        ({"q_min": -1.0}, r"q_min must be >= 0.0, got -1.0"),
        ({"hidden": (8, 0)}, r"hidden\[1\] must be >= 1, got 0"),
    ],
)
def test_bad_head_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ProjectiveMLP(2, 1, **kwargs)


def test_describe_names_the_head_and_its_parameterisation() -> None:
    text = ProjectiveMLP(2, 1, q_param="softplus", q_min=0.01).describe()
    assert text == "ProjectiveMLP with RationalHead(q_param='softplus', q_min=0.01)"


def test_decode_values_bottoms_and_sides() -> None:
    P = torch.tensor([3.0, -2.0, 2.0, 1.0, float("nan"), 1.0, 0.0])
    Q = torch.tensor([2.0, 1e-9, 0.0, float("inf"), 1.0, float("nan"), 0.0])
    values, bottom, side = decode(P, Q, 1e-6)
    assert bottom.tolist() == [False, True, True, True, True, True, True]
    assert values[0] == 1.5 and bool(values[1:].isnan().all())
    assert side.tolist() == [0, -1, 1, 1, 0, 1, 0]
    assert side.dtype == torch.int8


def test_decode_matches_the_reference_strict_inference() -> None:
    torch.manual_seed(1)
    P = torch.randn(500, 2) * 10
    Q = torch.randn(500, 2) * 1e-3
    Q[::7] = 0.0
    Q[3, 1] = float("inf")
    P[5, 0] = float("nan")
    tau = 5e-4
    ours = decode(P, Q, tau)
    reference = strict_inference(P, Q, config=InferenceConfig(tau_infer=tau))
    torch.testing.assert_close(ours.values, reference.decoded, equal_nan=True)
    assert torch.equal(ours.bottom, reference.bottom_mask)


def test_decode_refuses_a_threshold_that_vanishes_in_the_dtype() -> None:
    with pytest.raises(ConfigError, match=r"tau_infer=1e-08 rounds to 0 in torch.float16"):
        decode(torch.ones(2, dtype=torch.float16), torch.ones(2, dtype=torch.float16), 1e-8)
    with pytest.raises(ConfigError, match=r"tau_infer must be > 0.0, got -1"):
        decode(torch.ones(2), torch.ones(2), -1)


def test_softplus_floor_starts_near_one() -> None:
    head = RationalHead(3, 1, q_param="softplus")
    with torch.no_grad():
        head.denominator.weight.zero_()
        _, Q = head(torch.randn(4, 3))
        floor = float(torch.nn.functional.softplus(head.denominator.bias))
    torch.testing.assert_close(Q, torch.ones_like(Q))
    assert math.isclose(floor, 1.0, rel_tol=1e-6)
