"""A training run from shard directories into a run directory: what ``zpml train`` does.

A run directory holds ``config.json`` (the resolved settings and the data's
manifest fingerprints), ``metrics.jsonl`` (one JSON object per epoch),
``last.pt`` and ``best.pt`` (checkpoints, written atomically after every
epoch) and ``report.html``. ``resume=True`` continues a run from ``last.pt``
on the same data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["RUN_FILES", "RunSettings", "claim_run_dir", "load_run_config", "train_run"]

import torch

from zpml_data.errors import DataError, UsageError
from zpml_data.io.atomic import atomic_write_text
from zpml_data.shards.manifest import MANIFEST_NAME, Manifest
from zpml_train.data.loader import ShardLoader, make_loader
from zpml_train.model.heads import ProjectiveMLP
from zpml_train.model.losses import SCMTrainingLoss
from zpml_train.run.directory import RUN_FILES, claim_run_dir
from zpml_train.run.report import collect_predictions, write_report
from zpml_train.run.settings import RunSettings, load_run_config
from zpml_train.training import distributed
from zpml_train.training.config import TrainingConfig
from zpml_train.training.trainer import Record, SCMTrainer

_SCALING_ROWS = 65_536


def manifest_fingerprint(shard_dir: str | Path) -> str:
    """The sha256 of a shard directory's manifest: the identity of the data a run trains on."""
    return hashlib.sha256((Path(shard_dir) / MANIFEST_NAME).read_bytes()).hexdigest()


class _Progress:
    """A loader seen through a progress bar (on a terminal); everything else passes through."""

    def __init__(self, loader: ShardLoader, show: Callable[[int], Any] | None) -> None:
        self.loader, self.show = loader, show

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        if self.show is None:
            yield from self.loader
            return
        with self.show(len(self.loader)) as bar:
            for batch in self.loader:
                yield batch
                bar.update(1)


def train_run(
    shard_dir: str | Path,
    run_dir: str | Path,
    *,
    val_dir: str | Path | None = None,
    training: Mapping[str, Any] | None = None,
    settings: RunSettings | None = None,
    resume: bool = False,
    force: bool = False,
    overwrite: bool = False,
    progress: Callable[[int], Any] | None = None,
    echo: Callable[[str], None] = print,
) -> SCMTrainer:
    """Train a ``ProjectiveMLP`` sized from the manifest; write the run directory.

    Args:
        shard_dir: Training shards (``zpml shard``).
        run_dir: Where the run's files go; new and empty unless ``resume``.
        val_dir: Validation shards, run once per epoch.
        training: :class:`TrainingConfig` fields.
        settings: Model, optimizer and loader settings.
        resume: Continue the run in ``run_dir`` from ``last.pt``.
        force: Resume on data other than the run's (by manifest sha256).
        overwrite: Replace a previous run in ``run_dir`` (nothing else may be there).
        progress: ``progress(total_batches)`` gives a bar context manager.
        echo: Where a line per epoch goes.

    Returns:
        The trainer, after ``fit``.

    Raises:
        CapabilityError: The data hold ⊥ targets the configured head cannot emit.
        ConfigError, UsageError, SourceError, IntegrityError: As their names say.
    """
    run_dir, settings = Path(run_dir), settings or RunSettings()
    training = dict(training or {})
    if distributed.init_from_env(training.get("device")):  # under torchrun: one rank of several
        training["device"] = distributed.device_for_rank(training.get("device"))
    main = distributed.is_main()  # only rank 0 writes files and prints
    inputs = [path for path in (shard_dir, val_dir) if path is not None]
    claim = claim_run_dir(run_dir, inputs, resume=resume, overwrite=overwrite)
    with claim if main else contextlib.nullcontext():
        trainer = _build_trainer(shard_dir, val_dir, training, settings, progress if main else None)
        if resume:
            trainer.load_checkpoint(run_dir / "last.pt", force=force)
        if main:
            _write_config(run_dir, shard_dir, val_dir, trainer.config, settings, trainer)
        _train_epochs(trainer, run_dir, main, echo)
        if main:
            _write_report(run_dir, trainer)
    return trainer


def _train_epochs(
    trainer: SCMTrainer, run_dir: Path, main: bool, echo: Callable[[str], None]
) -> None:
    """Fit one epoch at a time; after each, rank 0 writes the metrics and checkpoints."""
    best = min((_score(r) for r in trainer.history), default=float("inf"))
    while trainer.current_epoch < trainer.config.max_epochs:
        trainer.fit(epochs=1)
        record = trainer.history[-1]
        if main:
            _append_metrics(run_dir, trainer.history)
            trainer.save_checkpoint(run_dir / "last.pt")
            if _score(record) <= best:
                best = _score(record)
                trainer.save_checkpoint(run_dir / "best.pt")
            echo(_epoch_line(record))
        if trainer.stopped_early:
            if main:
                echo(
                    f"stopped early: validation coverage below {trainer.config.coverage_threshold}"
                )
            break


def _write_report(run_dir: Path, trainer: SCMTrainer) -> None:
    """``report.html``: the run's history, its data's status mix, and decoded predictions
    on the validation data (on the training data when there is none)."""
    # Shard loaders (the training one without its progress bar): they carry a manifest.
    loader: Any = getattr(trainer.train_loader, "loader", trainer.train_loader)
    val_loader: Any = trainer.config.val_loader
    write_report(
        run_dir,
        trainer.history,
        train_counts=loader.manifest.status_counts,
        val_counts=None if val_loader is None else val_loader.manifest.status_counts,
        predictions=collect_predictions(
            getattr(trainer.model, "module", trainer.model),  # unwrapped from DDP: no collectives
            val_loader if val_loader is not None else loader,
            trainer.config.tau_infer,
            split="training" if val_loader is None else "validation",
        ),
    )


