"""Trainer checkpoints: tensors and plain data only, readable with ``weights_only=True``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from zpml_data.errors import ConfigError, SourceError
from zpml_data.io.atomic import atomic_path

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
