"""A training run from shard directories into a run directory: what ``zpml train`` does.

A run directory holds ``config.json`` (the resolved settings, the head and
why, the data's manifest fingerprints and, at the end, the calibration),
``metrics.jsonl`` (one JSON object per epoch, names from
:data:`~zpml_train.training.metrics.METRICS`), ``last.pt`` and ``best.pt``
(checkpoints, written atomically after every epoch; ``best.pt`` holds the
epoch with the lowest validation loss, each with its model record) and
``report.html``. ``resume=True`` continues a run from ``last.pt`` on the same
data.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from zpml_data.errors import DataError, UsageError
from zpml_data.io.atomic import atomic_write_text
from zpml_data.shards.manifest import Manifest, read_manifest
from zpml_train.data.loader import ShardLoader, make_loader
from zpml_train.run._files import (
    epoch_line,
    model_record,
    plain,
    write_epoch_files,
)
from zpml_train.run.directory import RUN_FILES, RUN_FORMAT, claim_run_dir
from zpml_train.run.head_choice import (
    HeadChoice,
    build_model,
    choose_head,
    default_thresholds,
    set_scaling,
)
from zpml_train.run.report import collect_predictions, write_report
from zpml_train.run.settings import RunSettings, load_run_config
from zpml_train.training import distributed
from zpml_train.training._checkpoint import read_checkpoint
from zpml_train.training.config import TrainingConfig
from zpml_train.training.trainer import Record, SCMTrainer

__all__ = [
    "RUN_FILES",
    "RunResult",
    "RunSettings",
    "claim_run_dir",
    "load_run_config",
    "train_run",
]


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
) -> RunResult:
    """Train a ``ProjectiveMLP`` sized and headed from the manifest; write the run directory.

    The head follows the training data's status mix (see
    :func:`~zpml_train.run.head_choice.choose_head`) unless ``settings.head``
    names one, with that head's default thresholds for those ``training``
    does not set. With validation data, ``tau_infer`` is calibrated on it.

    Args:
        shard_dir: Training shards (``zpml shard``).
        run_dir: Where the run's files go; new and empty unless ``resume``.
        val_dir: Validation shards, run once per epoch.
        training: :class:`TrainingConfig` fields.
        settings: Model, optimizer, loader and early-stop settings.
        resume: Continue the run in ``run_dir`` from ``last.pt``.
        force: Resume on data other than the run's (by manifest sha256).
        overwrite: Replace a previous run in ``run_dir`` (nothing else may be there).
        progress: ``progress(total_batches)`` gives a bar context manager.
        echo: Where the head choice, a line per epoch and the calibration go.

    Returns:
        The :class:`RunResult`; its trainer holds the best epoch's weights (``best.pt``'s).

    Raises:
        CapabilityError: The data hold ⊥ targets the configured head cannot emit.
        DataError: A training loss was not finite (the checkpoints keep the last good epoch).
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
        run = _Run.build(shard_dir, val_dir, training, settings, progress if main else None)
        run.run_dir, run.main, run.echo = run_dir, main, echo if main else _silent
        run.trainer.checks.manifest(run.trainer.train_loader, training=True)  # refuse first
        if resume:
            run.trainer.load_checkpoint(run_dir / "last.pt", force=force)
        run.echo(run.choice.reason)  # once nothing before training can refuse
        run.write_config()
        run.train_epochs()
        run.finish()
    return RunResult(run.trainer, run.choice, run.best, run.calibrated)


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What a run leaves besides its directory.

    Attributes:
        trainer: The trainer, holding the best epoch's weights.
        head: The head trained and why.
        best: The best epoch's history record (lowest validation loss).
        calibrated: The best epoch's validation metrics at its calibrated
            ``tau_infer`` (under ``"tau_infer"``), or ``None``.
    """

    trainer: SCMTrainer
    head: HeadChoice
    best: Record | None
    calibrated: dict[str, Any] | None


def cosine(optimizer: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning rate along half a cosine from its value to 0 over ``steps`` optimizer steps.

    The step count is in the checkpoint's scheduler state, the length is not: a
    resumed run with more epochs follows the longer curve from where it is.
    """

    def factor(step: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * min(step, steps) / max(steps, 1)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _silent(line: str) -> None:
    """Ranks other than 0 print nothing."""


@dataclasses.dataclass
class _Run:
    """One run's trainer, data, head and best epoch so far."""

    trainer: SCMTrainer
    manifest: Manifest
    choice: HeadChoice
    settings: RunSettings
    shard_dir: Path
    val_dir: Path | None
    val_manifest: Manifest | None = None
    run_dir: Path = Path()
    main: bool = True
    echo: Callable[[str], None] = print
    best: Record | None = None
    best_state: dict[str, torch.Tensor] | None = None
    # Validation metrics of the best epoch at its calibrated tau_infer (with "tau_infer").
    calibrated: dict[str, Any] | None = None

    @classmethod
    def build(
        cls,
        shard_dir: str | Path,
        val_dir: str | Path | None,
        training: Mapping[str, Any],
        settings: RunSettings,
        progress: Callable[[int], Any] | None,
    ) -> _Run:
        """Loaders, the head for the data, config, model (in DDP when distributed), trainer."""
        torch.manual_seed(settings.seed)
        choice = choose_head(read_manifest(Path(shard_dir).absolute()).status_counts, settings.head)
        settings, head = settings.for_head(choice.head)  # batch_size and lr: set, or the head's
        pin = str(training.get("device") or "").startswith("cuda")  # copies overlap the step
        loader = make_loader(
            shard_dir,
            head.batch_size,
            seed=settings.seed,
            balance="status" if settings.balance == "status" else None,
            num_workers=settings.num_workers,
            pin_memory=pin,
        )
        manifest = loader.manifest
        if manifest.rows == 0:
            raise DataError(
                f"{shard_dir}: no rows to train on ({manifest.quarantined_rows:,} "
                "quarantined); see quarantine.parquet for why, fix the data and shard it again"
            )
        val_loader = None
        if val_dir is not None:
            val_loader = make_loader(val_dir, head.batch_size, shuffle=False, pin_memory=pin)
            _check_same_columns(manifest, val_loader.manifest, val_dir)
        mlp, loss = build_model(choice, settings, len(manifest.inputs), len(manifest.targets))
        set_scaling(mlp, shard_dir, settings.seed)
        # The run's seed also seeds the thresholds, unless the training settings name their own.
        run_defaults = {"seed": settings.seed, "max_epochs": head.max_epochs(len(loader))}
        values = default_thresholds(mlp, {**run_defaults, **training})
        config = TrainingConfig.from_dict(values, val_loader=val_loader)
        model = distributed.wrap(mlp, torch.device(config.device or "cpu"))
        optimizer = torch.optim.Adam(model.parameters(), lr=head.lr)
        steps = config.max_epochs * math.ceil(len(loader) / config.gradient_accumulation_steps)
        trainer = SCMTrainer(
            model,
            optimizer,
            loss,
            _Progress(loader, progress),
            scheduler=None if settings.lr_schedule == "constant" else cosine(optimizer, steps),
            config=config,
        )
        trainer.dataset_fingerprint = manifest.sha256  # the manifest the loader read
        val_path = None if val_dir is None else Path(val_dir)
        val_manifest = None if val_loader is None else val_loader.manifest
        return cls(trainer, manifest, choice, settings, Path(shard_dir), val_path, val_manifest)

    # -- the epochs -------------------------------------------------------------------

    def train_epochs(self) -> None:
        """Fit one epoch at a time; after each, rank 0 writes the metrics and checkpoints.

        Stops at ``max_epochs``, on the trainer's coverage stop, or after
        ``settings.patience`` epochs without a lower validation loss.
        """
        trainer, patience = self.trainer, self.settings.patience
        self.best = min(trainer.history, key=_score, default=None)
        while trainer.current_epoch < trainer.config.max_epochs:
            trainer.fit(epochs=1)
            record = trainer.history[-1]
            improved = self.best is None or _score(record) < _score(self.best)
            if improved:
                self._keep_best(record)
            if self.main:
                self._write_epoch(improved)
            self.echo(epoch_line(record))
            if trainer.stopped_early:
                threshold = trainer.config.coverage_threshold
                self.echo(f"stopped early: validation coverage below {threshold}")
                break
            assert self.best is not None
            waited = int(record["epoch"]) - int(self.best["epoch"])
            if patience is not None and waited >= patience:
                which = "validation" if "val_loss" in record else "training"
                self.echo(
                    f"stopped early: no lower {which} loss for {patience} epoch(s); "
                    f"best.pt holds epoch {self.best['epoch']}"
                )
                break

    def _keep_best(self, record: Record) -> None:
        """Remember the best epoch and its weights."""
        self.best = record
        self.best_state = copy.deepcopy(distributed.unwrap(self.trainer.model).state_dict())

    def _write_epoch(self, improved: bool) -> None:
        calibrated = self.trainer.history[-1].get("val_tau_calibrated")
        extra = model_record(self.manifest, self.trainer, calibrated)
        write_epoch_files(self.run_dir, self.trainer, extra, improved=improved)

    # -- the end ----------------------------------------------------------------------

    def finish(self) -> None:
        """Restore the best weights, validate them at their calibrated threshold, say it,
        and write config.json and the report."""
        trainer, best = self.trainer, self.best
        if self.best_state is None and (self.run_dir / "best.pt").is_file():  # resumed
            path = self.run_dir / "best.pt"
            self.best_state = read_checkpoint(path, map_location="cpu", dataset=None, force=True)[
                "model"
            ]
        if self.best_state is not None:
            distributed.unwrap(trainer.model).load_state_dict(self.best_state)
        tau = None if best is None else best.get("val_tau_calibrated")
        if tau is not None and math.isfinite(tau):
            metrics = trainer.validate(tau_infer=tau)  # every rank: the sums are reduced
            self.calibrated = None if metrics is None else {**metrics, "tau_infer": tau}
        if trainer.config.val_loader is not None:
            self.echo(self._calibration_line())
        self.write_config()
        if self.main:
            self._write_report()

    def _calibration_line(self) -> str:
        configured = self.trainer.config.tau_infer
        if self.calibrated is not None:
            return (
                f"tau_infer calibrated on validation: {self.calibrated['tau_infer']:.3g} "
                f"(⊥ F1 {self.calibrated['bottom_f1']:.3f}; configured {configured:g}); "
                "best.pt decodes at it"
            )
        calibration = self.trainer.calibration
        reason = calibration.reason if calibration is not None else "no validation rows"
        return f"tau_infer not calibrated ({reason}); best.pt decodes at {configured:g}"

    def write_config(self) -> None:
        """``config.json``: settings, head, data fingerprints, and the calibration once known."""
        if not self.main:
            return
        trainer, best = self.trainer, self.best
        data = {
            "format": RUN_FORMAT,  # zpml's signature: --overwrite replaces only signed runs
            "data": {
                "train": str(self.shard_dir.absolute()),
                "train_manifest_sha256": trainer.dataset_fingerprint,
                "val": None if self.val_dir is None else str(self.val_dir.absolute()),
                "val_manifest_sha256": None
                if self.val_manifest is None
                else self.val_manifest.sha256,
            },
            "head": {"head": self.choice.head, "reason": self.choice.reason},
            "run": dataclasses.asdict(self.settings),
            "ranks": torch.distributed.get_world_size() if distributed.initialised() else 1,
            "training": trainer.config.to_dict(),
            "calibration": None
            if best is None
            else {
                "best_epoch": best["epoch"],
                "tau_infer_configured": trainer.config.tau_infer,
                "tau_infer_calibrated": None
                if self.calibrated is None
                else self.calibrated["tau_infer"],
                "validation_metrics": None if self.calibrated is None else plain(self.calibrated),
            },
        }
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        atomic_write_text(self.run_dir / "config.json", text)

    def _write_report(self) -> None:
        """``report.html``: the run's history, its data's status mix, and decoded predictions
        on the validation data (on the training data when there is none)."""
        trainer = self.trainer
        # Shard loaders (the training one without its progress bar): they carry a manifest.
        loader: Any = getattr(trainer.train_loader, "loader", trainer.train_loader)
        val_loader: Any = trainer.config.val_loader
        tau = trainer.config.tau_infer if self.calibrated is None else self.calibrated["tau_infer"]
        write_report(
            self.run_dir,
            trainer.history,
            train_counts=loader.manifest.status_counts,
            val_counts=None if val_loader is None else val_loader.manifest.status_counts,
            predictions=collect_predictions(
                distributed.unwrap(trainer.model),  # no collectives
                val_loader if val_loader is not None else loader,
                tau,
                split="training" if val_loader is None else "validation",
            ),
            final=self.calibrated,
        )


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


def _check_same_columns(train: Manifest, val: Manifest, val_dir: str | Path) -> None:
    """Refuse validation shards whose inputs or targets differ from the training shards'."""
    if (val.inputs, len(val.targets)) != (train.inputs, len(train.targets)):
        raise UsageError(
            f"{val_dir}: validation shards have inputs {val.inputs} and {len(val.targets)} "
            f"target(s); the training shards have inputs {train.inputs} and "
            f"{len(train.targets)}: shard both splits with the same spec"
        )


def _score(record: Mapping[str, Any]) -> float:
    """Lower is better: validation loss when there is one, else training loss."""
    value = record.get("val_loss", record.get("loss"))
    return float("inf") if value is None or value != value else float(value)