def _build_trainer(
    shard_dir: str | Path,
    val_dir: str | Path | None,
    training: Mapping[str, Any],
    settings: RunSettings,
    progress: Callable[[int], Any] | None,
) -> SCMTrainer:
    """Loaders, config, a ``ProjectiveMLP`` sized from the manifest (in DDP when distributed)."""
    torch.manual_seed(settings.seed)
    loader = make_loader(
        shard_dir,
        settings.batch_size,
        seed=settings.seed,
        balance="status" if settings.balance == "status" else None,
        num_workers=settings.num_workers,
    )
    if loader.manifest.rows == 0:
        raise DataError(
            f"{shard_dir}: no rows to train on ({loader.manifest.quarantined_rows:,} "
            "quarantined); see quarantine.parquet for why, fix the data and shard it again"
        )
    val_loader = None
    if val_dir is not None:
        val_loader = make_loader(val_dir, settings.batch_size, shuffle=False)
        _check_same_columns(loader.manifest, val_loader.manifest, val_dir)
    # The run's seed also seeds the thresholds, unless the training settings name their own.
    config = TrainingConfig.from_dict({"seed": settings.seed, **training}, val_loader=val_loader)
    manifest = loader.manifest
    mlp = ProjectiveMLP(
        len(manifest.inputs),
        len(manifest.targets),
        settings.hidden,
        q_param=settings.q_param,
        q_min=settings.q_min,
    )
    mlp.set_input_scaling(*_input_statistics(shard_dir, settings.seed))
    model: torch.nn.Module = mlp
    model = distributed.wrap(model, torch.device(config.device or "cpu"))
    trainer = SCMTrainer(
        model,
        torch.optim.Adam(model.parameters(), lr=settings.lr),
        SCMTrainingLoss(),
        _Progress(loader, progress),
        config=config,
    )
    trainer.dataset_fingerprint = manifest_fingerprint(shard_dir)
    return trainer


def _check_same_columns(train: Manifest, val: Manifest, val_dir: str | Path) -> None:
    """Refuse validation shards whose inputs or targets differ from the training shards'."""
    if (val.inputs, len(val.targets)) != (train.inputs, len(train.targets)):
        raise UsageError(
            f"{val_dir}: validation shards have inputs {val.inputs} and {len(val.targets)} "
            f"target(s); the training shards have inputs {train.inputs} and "
            f"{len(train.targets)}: shard both splits with the same spec"
        )


def _input_statistics(shard_dir: str | Path, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of each input over a shuffled sample of the rows.

    Raw features on scales of 1e3 and 1e-2 side by side stall the MLP; the
    sample (at most ``_SCALING_ROWS``) is the same on every rank.
    """
    sample = make_loader(shard_dir, 4096, seed=seed, rank=0, world_size=1)
    inputs = []
    for batch in sample:
        inputs.append(batch.inputs)
        if sum(len(i) for i in inputs) >= _SCALING_ROWS:
            break
    rows = torch.cat(inputs) if inputs else torch.zeros((0, len(sample.manifest.inputs)))
    mean = torch.nanmean(rows, dim=0)
    spread = torch.nanmean((rows - mean) ** 2, dim=0).sqrt()
    return mean, spread


def _score(record: Mapping[str, Any]) -> float:
    """Lower is better: validation loss when there is one, else training loss."""
    value = record.get("val_loss", record.get("loss"))
    return float("inf") if value is None or value != value else float(value)


def _write_config(
    run_dir: Path,
    shard_dir: str | Path,
    val_dir: str | Path | None,
    config: TrainingConfig,
    settings: RunSettings,
    trainer: SCMTrainer,
) -> None:
    data = {
        "data": {
            "train": str(Path(shard_dir).absolute()),
            "train_manifest_sha256": trainer.dataset_fingerprint,
            "val": None if val_dir is None else str(Path(val_dir).absolute()),
            "val_manifest_sha256": None if val_dir is None else manifest_fingerprint(val_dir),
        },
        "run": dataclasses.asdict(settings),
        "ranks": torch.distributed.get_world_size() if distributed.initialised() else 1,
        "training": config.to_dict(),
    }
    atomic_write_text(run_dir / "config.json", json.dumps(data, indent=2, sort_keys=True) + "\n")


def _append_metrics(run_dir: Path, history: list[Record]) -> None:
    """Rewrite ``metrics.jsonl`` whole (atomically): a crash never leaves half a line."""
    lines = [json.dumps(_plain(record), sort_keys=True) for record in history]
    atomic_write_text(run_dir / "metrics.jsonl", "".join(line + "\n" for line in lines))


def _plain(record: Mapping[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: missing metrics (a denominator of 0) become null."""
    return {
        key: None if isinstance(value, float) and value != value else value
        for key, value in record.items()
        if key != "phase"
    }


def _epoch_line(record: Mapping[str, Any]) -> str:
    parts = [f"epoch {record['epoch']}", f"loss {record.get('loss', float('nan')):.4g}"]
    if "val_loss" in record:
        parts.append(f"val_loss {record['val_loss']:.4g}")
        parts.append(f"val_coverage {record.get('val_coverage', float('nan')):.3f}")
    return ", ".join(parts)
