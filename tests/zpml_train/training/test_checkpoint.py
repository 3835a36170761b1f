"""Checkpoints: plain and safe to load, versioned, tied to a dataset, and resuming exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.zpml_train._helpers import assert_states_equal, make_rows, split, state_copy
from zpml_data.errors import ConfigError, SourceError
from zpml_train import ProjectiveMLP, SCMTrainer, SCMTrainingLoss, TrainingConfig
from zpml_train.training._checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION

pytestmark = pytest.mark.usefixtures("single_thread")

BATCHES = split(make_rows(96, seed=4), [32, 32, 32])


def _trainer(max_epochs: int, init_seed: int = 0, **config: Any) -> SCMTrainer:
    torch.manual_seed(init_seed)
    model = ProjectiveMLP(3, 1, hidden=(8,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    return SCMTrainer(
        model,
        optimizer,
        SCMTrainingLoss(),
        BATCHES,
        scheduler=scheduler,
        config=TrainingConfig(
            max_epochs=max_epochs,
            tau_train_min=1e-4,
            tau_train_max=1e-2,
            val_loader=BATCHES[:1],
            coverage_threshold=1.0,  # count bad epochs, never stop
            coverage_patience=100,
            **config,
        ),
    )


def test_a_resumed_run_continues_exactly_like_an_uninterrupted_one(tmp_path: Path) -> None:
    straight = _trainer(4, gradient_accumulation_steps=2)
    straight.fit()
    first = _trainer(2, gradient_accumulation_steps=2)
    first.fit()
    first.save_checkpoint(tmp_path / "last.pt")
    resumed = _trainer(4, init_seed=99, gradient_accumulation_steps=2)  # other weights, overwritten
    resumed.load_checkpoint(tmp_path / "last.pt")
    assert resumed.current_epoch == 2 and resumed.global_step == 6
    resumed.fit()
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in straight.history]
    assert [r["val_loss"] for r in resumed.val_history] == [
        r["val_loss"] for r in straight.val_history
    ]
    assert list(resumed.last_thresholds) == list(straight.last_thresholds)
    assert_states_equal(state_copy(resumed.model), state_copy(straight.model))
    assert resumed.optimizer.param_groups[0]["lr"] == straight.optimizer.param_groups[0]["lr"]


def test_checkpoints_load_with_weights_only_and_carry_format_version_dataset(
    tmp_path: Path,
) -> None:
    trainer = _trainer(1)
    trainer.fit()
    trainer.save_checkpoint(tmp_path / "a.pt", dataset="sha256:abc")
    state = torch.load(tmp_path / "a.pt", weights_only=True)
    assert state["format"] == CHECKPOINT_FORMAT and state["version"] == CHECKPOINT_VERSION
    assert state["dataset"] == "sha256:abc"
    assert state["config"] == trainer.config.to_dict()
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary file


def test_a_checkpoint_of_other_data_is_refused_unless_forced(tmp_path: Path) -> None:
    trainer = _trainer(1)
    trainer.dataset_fingerprint = "sha256:abc"
    trainer.save_checkpoint(tmp_path / "a.pt")
    other = _trainer(2)
    with pytest.raises(
        ConfigError,
        match=r"trained on dataset sha256:abc, not on this one \(sha256:xyz\).*force=True",
    ):
        other.load_checkpoint(tmp_path / "a.pt", dataset="sha256:xyz")
    other.load_checkpoint(tmp_path / "a.pt", dataset="sha256:xyz", force=True)
    other.load_checkpoint(tmp_path / "a.pt", dataset="sha256:abc")
    assert other.dataset_fingerprint == "sha256:abc"


def test_foreign_future_and_missing_checkpoints_are_refused(tmp_path: Path) -> None:
    trainer = _trainer(1)
    torch.save({"model": {}}, tmp_path / "foreign.pt")
    with pytest.raises(ConfigError, match=r"foreign.pt is not a zpml training checkpoint"):
        trainer.load_checkpoint(tmp_path / "foreign.pt")
    trainer.save_checkpoint(tmp_path / "a.pt")
    state = torch.load(tmp_path / "a.pt", weights_only=True)
    torch.save({**state, "version": CHECKPOINT_VERSION + 1}, tmp_path / "future.pt")
    with pytest.raises(
        ConfigError, match=r"future.pt has checkpoint version 2; this zpml reads version 1"
    ):
        trainer.load_checkpoint(tmp_path / "future.pt")
    del state["threshold_rng"]
    torch.save(state, tmp_path / "partial.pt")
    with pytest.raises(ConfigError, match=r"partial.pt lacks threshold_rng"):
        trainer.load_checkpoint(tmp_path / "partial.pt")
    with pytest.raises(SourceError, match=r"checkpoint .*absent.pt' does not exist"):
        trainer.load_checkpoint(tmp_path / "absent.pt")


class _EpochLoader(list):
    """A list of batches that records the epochs it is set to, like the shard loader."""

    epochs: list[int]

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)


def test_epoch_by_epoch_fits_with_checkpoints_equal_one_fit(tmp_path: Path) -> None:
    straight = _trainer(3)
    straight.fit()
    stepwise = _trainer(3)
    stepwise.train_loader = loader = _EpochLoader(BATCHES)
    loader.epochs = []
    while stepwise.current_epoch < 3:
        stepwise.fit(epochs=1)
        stepwise.save_checkpoint(tmp_path / "last.pt")
        stepwise.load_checkpoint(tmp_path / "last.pt")
    assert loader.epochs == [0, 1, 2]
    assert [r["loss"] for r in stepwise.history] == [r["loss"] for r in straight.history]
    assert_states_equal(state_copy(stepwise.model), state_copy(straight.model))
    with pytest.raises(ConfigError, match=r"epochs must be >= 1, got 0"):
        stepwise.fit(epochs=0)
