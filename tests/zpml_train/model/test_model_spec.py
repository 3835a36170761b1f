"""model_spec, build_model, ModelRecord: plain data that rebuilds a model, checked as untrusted."""

from __future__ import annotations

import json

import pytest
import torch

from zpml_data.errors import ConfigError
from zpml_train import ProjectiveMLP
from zpml_train.model.spec import ModelRecord, build_model, model_spec


@pytest.mark.parametrize("head", ["rational", "gated"])
def test_a_spec_rebuilds_a_model_that_takes_the_same_weights_and_gives_the_same_outputs(head):
    torch.manual_seed(0)
    model = ProjectiveMLP(4, 2, (8, 5), head=head)
    spec = model_spec(model)
    assert json.loads(json.dumps(spec)) == spec
    rebuilt = build_model(spec)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(7, 4)
    assert torch.equal(model(x)[0], rebuilt(x)[0]) and torch.equal(model(x)[1], rebuilt(x)[1])


def test_a_softplus_rational_head_keeps_its_floor():
    spec = model_spec(ProjectiveMLP(2, 1, (), q_param="softplus", q_min=0.25))
    assert (spec["q_param"], spec["q_min"], spec["hidden"]) == ("softplus", 0.25, [])
    assert build_model(spec).bottom_capability(0.1) == "unreachable_by_construction"


GOOD = model_spec(ProjectiveMLP(3, 1, (8,)))


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"architecture": "GPT"}, r"architecture must be one of 'ProjectiveMLP'; got 'GPT'"),
        ({"head": "lstm"}, r"head must be one of 'rational', 'gated'"),
        ({"extra": 1}, r"unknown key\(s\) 'extra'"),
        ({"hidden": "64"}, r"hidden must be a list"),
        ({"hidden": [8, -1]}, r"hidden\[\] must be between 1 and"),
        ({"input_dim": True}, r"input_dim must be an integer"),
        ({"q_min": float("nan")}, r"q_min must be a finite number"),
        ({"hidden": [65_536] * 3}, r"a model of [\d,]+ parameters .* too large to load here"),
    ],
)
def test_an_untrusted_spec_is_refused_by_name_before_anything_is_built(change, pattern):
    with pytest.raises(ConfigError, match=f"^ckpt.pt: {pattern}"):
        build_model({**GOOD, **change}, "ckpt.pt")
    missing = {k: v for k, v in GOOD.items() if k != "hidden"}
    with pytest.raises(ConfigError, match=r"missing key\(s\) 'hidden'"):
        build_model(missing)


def test_a_record_round_trips_and_refuses_what_it_does_not_know():
    record = ModelRecord(
        GOOD, ["a", "b", "c"], ["y"], 0.5, 1e-6, 0.5, {}, ["status"], {"finite": 3, "bottom": 1}
    )
    data = json.loads(json.dumps(record.to_dict()))
    assert ModelRecord.from_dict(data) == record
    with pytest.raises(ConfigError, match=r"^m.pt: model record version 2; this zpml reads"):
        ModelRecord.from_dict({**data, "version": 2}, "m.pt")
    with pytest.raises(ConfigError, match=r"not a zpml model record"):
        ModelRecord.from_dict({**data, "format": "other"}, "m.pt")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'pickle'"):
        ModelRecord.from_dict({**data, "pickle": 1}, "m.pt")
    with pytest.raises(ConfigError, match=r"2 inputs and 1 targets, but the model has 3 and 1"):
        ModelRecord.from_dict({**data, "inputs": ["a", "b"]}, "m.pt")
    with pytest.raises(ConfigError, match=r"inputs holds 3, not a column name"):
        ModelRecord.from_dict({**data, "inputs": ["a", "b", 3]}, "m.pt")
    with pytest.raises(ConfigError, match=r"tau_infer must be > 0"):
        ModelRecord.from_dict({**data, "tau_infer": 0.0}, "m.pt")
    with pytest.raises(ConfigError, match=r"status_counts must map status labels"):
        ModelRecord.from_dict({**data, "status_counts": {"Finite": 3}}, "m.pt")
