"""The methods the quality benchmark compares, each trained on a split's training rows.

Each returns ``(Prediction on the validation rows, training seconds)``. The
neural methods share one backbone size, batch size and optimiser; zpml runs
through the library (``ProjectiveMLP`` + its head's loss + ``SCMTrainer``),
keeping the epoch with the lowest validation loss as ``zpml train`` keeps
``best.pt``.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmarks._quality_data import Part, Split
from benchmarks._quality_metrics import Prediction
from zpml_data import lift_semantic_targets
from zpml_data.lift import SemanticTargets
from zpml_data.shards.format import status_counts
from zpml_data.status import Status
from zpml_train import Batch, ProjectiveMLP, SCMTrainer, SCMTrainingLoss, TrainingConfig
from zpml_train.model.gated import GatedHead, GatedOutputs
from zpml_train.model.gated_loss import GatedLoss
from zpml_train.model.heads import HeadName, RationalHead
from zpml_train.run.settings import RunSettings


@dataclass(frozen=True)
class Settings:
    """What every neural method shares."""

    # zpml train's default backbone: "an MLP of the same size".
    hidden: tuple[int, ...] = RunSettings().hidden
    batch: int = 128
    lr: float = 1e-2
    epochs: int = 30
    # Cosine decay of the learning rate to 0 over the run (every neural method).
    cosine: bool = True


class _Manifest:
    """What the trainer reads of a shard loader's manifest: the status counts."""

    def __init__(self, codes: np.ndarray) -> None:
        self.status_counts = status_counts(codes)


class Batches:
    """In-memory batches as the shard loader yields them (stored lifted targets, a
    manifest with the status counts), reshuffled per epoch by a seeded generator."""

    def __init__(self, part: Part, batch: int, seed: int, *, shuffle: bool) -> None:
        self.x = torch.from_numpy(part.x)
        self.values = torch.from_numpy(part.values)
        self.codes = torch.from_numpy(part.codes)
        self.targets = lift_semantic_targets(self.values, self.codes)
        self.batch, self.seed, self.shuffle, self.epoch = batch, seed, shuffle, 0
        self.manifest = _Manifest(part.codes)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[Batch]:
        rows = len(self.codes)
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(rows, generator=generator) if self.shuffle else torch.arange(rows)
        for start in range(0, rows, self.batch):
            index = order[start : start + self.batch]
            targets = SemanticTargets(**{k: v[index] for k, v in vars(self.targets).items()})
            yield Batch(self.x[index], self.values[index], self.codes[index], targets)


