"""The head a run trains follows the status mix; run.head overrides; each head its thresholds."""

from __future__ import annotations

import pytest

from zpml_data.errors import ConfigError
from zpml_train.model.gated import GatedHead
from zpml_train.model.gated_loss import GatedLoss
from zpml_train.model.heads import RationalHead
from zpml_train.model.losses import SCMTrainingLoss
from zpml_train.run.head_choice import build_model, choose_head, default_thresholds
from zpml_train.run.settings import RunSettings


@pytest.mark.parametrize(
    ("counts", "head", "words"),
    [
        ({"finite": 90, "bottom": 10}, "rational", "10 bottom rows (poles)"),
        ({"finite": 60, "censored_below": 30, "fault": 2}, "gated", "30 censored_below, 2 fault"),
        ({"finite": 9, "domain_invalid": 1, "missing": 5}, "gated", "1 domain_invalid rows"),
        ({"finite": 9, "censored_above": 1, "bottom": 3}, "gated", "learned poorly"),
        ({"finite": 9, "missing": 1}, "gated", "no ⊥ rows"),
    ],
)
def test_the_head_follows_the_status_mix(counts: dict, head: str, words: str) -> None:
    choice = choose_head(counts)
    assert choice.head == head and words in choice.reason
    assert choice.reason.startswith(f"head: {head}")


def test_run_head_overrides_the_mix() -> None:
    censored = {"finite": 5, "censored_below": 5}
    assert choose_head(censored, "rational").head == "rational"
    assert choose_head({"bottom": 5}, "gated").reason == "head: gated (set by run.head)"
    with pytest.raises(ConfigError, match="head must be one of 'auto', 'rational', 'gated'"):
        RunSettings(head="tobit")  # type: ignore[arg-type]


def test_each_head_brings_its_loss_and_its_thresholds_unless_the_config_sets_them() -> None:
    settings = RunSettings(hidden=(4,))
    gated, gated_loss = build_model(choose_head({"fault": 1}), settings, 3, 1)
    rational, rational_loss = build_model(choose_head({"bottom": 1}), settings, 3, 1)
    assert isinstance(gated.head, GatedHead) and isinstance(gated_loss, GatedLoss)
    assert isinstance(rational.head, RationalHead) and isinstance(rational_loss, SCMTrainingLoss)
    assert default_thresholds(gated, {})["tau_infer"] == 0.5
    assert default_thresholds(rational, {}) == dict(RationalHead.DEFAULT_THRESHOLDS)
    chosen = default_thresholds(rational, {"tau_infer": 0.02, "max_epochs": 3})
    assert chosen == {
        "tau_infer": 0.02,
        "tau_train_min": 0.05,
        "tau_train_max": 0.1,
        "max_epochs": 3,
    }


def test_a_configured_tau_infer_alone_lifts_the_head_s_training_thresholds() -> None:
    settings = RunSettings(hidden=(4,))
    gated, _ = build_model(choose_head({"fault": 1}), settings, 3, 1)
    chosen = default_thresholds(gated, {"tau_infer": 0.7})
    assert chosen == {"tau_infer": 0.7, "tau_train_min": 0.7, "tau_train_max": 0.7}
    rational, _ = build_model(choose_head({"bottom": 1}), settings, 3, 1)
    kept = default_thresholds(rational, {"tau_infer": 0.08, "tau_train_max": 0.09})
    assert kept == {"tau_infer": 0.08, "tau_train_min": 0.08, "tau_train_max": 0.09}
