"""Trainer checkpoints: tensors and plain data only, readable with ``weights_only=True``."""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zpml_data.errors import ConfigError, SourceError, UsageError
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
    with atomic_path(path) as tmp:
        save_checkpoint_file(tmp, state)


def save_checkpoint_file(file: Path, state: Mapping[str, Any]) -> None:
    """Save ``state`` with the format and version to ``file``, as it is.

    The caller makes the write atomic (a temporary file from ``atomic_path``).
    """
    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **state}, file)


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
        ConfigError: Not a zpml checkpoint (see :func:`load_untrusted`), an
            unknown version, missing keys, or a different dataset without ``force``.
    """
    state = load_untrusted(path, map_location)
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


def load_untrusted(path: str | Path, map_location: Any = "cpu") -> Any:
    """What a file saved by ``torch.save`` holds, read as tensors and plain data only.

    A checkpoint is untrusted input: objects whose loading would run code are
    refused, and whatever a damaged or crafted file makes the unpickler raise
    becomes one line naming the file (never torch's advice to load it with
    ``weights_only=False``).

    Raises:
        SourceError: The file does not exist or cannot be read.
        ConfigError: The file is empty, holds code, or is not a torch file.
    """
    try:
        if Path(path).stat().st_size == 0:
            raise ConfigError(f"{path}: the file is empty; it is not a zpml checkpoint")
        with warnings.catch_warnings():  # the unpickler's warnings about protocols
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except ConfigError:
        raise
    except FileNotFoundError:
        raise SourceError(f"checkpoint {str(path)!r} does not exist") from None
    except OSError as error:
        raise SourceError(f"cannot read checkpoint {str(path)!r}: {error.strerror}") from None
    except pickle.UnpicklingError as error:
        if "unsupported global" in str(error).lower():
            raise ConfigError(
                f"{path}: holds Python objects that loading would run as code; refused "
                "(a zpml checkpoint holds only tensors and plain data)"
            ) from None
        raise ConfigError(f"{path}: not a zpml checkpoint (not a torch file)") from None
    except Exception:  # a damaged or crafted file: the unpickler raises anything
        raise ConfigError(
            f"{path}: not a readable zpml checkpoint (truncated, damaged or another format)"
        ) from None


def capture_state(
    trainer: SCMTrainer, dataset: str | None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Everything a resume needs, as tensors and plain data, and ``extra`` beside it.

    Args:
        trainer: The trainer, between epochs.
        dataset: The data's fingerprint; ``None`` takes the trainer's.
        extra: Plain data under keys of its own (a run's model record).

    Raises:
        UsageError: ``extra`` reuses a key of the training state.
    """
    state = _training_state(trainer, dataset)
    clash = sorted(set(extra or {}) & set(state))
    if clash:
        raise UsageError(f"extra checkpoint keys {clash} would replace the training state")
    return {**state, **(extra or {})}


def _training_state(trainer: SCMTrainer, dataset: str | None) -> dict[str, Any]:
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


def restore_state(trainer: SCMTrainer, state: dict[str, Any], path: str | Path) -> None:
    """Put a state from :func:`capture_state` (checked by :func:`read_checkpoint`) back.

    Raises:
        ConfigError: The state does not fit the trainer's model or optimizer.
    """
    try:
        unwrap(trainer.model).load_state_dict(state["model"])
        trainer.optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as error:  # torch's load_state_dict
        detail = " ".join(str(error).split())[:300]
        raise ConfigError(
            f"{path} does not fit this model or optimizer ({detail}); resume with the "
            "settings the run started with"
        ) from None
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
