"""SCMTrainer: train a projective model on lifted targets, refusing what it cannot learn.

The loop, in :meth:`SCMTrainer.fit`::

    check the data (manifest) → for each epoch: train steps → flush the last
    accumulation group → read the epoch's metrics → validate → early stop?

Each training step: lift the batch on the host and check it, move it to the
device, draw a threshold, forward and loss under autocast and the gradient
policy, backward, add the metrics on the device, and step the optimizer when
the accumulation group is full. The host reads the device only at the
logging cadence and at the end of an epoch; there it also learns whether a
loss was not finite (the first such step is kept on the device), and stops.

Every metric, in training and in validation, decodes at ``tau_infer``; the
validation loss uses the middle of the training thresholds (the reference
trainer's value). Validation also finds the threshold with the best ⊥ F1
(:meth:`~zpml_train.training.metrics.MetricSums.calibrate`).

Loss functions follow the protocol in :mod:`zpml_train.training._protocol`.
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from zpml_data.errors import CapabilityError, ConfigError, UsageError, ZpmlError
from zpml_data.validate import require_positive_int
from zpml_train.model.policies import gradient_policy
from zpml_train.training import distributed
from zpml_train.training._amp import Amp
from zpml_train.training._batches import TrainingBatch, as_training_batch
from zpml_train.training._capability import DataChecks, resolve_capability
from zpml_train.training._checkpoint import (
    capture_state,
    read_checkpoint,
    restore_state,
    write_checkpoint,
)
from zpml_train.training._finite import loss_not_finite
from zpml_train.training._protocol import LossProtocol
from zpml_train.training._thresholds import ThresholdSampler, candidate_thresholds
from zpml_train.training.config import TrainingConfig
from zpml_train.training.metrics import Calibration, MetricSums

# How many recent thresholds `last_thresholds` keeps.
THRESHOLD_HISTORY = 1024

Record = dict[str, Any]


class SCMTrainer:
    """Signed Common Meadow training with the bottom-capability check.

    Args:
        model: Returns ``(P, Q)`` for a batch of inputs.
        optimizer: Over the model's parameters.
        loss_fn: ``loss_fn(outputs, (Y_n, Y_d), **keywords)`` → scalar tensor;
            see :mod:`zpml_train.training._protocol` for the keywords.
        train_loader: Iterable of batches: :class:`~zpml_train.Batch`,
            ``(inputs, values, status_labels)``, legacy ``(inputs, values)``
            with NaN/±inf sentinels, or ``(inputs, SemanticTargets)``. With a
            ``manifest`` attribute (a shard loader), the checks read its status
            counts before the first batch.
        scheduler: Stepped after every optimizer step.
        config: Settings; defaults to ``TrainingConfig()``.

    Attributes:
        history: One record per finished epoch: train metrics, ``val_`` metrics.
        val_history: One record of ``val_`` metrics per validated epoch.
        last_thresholds: The most recent per-step thresholds (bounded).
        current_epoch: The epoch running, or the next one to run between epochs.
        global_step: Training steps taken.
        stopped_early: Whether the last ``fit`` stopped on low coverage.
        calibration: The last validation's best ⊥ F1 threshold (or why none).
        coverage_bad_epochs: Consecutive epochs of validation coverage below
            ``coverage_threshold`` so far.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[..., Tensor],
        train_loader: Iterable[Any],
        *,
        scheduler: Any = None,
        config: TrainingConfig | None = None,
    ) -> None:
        self.config = TrainingConfig() if config is None else config
        if not isinstance(self.config, TrainingConfig):
            raise ConfigError(f"config must be a TrainingConfig, got {type(config).__name__}")
        self.device = torch.device(self.config.device or "cpu")
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(
                f"device {self.config.device!r}: this torch {torch.__version__} sees no CUDA "
                "device; train on 'cpu', or on a machine with a GPU and a CUDA build of torch"
            )
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.train_loader = train_loader
        self.scheduler = scheduler
        self.amp = Amp(self.config.mixed_precision, self.config.amp_dtype, self.device)
        self.loss_protocol = LossProtocol.of(loss_fn)
        self.capability = resolve_capability(model, self.config.tau_infer)
        self.checks = DataChecks(
            self.capability,
            self.config.allow_bottom_unreachable,
            self.config.tau_infer,
            loss_fn,
            self.loss_protocol,
        )
        self.thresholds = ThresholdSampler(
            self.config.tau_train_min, self.config.tau_train_max, self.config.seed
        )
        self.last_thresholds: deque[float] = deque(maxlen=THRESHOLD_HISTORY)
        self.history: list[Record] = []
        self.val_history: list[Record] = []
        self.current_epoch = 0
        self.global_step = 0
        self.stopped_early = False
        # The CLI sets this to the manifest's sha256; checkpoints carry it.
        self.dataset_fingerprint: str | None = None
        self.coverage_bad_epochs = 0
        self.calibration: Calibration | None = None
        self._epoch_metrics = MetricSums(self.device)
        self._loss_weights = self.config.loss_weights
        self._group_steps = self._group_rows = 0
        self._train_checked = False

    # -- the loop -------------------------------------------------------------------

    def fit(self, epochs: int | None = None) -> list[Record]:
        """Train from ``current_epoch`` to ``max_epochs``, or until coverage stays low.

        Args:
            epochs: Run at most this many epochs now (a caller that checkpoints
                after each epoch passes 1); ``None``: up to ``max_epochs``.

        Returns:
            ``history``: one record per epoch, resumed epochs included.

        Raises:
            CapabilityError: The data hold bottoms the model cannot emit
                (before any batch is read when the loader has a manifest,
                else before the step of the first batch that holds one).
            ConfigError: The data hold ``missing`` rows and the loss cannot mask them.
            DataError: A training loss was not finite (the message names the
                step and the epoch); the epoch is not recorded.
        """
        self._train_checked = self._check_on_every_rank()
        self.optimizer.zero_grad(set_to_none=True)
        self.stopped_early = False
        last = self.config.max_epochs
        if epochs is not None:
            last = min(last, self.current_epoch + require_positive_int("epochs", epochs))
        for epoch in range(self.current_epoch, last):
            self._start_epoch(epoch)
            for batch in self.train_loader:
                self.train_step(batch)
            self._finish_group()
            record = self._end_epoch(epoch)
            self.current_epoch = epoch + 1
            if self._coverage_stays_low(record):
                self.stopped_early = True
                break
        self._train_checked = False
        return self.history

    def train_step(self, batch: Any) -> Tensor:
        """One forward and backward pass; steps the optimizer when the group is full.

        Returns:
            The batch loss, detached, on the device (reading it syncs).
        """
        config = self.config
        step = self._prepare(batch, training=True, checked=self._train_checked)
        self.global_step += 1
        tau = self.thresholds.draw()
        self.last_thresholds.append(tau)
        with self._policy(tau), self.amp.autocast():
            outputs = self.model(step.inputs)
            loss = self._loss(outputs, step, tau)
        if loss.requires_grad:
            scale = step.rows if config.gradient_accumulation_steps > 1 else 1
            self.amp.backward(loss * scale if scale != 1 else loss)
        loss = loss.detach()
        self._epoch_metrics.add(
            loss, outputs, step.targets, config.tau_infer, values=step.values, codes=step.codes
        )
        self._group_steps += 1
        self._group_rows += step.rows
        if self._group_steps == config.gradient_accumulation_steps:
            self._optimizer_step()
        if config.log_hook is not None and self.global_step % config.log_every_n_steps == 0:
            self._emit("train", step=self.global_step, step_loss=float(loss), **self._metrics())
        return loss

    def validate(self, tau_infer: float | None = None) -> Record | None:
        """One pass over ``config.val_loader`` without gradients.

        Args:
            tau_infer: Decode at this threshold instead of ``config.tau_infer``
                (a calibrated one).

        Returns:
            The metrics (unprefixed), decoded at ``tau_infer``, with
            ``tau_calibrated``; ``None`` without a loader or batches. The loss
            uses the middle of the training thresholds. :attr:`calibration`
            holds the pass's best ⊥ F1 threshold.
        """
        loader = self.config.val_loader
        if loader is None:
            return None
        checked = self.checks.manifest(loader, training=False)
        tau = 0.5 * (self.config.tau_train_min + self.config.tau_train_max)
        tau_infer = self.config.tau_infer if tau_infer is None else tau_infer
        sums = MetricSums(self.device, thresholds=candidate_thresholds(self.model))
        batches = 0
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for batch in loader:
                    step = self._prepare(batch, training=False, checked=checked)
                    with self.amp.autocast():
                        outputs = self.model(step.inputs)
                        loss = self._loss(outputs, step, tau)
                    sums.add(
                        loss, outputs, step.targets, tau_infer, values=step.values, codes=step.codes
                    )
                    batches += 1
        finally:
            self.model.train(was_training)
        if not batches:
            return None
        self.calibration = sums.calibrate()
        tau_calibrated = math.nan if self.calibration.tau is None else self.calibration.tau
        return {**sums.read(), "tau_calibrated": tau_calibrated}

    # -- phases ---------------------------------------------------------------------

    def _start_epoch(self, epoch: int) -> None:
        self.current_epoch = epoch
        set_epoch = getattr(self.train_loader, "set_epoch", None)
        if set_epoch is not None:  # a shard loader reseeds its shuffle; resumes keep the order
            set_epoch(epoch)
        self._epoch_metrics.reset()
        self.model.train()
        curriculum = self.config.loss_curriculum
        if curriculum is not None:
            self._loss_weights = dict(curriculum.weights(epoch, self.config.loss_weights))

    def _finish_group(self) -> None:
        """Step on a trailing partial accumulation group, weighted by its own rows."""
        if self._group_steps:
            self._optimizer_step()

    def _end_epoch(self, epoch: int) -> Record:
        record: Record = {"epoch": epoch, "step": self.global_step, **self._metrics()}
        val = self.validate()
        if val is not None:
            val_record = {"epoch": epoch, **{f"val_{name}": value for name, value in val.items()}}
            self.val_history.append(val_record)
            record.update(val_record)
        self.history.append(record)
        self._emit("epoch", **record)
        return record

    def _coverage_stays_low(self, record: Record) -> bool:
        """Count consecutive epochs of validation coverage below the threshold."""
        coverage = record.get("val_coverage")
        if coverage is None or self.config.coverage_threshold is None:
            return False
        if coverage >= self.config.coverage_threshold:
            self.coverage_bad_epochs = 0
        else:
            self.coverage_bad_epochs += 1
        return self.coverage_bad_epochs >= self.config.coverage_patience

    # -- step pieces -----------------------------------------------------------------

    def _prepare(self, batch: Any, *, training: bool, checked: bool) -> TrainingBatch:
        step = as_training_batch(batch)
        if not checked:
            self.checks.batch(step.codes, step.targets, training=training)
        return step.to(self.device)

    def _loss(self, outputs: Any, step: TrainingBatch, tau: float) -> Tensor:
        keywords = self.loss_protocol.keywords(
            semantic_targets=step.targets,
            values=step.values,
            tau=tau,
            inputs=step.inputs,
            epoch=self.current_epoch,
            global_step=self.global_step,
            loss_weights=self._loss_weights,
        )
        loss = self.loss_fn(outputs, (step.targets.Y_n, step.targets.Y_d), **keywords)
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
            raise UsageError(f"the loss function must return a scalar tensor, got {shape}")
        return loss

    def _optimizer_step(self) -> None:
        if self.config.gradient_accumulation_steps > 1:
            # Each micro-batch's loss was scaled by its rows: divide by the group's rows.
            for group in self.optimizer.param_groups:
                for parameter in group["params"]:
                    if parameter.grad is not None:
                        parameter.grad.div_(self._group_rows)
        self.amp.step(self.optimizer)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scheduler is not None:
            self.scheduler.step()
        self._group_steps = self._group_rows = 0

    def _metrics(self) -> Record:
        """The epoch's metrics so far; raises if a step's loss was not finite."""
        sums, metrics = self._epoch_metrics, self._epoch_metrics.read()
        # The summed loss is not finite exactly when a step's was; each step was added in order.
        if not math.isfinite(metrics["loss"]) and (bad := sums.first_nonfinite_loss()):
            step = self.global_step - sums.steps + bad
            raise loss_not_finite(step, self.current_epoch, self._loss_weights)
        return metrics

    def _policy(self, tau: float) -> contextlib.AbstractContextManager[Any]:
        policy = self.config.gradient_policy
        return contextlib.nullcontext() if policy is None else gradient_policy(policy, tau=tau)

    def _emit(self, phase: str, **values: Any) -> None:
        if self.config.log_hook is not None:
            self.config.log_hook({"phase": phase, "epoch": self.current_epoch, **values})

    # -- checks --------------------------------------------------------------------

    def _check_on_every_rank(self) -> bool:
        """The training data's manifest checks; a refusal on any rank stops every rank."""
        refusal: ZpmlError | None = None
        try:
            checked = self.checks.manifest(self.train_loader, training=True)
        except ZpmlError as error:
            refusal, checked = error, False
        if distributed.any_rank(refusal is not None, self.device):
            raise refusal or CapabilityError(
                "another rank refused to train (its message says why); no step was taken"
            )
        return checked

    # -- checkpoints -----------------------------------------------------------------

    def save_checkpoint(
        self,
        path: str | Path,
        *,
        dataset: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Write the training state between epochs, atomically.

        It holds tensors and plain data only (``torch.load(weights_only=True)``
        reads it), a format version, and the dataset fingerprint (``dataset``,
        else ``dataset_fingerprint``; the CLI uses the manifest's sha256).

        Args:
            path: The checkpoint file.
            dataset: The data's fingerprint.
            extra: Plain data stored beside the state under its own keys (a
                run stores its model record); a key of the state is refused.

        Raises:
            UsageError: ``extra`` reuses a key of the training state.
        """
        write_checkpoint(path, capture_state(self, dataset, extra))

    def load_checkpoint(
        self, path: str | Path, *, dataset: str | None = None, force: bool = False
    ) -> None:
        """Restore a state written by :meth:`save_checkpoint`; ``fit`` then resumes.

        Args:
            path: The checkpoint.
            dataset: The fingerprint of the data to resume on (else
                ``dataset_fingerprint``); a different stored one is refused.
            force: Resume on different data anyway.

        Raises:
            SourceError: Unreadable file.
            ConfigError: Not a zpml checkpoint, an unknown version, different
                data, or a state that does not fit this model or optimizer.
        """
        expected = dataset if dataset is not None else self.dataset_fingerprint
        state = read_checkpoint(path, map_location=self.device, dataset=expected, force=force)
        restore_state(self, state, path)