def _schedule(
    optimizer: torch.optim.Optimizer, settings: Settings, rows: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Cosine decay of the learning rate to 0 over every step of the run, or none."""
    if not settings.cosine:
        return None
    steps = settings.epochs * -(-rows // settings.batch)
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)


def _finite_stats(part: Part) -> tuple[float, float]:
    finite = part.values[part.rows(Status.FINITE)]
    return float(finite.mean()), float(finite.std())


def zpml(split: Split, seed: int, settings: Settings, head: HeadName) -> tuple[Prediction, float]:
    """``ProjectiveMLP(head=...)`` with its loss and thresholds, through ``SCMTrainer``."""
    torch.manual_seed(seed)
    model = ProjectiveMLP(split.train.x.shape[1], 1, settings.hidden, head=head)
    x = torch.from_numpy(split.train.x)
    model.set_input_scaling(x.mean(0), x.std(0))
    model.set_value_scaling(*_finite_stats(split.train))
    train = Batches(split.train, settings.batch, seed, shuffle=True)
    val = Batches(split.val, 1024, seed, shuffle=False)
    thresholds = (GatedHead if head == "gated" else RationalHead).DEFAULT_THRESHOLDS
    loss = GatedLoss() if head == "gated" else SCMTrainingLoss()
    config = TrainingConfig(
        max_epochs=settings.epochs, coverage_threshold=0.0, seed=seed, val_loader=val, **thresholds
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    scheduler = _schedule(optimizer, settings, len(split.train.codes))
    trainer = SCMTrainer(model, optimizer, loss, train, scheduler=scheduler, config=config)
    start = time.process_time()
    best, best_state = float("inf"), None
    for _ in range(settings.epochs):
        trainer.fit(epochs=1)
        val_loss = trainer.history[-1]["val_loss"]
        if val_loss < best:
            best, best_state = val_loss, {k: v.clone() for k, v in model.state_dict().items()}
    seconds = time.process_time() - start
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(split.val.x))
    return _prediction(out, thresholds["tau_infer"]), seconds


def zpml_train(split: Split, seed: int, epochs: int | None = None) -> tuple[Prediction, float, int]:
    """``zpml train TRAIN --val VAL --out RUN --seed S`` on shards of the split, nothing else
    set: the verb's own head choice, thresholds, model size, batch, learning rate and
    schedule, epochs and patience. Decoded at the run's ``tau_infer`` (calibrated on the
    validation rows where it can: the same rows it is scored on).

    Args:
        split: The dataset's split.
        seed: ``--seed``.
        epochs: ``--epochs`` as well: only for ``--quick`` and the untimed warm-up.

    Returns:
        The prediction, the training CPU seconds and the epochs the run trained.
    """
    import pandas as pd

    from zpml_data import write_shards
    from zpml_data.status import STATUS_LABELS
    from zpml_train.cli.train import train_shards
    from zpml_train.predict import load_model

    options: dict[str, int] = {"seed": seed}
    if epochs is not None:
        options["epochs"] = epochs
    with tempfile.TemporaryDirectory() as tmp:
        # train/ and val/ make data/ a split directory: the run goes beside it, not in it.
        data, run = Path(tmp) / "data", Path(tmp) / "run"
        for name, part in (("train", split.train), ("val", split.val)):
            frame = pd.DataFrame(part.x, columns=list(split.inputs))
            frame["value"] = part.values
            frame["status"] = pd.Categorical.from_codes(part.codes, categories=list(STATUS_LABELS))
            write_shards(frame, data / name)
        start = time.process_time()
        with contextlib.redirect_stderr(io.StringIO()):  # its epoch lines
            train_shards(
                data / "train",
                run,
                val_dir=data / "val",
                options=options,
                echo=lambda line: None,
                progress=False,
            )
        seconds = time.process_time() - start
        predictor = load_model(run / "best.pt")
        ran = len((run / "metrics.jsonl").read_text().splitlines())
    with torch.no_grad():
        out = predictor.model(torch.from_numpy(split.val.x))
    return _prediction(out, predictor.tau_infer), seconds, ran


def _prediction(out: Any, tau: float) -> Prediction:
    P, Q = out[0][:, 0].double().numpy(), out[1][:, 0].double().numpy()
    if isinstance(out, GatedOutputs):
        latent = out.latent[:, 0].double().numpy()
        return Prediction(latent, P, Q, out.kind_logits[:, 0].argmax(-1).numpy(), tau=tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        return Prediction(P / Q, P, Q, None, tau=tau)


def _mlp(width: int, hidden: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    return nn.Sequential(*layers, nn.Linear(width, 1))


def _neural(
    split: Split, seed: int, settings: Settings, rows: np.ndarray, tobit: bool
) -> tuple[Prediction, float]:
    torch.manual_seed(seed)
    x_all = torch.from_numpy(split.train.x)
    shift, scale = x_all.mean(0), x_all.std(0).clamp_min(1e-12)
    m, d = _finite_stats(split.train)
    x = (x_all[rows] - shift) / scale
    z = (torch.from_numpy(split.train.values[rows]) - m) / d
    side = torch.from_numpy(np.where(split.train.codes[rows] == Status.CENSORED_BELOW, -1.0, 1.0))
    censored = torch.from_numpy(split.train.codes[rows] != Status.FINITE)
    net, log_sigma = _mlp(x.shape[1], settings.hidden), nn.Parameter(torch.zeros(()))
    optimizer = torch.optim.Adam([*net.parameters(), log_sigma], lr=settings.lr)
    scheduler = _schedule(optimizer, settings, len(z))
    generator = torch.Generator().manual_seed(seed)
    start = time.process_time()
    for _ in range(settings.epochs):
        for index in torch.randperm(len(z), generator=generator).split(settings.batch):
            mu = net(x[index])[:, 0]
            if tobit:
                r = (z[index] - mu) / log_sigma.exp()
                gaussian = 0.5 * r.square() + log_sigma
                tail = -torch.special.log_ndtr(-side[index] * r)
                loss = torch.where(censored[index], tail, gaussian).mean()
            else:
                loss = (mu - z[index]).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    seconds = time.process_time() - start
    with torch.no_grad():
        latent = net((torch.from_numpy(split.val.x) - shift) / scale)[:, 0].double().numpy()
    return Prediction(latent * d + m), seconds


def mlp_mse(split: Split, seed: int, settings: Settings) -> tuple[Prediction, float]:
    """An MLP of the same size, MSE on the finite rows only."""
    return _neural(split, seed, settings, split.train.rows(Status.FINITE), tobit=False)


def tobit_mlp(split: Split, seed: int, settings: Settings) -> tuple[Prediction, float]:
    """The same MLP with a Tobit likelihood on finite and censored rows (learned σ)."""
    rows = split.train.rows(Status.FINITE) | _censored(split.train)
    return _neural(split, seed, settings, rows, tobit=True)


def _censored(part: Part) -> np.ndarray:
    return part.rows(Status.CENSORED_BELOW) | part.rows(Status.CENSORED_ABOVE)


def hist_gradient_boosting(split: Split, seed: int, settings: Settings) -> tuple[Prediction, float]:
    """scikit-learn's ``HistGradientBoostingRegressor`` (defaults) on the finite rows."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    finite = split.train.rows(Status.FINITE)
    start = time.process_time()
    model = HistGradientBoostingRegressor(random_state=seed).fit(
        split.train.x[finite], split.train.values[finite]
    )
    seconds = time.process_time() - start
    return Prediction(model.predict(split.val.x).astype(np.float64)), seconds


def xgboost_aft(split: Split, seed: int, settings: Settings) -> tuple[Prediction, float]:
    """XGBoost ``survival:aft`` on finite rows and censored intervals.

    The parameters of XGBoost's own AFT tutorial (normal errors, scale 1.2,
    depth 2, learning rate 0.05), 100 rounds; untuned per dataset.
    """
    import xgboost as xgb

    part = split.train
    rows = part.rows(Status.FINITE) | _censored(part)
    value = part.values[rows].astype(np.float64)
    codes = part.codes[rows]
    lower = np.where(codes == Status.CENSORED_BELOW, 0.0, value)
    upper = np.where(codes == Status.CENSORED_ABOVE, np.inf, value)
    data = xgb.DMatrix(part.x[rows], label_lower_bound=lower, label_upper_bound=upper)
    params = {
        "objective": "survival:aft",
        "eval_metric": "aft-nloglik",
        "aft_loss_distribution": "normal",
        "aft_loss_distribution_scale": 1.2,
        "tree_method": "hist",
        "learning_rate": 0.05,
        "max_depth": 2,
        "nthread": 1,
        "seed": seed,
    }
    start = time.process_time()
    booster = xgb.train(params, data, num_boost_round=100)
    seconds = time.process_time() - start
    return Prediction(booster.predict(xgb.DMatrix(split.val.x)).astype(np.float64)), seconds
