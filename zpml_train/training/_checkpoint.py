"""Trainer checkpoints: tensors and plain data only, readable with ``weights_only=True``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zpml_data.errors import ConfigError, SourceError
from zpml_data.io.atomic import atomic_path
from zpml_train.training.distributed import unwrap

if TYPE_CHECKING:
    from zpml_train.training.trainer import SCMTrainer

CHECKPOINT_FORMAT = "zpml-train-checkpoint"
# Bumped when a key changes meaning; readers refuse versions they do not know.
CHECKPOINT_VERSION = 1
REQUIRED_KEYS = frozenset(
    {"model", "optimizer", "epoch", "global_step", "coverage_bad_epochs", "threshold_rng"}
)


def write_checkpoint(path: str | Path, state: Mapping[str, Any]) -> None:
    """Write ``state`` with the format and version, atomically (temporary file, then rename)."""
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **state}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(
    path: str | Path, *, map_location: Any, dataset: str | None, force: bool
) -> dict[str, Any]:
    """Read and check a checkpoint written by :func:`write_checkpoint`.

    Args:
        path: The checkpoint file.
        map_location: Where tensors are loaded.
        dataset: The fingerprint of the data about to be trained on, or ``None``.
        force: Accept a checkpoint whose dataset fingerprint differs.

    Raises:
        SourceError: The file cannot be read.
        ConfigError: Not a zpml checkpoint, an unknown version, missing keys,
            or a different dataset without ``force``.
    """
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise SourceError(f"checkpoint {str(path)!r} does not exist") from None
    except (OSError, RuntimeError) as error:
        raise SourceError(f"cannot read checkpoint {str(path)!r}: {error}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path} is not a zpml training checkpoint")
    if state.get("version") != CHECKPOINT_VERSION:
        raise ConfigError(
            f"{path} has checkpoint version {state.get('version')!r}; this zpml reads "
            f"version {CHECKPOINT_VERSION}: resume it with the zpml that wrote it"
        )
    missing = sorted(REQUIRED_KEYS - set(state))
    if missing:
        raise ConfigError(f"{path} lacks {', '.join(missing)}; it cannot be resumed")
    stored = state.get("dataset")
    if dataset is not None and stored is not None and stored != dataset and not force:
        raise ConfigError(
            f"{path} was trained on dataset {stored}, not on this one ({dataset}); "
            "resume on the same data, or force it (force=True, --force) to continue anyway"
        )
    return state


def capture_state(trainer: SCMTrainer, dataset: str | None) -> dict[str, Any]:
    """Everything a resume needs, as tensors and plain data.

    Args:
        trainer: The trainer, between epochs.
        dataset: The data's fingerprint; ``None`` takes the trainer's.
    """
    scaler = trainer.amp.scaler
    return {
        "model": unwrap(trainer.model).state_dict(),  # loads without DDP too
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": None if trainer.scheduler is None else trainer.scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler.is_enabled() else None,
        "epoch": trainer.current_epoch,
        "global_step": trainer.global_step,
        "coverage_bad_epochs": trainer.coverage_bad_epochs,
        "threshold_rng": trainer.thresholds.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if trainer.device.type == "cuda" else None,
        "last_thresholds": list(trainer.last_thresholds),
        "history": trainer.history,
        "val_history": trainer.val_history,
        "config": trainer.config.to_dict(),
        "dataset": dataset if dataset is not None else trainer.dataset_fingerprint,
    }


def restore_state(trainer: SCMTrainer, state: dict[str, Any]) -> None:
    """Put a state from :func:`capture_state` (checked by :func:`read_checkpoint`) back."""
    unwrap(trainer.model).load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scheduler is not None and state.get("scheduler") is not None:
        trainer.scheduler.load_state_dict(state["scheduler"])
    if trainer.amp.scaler.is_enabled() and state.get("scaler") is not None:
        trainer.amp.scaler.load_state_dict(state["scaler"])
    trainer.current_epoch = int(state["epoch"])
    trainer.global_step = int(state["global_step"])
    trainer.coverage_bad_epochs = int(state["coverage_bad_epochs"])
    trainer.thresholds.set_state(state["threshold_rng"])
    if state.get("torch_rng") is not None:
        torch.set_rng_state(state["torch_rng"].cpu())
    if state.get("cuda_rng") is not None and trainer.device.type == "cuda":
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
    trainer.last_thresholds.clear()
    trainer.last_thresholds.extend(state.get("last_thresholds", []))
    trainer.history = list(state.get("history", []))
    trainer.val_history = list(state.get("val_history", []))
    trainer.dataset_fingerprint = state.get("dataset")
