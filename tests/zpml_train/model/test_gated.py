"""GatedHead: shapes, value units, capability, ProjectiveMLP(head=...), and the wrong-side trap."""

import math

import pytest
import torch

from zpml_data.errors import ConfigError
from zpml_data.status import Status
from zpml_train import Batch, ProjectiveMLP, SCMTrainer, TrainingConfig, decode
from zpml_train.model.gated import KIND_CLASSES, GatedHead, GatedOutputs
from zpml_train.model.gated_loss import GatedLoss
from zpml_train.model.heads import RationalHead
from zpml_train.model.losses import projective_outputs


def test_outputs_have_the_contracted_fields_and_shapes():
    head = GatedHead(16, 3)
    out = head(torch.randn(5, 16))
    assert isinstance(out, GatedOutputs)
    assert out._fields[:6] == ("P", "Q", "latent", "gate_logit", "side_logit", "kind_logits")
    for name in ("P", "Q", "latent", "gate_logit", "side_logit", "log_sigma"):
        assert getattr(out, name).shape == (5, 3), name
    assert out.kind_logits.shape == (5, 3, len(KIND_CLASSES))
    assert KIND_CLASSES == ("censored", "domain_invalid_or_bottom", "fault")
    assert bool(((out.Q > 0) & (out.Q < 1)).all())


def test_p_over_q_is_the_latent_plus_a_side_term_that_fades_as_the_gate_opens():
    head = GatedHead(4, 2)
    head.set_value_scaling(torch.tensor([40.0, -3.0]), torch.tensor([30.0, 0.5]))
    out = head(torch.randn(64, 4))
    gate = torch.sigmoid(out.gate_logit)
    side = torch.tanh(out.side_logit / 2)
    scale = torch.tensor([30.0, 0.5])
    expected = out.latent + scale * side * (1 - gate) ** 2 / gate
    torch.testing.assert_close(out.P / out.Q, expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out.Q, gate)
    # sigma in value units: the learned log-sigma (0 at init) plus log of the scale.
    torch.testing.assert_close(out.log_sigma[0], scale.log())


def test_value_scaling_sets_the_latent_units_and_refuses_nothing_silently():
    head = GatedHead(3, 1)
    features = torch.randn(8, 3)
    standardised = head(features).latent
    head.set_value_scaling(10.0, 4.0)
    torch.testing.assert_close(head(features).latent, 4.0 * standardised + 10.0)
    head.set_value_scaling(float("nan"), 0.0)  # bad statistics: the identity
    torch.testing.assert_close(head(features).latent, standardised)
    assert head.value_scale.item() == 1.0 and head.value_shift.item() == 0.0


def test_a_fresh_head_decodes_finite_at_its_default_threshold():
    model = ProjectiveMLP(3, 1, (8,), head="gated")
    P, Q = projective_outputs(model(torch.randn(200, 3)), torch.zeros(200, 1))
    tau = GatedHead.DEFAULT_THRESHOLDS["tau_infer"]
    assert not decode(P, Q, tau).bottom.any()


@pytest.mark.parametrize("tau", [1e-6, 0.05, 0.5, 0.999])
def test_bottom_is_reachable_below_one(tau):
    assert GatedHead(2, 1).bottom_capability(tau) == "reachable"
    assert ProjectiveMLP(2, 1, head="gated").bottom_capability(tau) == "reachable"


@pytest.mark.parametrize("tau", [1.0, 2.5])
def test_a_threshold_of_one_or_more_is_refused(tau):
    with pytest.raises(ConfigError, match=r"tau_infer=.* at or above 1.*choose 0 < tau_infer < 1"):
        GatedHead(2, 1).bottom_capability(tau)


@pytest.mark.parametrize("tau", [0.0, -1.0, math.nan])
def test_a_threshold_not_above_zero_is_refused(tau):
    with pytest.raises(ConfigError, match="tau_infer"):
        GatedHead(2, 1).bottom_capability(tau)


def test_projective_mlp_chooses_its_head():
    assert isinstance(ProjectiveMLP(2, 1).head, RationalHead)
    gated = ProjectiveMLP(2, 1, head="gated")
    assert isinstance(gated.head, GatedHead) and gated.head_name == "gated"
    assert isinstance(gated(torch.randn(4, 2)), GatedOutputs)
    assert "GatedHead" in gated.describe()
    with pytest.raises(ConfigError, match="head"):
        ProjectiveMLP(2, 1, head="tree")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"q_param='softplus'.*gated head"):
        ProjectiveMLP(2, 1, head="gated", q_param="softplus")


def test_value_scaling_is_a_no_op_for_the_rational_head():
    model = ProjectiveMLP(2, 1)
    features = torch.randn(4, 2)
    before = model(features)
    model.set_value_scaling(100.0, 7.0)
    after = model(features)
    torch.testing.assert_close(before[0], after[0])
    torch.testing.assert_close(before[1], after[1])


@pytest.mark.parametrize("head", [RationalHead, GatedHead])
def test_each_head_has_default_thresholds_a_config_accepts(head):
    thresholds = dict(head.DEFAULT_THRESHOLDS)
    assert set(thresholds) == {"tau_infer", "tau_train_min", "tau_train_max"}
    config = TrainingConfig(**thresholds)
    assert config.tau_infer == thresholds["tau_infer"]


def test_default_thresholds_per_head():
    assert GatedHead.DEFAULT_THRESHOLDS["tau_infer"] == 0.5
    assert dict(RationalHead.DEFAULT_THRESHOLDS) == {
        "tau_infer": 0.05,
        "tau_train_min": 0.05,
        "tau_train_max": 0.1,
    }


def _censored_below_heavy(rows: int, seed: int) -> Batch:
    """Positive finite values, 70% censored below a limit of 12: the wrong-side trap's data."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(rows, 2, generator=generator) * 2 - 1
    response = 10.0 + 5.0 * x[:, 0] + 0.2 * torch.randn(rows, generator=generator)
    below = response < 12.0
    codes = torch.where(below, int(Status.CENSORED_BELOW), int(Status.FINITE)).to(torch.int8)
    values = torch.where(below, torch.full_like(response, 12.0), response)
    return Batch(x, values, codes)


@pytest.mark.usefixtures("single_thread")
def test_the_wrong_side_trap_no_longer_traps():
    # The shipped SCM loss puts every censored_below row of such data in the +⊥
    # basin (below-side ⊥ at most 0.03); the gated head's side term does not.
    torch.manual_seed(0)
    data = _censored_below_heavy(2048, seed=0)
    batches = [Batch(*(t[i : i + 128] for t in data[:3])) for i in range(0, 2048, 128)]
    model = ProjectiveMLP(2, 1, (16, 16), head="gated")
    finite = data.status_labels == Status.FINITE
    model.set_value_scaling(data.values[finite].mean(), data.values[finite].std())
    config = TrainingConfig(max_epochs=15, coverage_threshold=0.0, **GatedHead.DEFAULT_THRESHOLDS)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    SCMTrainer(model, optimizer, GatedLoss(), batches, config=config).fit()
    model.eval()
    with torch.no_grad():
        out = model(data.inputs)
    decoded = decode(out.P[:, 0], out.Q[:, 0], GatedHead.DEFAULT_THRESHOLDS["tau_infer"])
    below = data.status_labels == Status.CENSORED_BELOW
    assert below.float().mean() > 0.6
    on_the_below_side = (decoded.bottom & (decoded.side == -1))[below].float().mean()
    assert on_the_below_side > 0.8, on_the_below_side
    assert (~decoded.bottom)[finite].float().mean() > 0.8
