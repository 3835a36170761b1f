"""What a run writes per epoch: metrics and checkpoints (all or none), a line, the model record."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zpml_data.io.atomic import atomic_path
from zpml_data.shards.manifest import Manifest
from zpml_train.model.spec import RECORD_KEY, ModelRecord, model_spec
from zpml_train.training import distributed
from zpml_train.training._checkpoint import capture_state, save_checkpoint_file
from zpml_train.training.trainer import SCMTrainer


def model_record(manifest: Manifest, trainer: SCMTrainer, calibrated: Any) -> dict[str, Any]:
    """A checkpoint's model record: how to rebuild and feed the model, and its threshold.

    Args:
        manifest: The training data's manifest (names, categories, status counts).
        trainer: The trainer whose model and configured ``tau_infer`` are recorded.
        calibrated: The epoch's calibrated ``tau_infer``, or ``None``/NaN.

    Returns:
        ``{RECORD_KEY: ModelRecord(...).to_dict()}``; predictions decode at the
        calibrated threshold where there is one.
    """
    configured = trainer.config.tau_infer
    if calibrated is None or not math.isfinite(calibrated):
        calibrated = None
    spec = manifest.spec.get("targets") if isinstance(manifest.spec, dict) else None
    status_columns = [t.get("status") for t in spec] if isinstance(spec, list) else None
    if status_columns is not None and not all(isinstance(c, str) for c in status_columns):
        status_columns = None
    record = ModelRecord(
        spec=model_spec(distributed.unwrap(trainer.model)),
        inputs=list(manifest.inputs),
        targets=list(manifest.targets),
        tau_infer=configured if calibrated is None else calibrated,
        tau_infer_configured=configured,
        tau_infer_calibrated=calibrated,
        categories=dict(manifest.categories),
        status_columns=status_columns,
        status_counts=dict(manifest.status_counts),
    )
    return {RECORD_KEY: record.to_dict()}


def write_epoch_files(
    run_dir: Path, trainer: SCMTrainer, extra: Mapping[str, Any], *, improved: bool
) -> None:
    """Write an epoch's ``metrics.jsonl``, ``last.pt`` and (if ``improved``) ``best.pt``, or none.

    Each file is written whole under a temporary name first (``metrics.jsonl``
    is rewritten from the history, so a crash never leaves half a line). Only
    once all are written are they renamed into place (``best.pt``, ``last.pt``,
    then ``metrics.jsonl``): a failed write (a full disk, ``ulimit -f``) leaves every
    file of the previous epoch as it was, and ``metrics.jsonl`` never lists an
    epoch that ``last.pt`` does not hold.

    Args:
        run_dir: The run directory.
        trainer: The trainer, after the epoch.
        extra: Plain data stored in the checkpoints beside the state (the model record).
        improved: The epoch is the best so far.

    Raises:
        SourceError: A file cannot be written (named, with the reason).
    """
    state = capture_state(trainer, None, extra)
    lines = [json.dumps(plain(record), sort_keys=True) + "\n" for record in trainer.history]
    with contextlib.ExitStack() as files:  # renamed in the reverse of the order entered
        files.enter_context(atomic_path(run_dir / "metrics.jsonl")).write_text(
            "".join(lines), encoding="utf-8"
        )
        for name in ("last.pt", "best.pt") if improved else ("last.pt",):
            save_checkpoint_file(files.enter_context(atomic_path(run_dir / name)), state)


def plain(record: Mapping[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: missing metrics (a denominator of 0) become null."""
    return {
        key: None if isinstance(value, float) and value != value else value
        for key, value in record.items()
        if key != "phase"
    }


def epoch_line(record: Mapping[str, Any]) -> str:
    """One epoch as a line: its losses, and validation coverage and ⊥ F1."""
    parts = [f"epoch {record['epoch']}", f"loss {record.get('loss', float('nan')):.4g}"]
    if "val_loss" in record:
        parts.append(f"val_loss {record['val_loss']:.4g}")
        for name in ("coverage", "bottom_f1"):
            value = record.get(f"val_{name}")
            if value is not None and value == value:
                parts.append(f"val_{name} {value:.3f}")
    return ", ".join(parts)
