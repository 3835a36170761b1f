"""Run settings and config files: one unknown-key check for both tables, Literal choices."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from zpml_data.errors import ConfigError
from zpml_train.run.settings import HEAD_DEFAULTS, RunSettings, load_run_config
from zpml_train.training.config import TrainingConfig


def test_both_tables_refuse_unknown_keys_by_name_in_the_same_words(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^f.toml: unknown run settings key\(s\) 'batch'; known"):
        RunSettings.from_dict({"batch": 3}, where="f.toml")
    with pytest.raises(ConfigError, match=r"^unknown training config key\(s\) 'epochs'; known"):
        TrainingConfig.from_dict({"epochs": 3})
    config = tmp_path / "c.toml"
    config.write_text("lr = 0.1\n[run]\nseed = 1\n")
    with pytest.raises(ConfigError, match=r"c.toml: unknown top-level key\(s\) 'lr'"):
        load_run_config(config)


def test_tables_are_read_apart_and_a_flat_file_is_training_settings(tmp_path: Path) -> None:
    both = tmp_path / "both.yaml"
    both.write_text("training:\n  max_epochs: 4\nrun:\n  head: gated\n  patience: 3\n")
    training, run = load_run_config(both)
    assert training == {"max_epochs": 4} and RunSettings.from_dict(run).patience == 3
    flat = tmp_path / "flat.toml"
    flat.write_text("max_epochs = 2\n")
    assert load_run_config(flat) == ({"max_epochs": 2}, {})
    assert load_run_config(None) == ({}, {})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("balance", "label", "balance must be one of 'none', 'status'"),
        ("q_param", "exp", "q_param must be one of 'none', 'softplus'"),
        ("head", "tobit", "head must be one of 'auto', 'rational', 'gated'"),
        ("patience", 0, "patience must be >= 1"),
        ("hidden", 8, "hidden must be a list of layer widths"),
    ],
)
def test_bad_settings_name_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RunSettings.from_dict({field: value})


def test_defaults() -> None:
    settings = RunSettings()
    assert (settings.head, settings.balance, settings.q_param) == ("auto", "none", "none")
    assert settings.patience == 10 and TrainingConfig().coverage_threshold is None


def test_batch_size_lr_and_epochs_are_the_heads_unless_the_settings_name_them() -> None:
    assert (RunSettings().batch_size, RunSettings().lr) == (None, None)  # the head's
    settings, gated = RunSettings().for_head("gated")
    assert (settings.batch_size, settings.lr) == (gated.batch_size, gated.lr) == (1024, 3e-2)
    # The assay's 16,000 rows are 16 batches an epoch: 8 epochs; a survival table of
    # 302 rows is one batch an epoch: 128 epochs, unless --patience stops it first.
    assert (gated.max_epochs(16), gated.max_epochs(1), gated.max_epochs(10**6)) == (8, 128, 8)
    settings, rational = RunSettings().for_head("rational")
    assert (settings.batch_size, settings.lr, rational.max_epochs(1)) == (128, 3e-3, 60)
    settings, named = RunSettings(batch_size=64, lr=0.5).for_head("gated")
    assert (settings.batch_size, settings.lr, named.batch_size, named.lr) == (64, 0.5, 64, 0.5)
    assert named.max_epochs(3) == HEAD_DEFAULTS["gated"].max_epochs(3) == 43


def test_the_cosine_schedule_falls_from_lr_to_zero_over_its_steps_and_stays() -> None:
    import torch

    from zpml_train.run.run import cosine

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.2)
    schedule = cosine(optimizer, 10)
    rates = []
    for _ in range(12):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == 0.2 and rates[5] == pytest.approx(0.1) and rates[10:] == [0.0, 0.0]
    assert all(a >= b for a, b in itertools.pairwise(rates))
    with pytest.raises(ConfigError, match="lr_schedule must be one of 'cosine', 'constant'"):
        RunSettings.from_dict({"lr_schedule": "step"})
