"""TrainingConfig: checks at construction, files, serialisation."""

from __future__ import annotations

import json

import pytest
import torch

from zpml_data.errors import ConfigError, SourceError
from zpml_train import GradientPolicy, TrainingConfig

pytestmark = pytest.mark.usefixtures("single_thread")


def test_defaults_are_valid_and_round_trip_through_json() -> None:
    config = TrainingConfig()
    plain = json.loads(json.dumps(config.to_dict()))
    assert TrainingConfig.from_dict(plain) == config


def test_round_trip_keeps_every_plain_value() -> None:
    config = TrainingConfig(
        max_epochs=3,
        gradient_accumulation_steps=2,
        use_amp=True,
        amp_dtype=torch.bfloat16,
        tau_train_min=1e-3,
        tau_train_max=2e-3,
        tau_infer=1e-4,
        gradient_policy="project",
        loss_weights={"fit": 1, "margin": 0.5},
        device="cpu",
        seed=7,
    )
    again = TrainingConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert again.mixed_precision is True and again.amp_dtype == "bfloat16"
    assert again.gradient_policy is GradientPolicy.PROJECT
    assert again.loss_weights == {"fit": 1.0, "margin": 0.5}


def test_use_amp_is_an_alias_that_wins() -> None:
    assert TrainingConfig(use_amp=True).mixed_precision is True
    assert TrainingConfig(mixed_precision=True, use_amp=False).mixed_precision is False
    assert TrainingConfig.from_dict({"use_amp": True}).mixed_precision is True


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_epochs", 0, r"max_epochs must be >= 1, got 0"),
        (
            "gradient_accumulation_steps",
            1.5,
            r"gradient_accumulation_steps must be an integer, got 1.5",
        ),
        ("mixed_precision", "yes", r"mixed_precision must be true or false, got 'yes'"),
        ("use_amp", 1, r"use_amp must be true or false, got 1"),
        ("amp_dtype", "fp8", r"amp_dtype must be one of 'auto', 'float16', 'bfloat16'; got 'fp8'"),
        ("tau_infer", 0.0, r"tau_infer must be > 0.0, got 0.0"),
        ("tau_train_min", float("nan"), r"tau_train_min must be a finite number, got nan"),
        ("coverage_threshold", 1.5, r"coverage_threshold must be between 0.0 and 1.0, got 1.5"),
        ("coverage_patience", 0, r"coverage_patience must be >= 1, got 0"),
        ("log_every_n_steps", -1, r"log_every_n_steps must be >= 1, got -1"),
        ("seed", -1, r"seed must be between 0 and \d+, got -1"),
        (
            "gradient_policy",
            "sideways",
            r"gradient_policy must be one of 'clamp', .*got 'sideways'",
        ),
        ("loss_weights", {"fit": -1.0}, r"loss_weights\['fit'\] must be >= 0.0, got -1.0"),
        ("loss_weights", [1.0], r"loss_weights must be a mapping"),
        ("device", "gpu0", r"device must be a torch device .* got 'gpu0'"),
        ("log_hook", 3, r"log_hook must be callable, got 3"),
        ("val_loader", 3, r"val_loader must be iterable, got 3"),
        ("loss_curriculum", object(), r"loss_curriculum must have a weights\(epoch, base\) method"),
    ],
)
def test_bad_values_name_the_field_value_and_range(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        TrainingConfig(**{field: value})
    assert isinstance(caught.value, ValueError) and caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("tau_infer", "tau_min", "tau_max"), [(1e-3, 1e-4, 1e-2), (1e-6, 1e-3, 1e-4)]
)
def test_thresholds_must_be_ordered(tau_infer: float, tau_min: float, tau_max: float) -> None:
    with pytest.raises(ConfigError, match=r"tau_infer <= tau_train_min <= tau_train_max, got "):
        TrainingConfig(tau_infer=tau_infer, tau_train_min=tau_min, tau_train_max=tau_max)


def test_toml_and_yaml_files_load_the_same_config(tmp_path) -> None:
    toml = tmp_path / "train.toml"
    toml.write_text('[training]\nmax_epochs = 4\ntau_train_max = 1e-3\ngradient_policy = "clamp"\n')
    yaml = tmp_path / "train.yaml"
    yaml.write_text("max_epochs: 4\ntau_train_max: 1.0e-3\ngradient_policy: clamp\n")
    expected = TrainingConfig(
        max_epochs=4, tau_train_max=1e-3, gradient_policy=GradientPolicy.CLAMP
    )
    assert TrainingConfig.from_file(toml) == expected
    assert TrainingConfig.from_file(yaml) == expected


def test_a_file_takes_runtime_objects_beside_it(tmp_path) -> None:
    path = tmp_path / "train.toml"
    path.write_text("max_epochs = 2\n")
    config = TrainingConfig.from_file(path, log_hook=print)
    assert config.log_hook is print and config.max_epochs == 2


def test_unknown_keys_are_refused_by_name(tmp_path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("max_epoch: 4\nlearning_rat: 0.1\n")
    with pytest.raises(
        ConfigError,
        match=r"train.yaml: unknown training config key\(s\) 'learning_rat', 'max_epoch'; "
        r"known keys: .*max_epochs",
    ):
        TrainingConfig.from_file(path)


def test_runtime_fields_cannot_come_from_a_file(tmp_path) -> None:
    path = tmp_path / "train.toml"
    path.write_text('log_hook = "print"\n')
    with pytest.raises(ConfigError, match=r"'log_hook' .*must be set in code, not in a file"):
        TrainingConfig.from_file(path)


def test_bad_values_in_a_file_name_the_file(tmp_path) -> None:
    path = tmp_path / "train.toml"
    path.write_text("max_epochs = 0\n")
    with pytest.raises(ConfigError, match=r"train.toml: max_epochs must be >= 1, got 0"):
        TrainingConfig.from_file(path)


def test_unparseable_unknown_format_and_missing_files(tmp_path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("max_epochs = = 3\n")
    with pytest.raises(ConfigError, match=r"broken.toml' is not valid toml"):
        TrainingConfig.from_file(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"list.yaml: expected a mapping of settings, got list"):
        TrainingConfig.from_file(listing)
    ini = tmp_path / "train.ini"
    ini.write_text("x")
    with pytest.raises(
        ConfigError, match=r"unknown config format '.ini'; use .toml, .yaml or .yml"
    ):
        TrainingConfig.from_file(ini)
    with pytest.raises(SourceError, match=r"cannot read .*absent.toml"):
        TrainingConfig.from_file(tmp_path / "absent.toml")


def test_yaml_is_read_with_the_safe_loader(tmp_path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("max_epochs: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(ConfigError, match=r"evil.yaml' is not valid yaml"):
        TrainingConfig.from_file(path)
