"""``zpml evaluate``'s work: score a trained model on labelled data, as training scored it.

The data are a shard directory (verified, as the loader always does) or a
labelled table (checked as ``zpml audit`` checks it). The metrics come from
the trainer's own validation pass (:meth:`~zpml_train.training.trainer.SCMTrainer.validate`,
the one metric vocabulary, the run's loss and thresholds) at the model's
``tau_infer``, so on a run's validation shards they are the metrics the run
recorded. Beside them: a status confusion table per target (true label ×
decoded status) and a sample of predictions for the page.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zpml_data.errors import DataError, UsageError
from zpml_data.io import DEFAULT_BATCH_SIZE
from zpml_data.status import STATUS_LABELS, Status
from zpml_train.predict import Predictor, load_model

# Rows of the predictions sample drawn on the page.
SAMPLE_ROWS = 2000
_LABELS = len(STATUS_LABELS)


@dataclasses.dataclass
class Evaluation:
    """What :func:`evaluate` measured.

    Attributes:
        model: The model evaluated (path as given).
        data: The data (path as given).
        tau_infer: The threshold every prediction decoded at.
        metrics: The training metrics by name (NaN where a metric has nothing to count).
        confusion: Per target, ``{true label: {decoded label: count}}`` over all seven labels.
        rows: Rows evaluated.
        sample: The first rows' first input, first target, its code and decoded value.
        sample_names: The names of that input and target.
    """

    model: str
    data: str
    tau_infer: float
    metrics: dict[str, float]
    confusion: dict[str, dict[str, dict[str, int]]]
    rows: int
    sample: dict[str, np.ndarray] = dataclasses.field(repr=False, default_factory=dict)
    sample_names: tuple[str, str] = ("input", "target")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (NaN metrics as ``None``)."""
        return {
            "model": self.model,
            "data": self.data,
            "tau_infer": self.tau_infer,
            "rows": self.rows,
            "metrics": {k: None if v != v else v for k, v in self.metrics.items()},
            "confusion": self.confusion,
        }


class _TableBatches:
    """A labelled table as re-iterable ``(inputs, values, codes)`` batches, read as it goes."""

    def __init__(self, predictor: Predictor, source: Any, batch_size: int) -> None:
        from zpml_data.io.sources import open_source
        from zpml_train.predict_io import refuse_missing_columns

        self.predictor, self.batch_size = predictor, batch_size
        self.source = open_source(source)
        status = predictor.record.status_columns or ["status"] * len(predictor.targets)
        self.pairs = list(zip(predictor.targets, status, strict=True))
        needed = [*predictor.inputs, *(c for pair in self.pairs for c in pair)]
        names = self.source.schema.names
        refuse_missing_columns(self.source.names, names, needed, "input, value or status")
        self.columns = list(dict.fromkeys(needed))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        import pyarrow.compute as pc

        from zpml_data.encode import encode_status
        from zpml_train.predict_io import input_matrix

        record = self.predictor.record
        for part in self.source.batches(self.columns, batch_size=self.batch_size):
            batch = part.batch
            x, _ = input_matrix(batch, self.predictor.features, record.categories, part.file)
            values = np.stack(
                [
                    pc.cast(batch.column(v), "float64").to_numpy(zero_copy_only=False)
                    for v, _ in self.pairs
                ],
                axis=1,
            ).astype(np.float32)
            codes = np.stack([encode_status(batch.column(s)) for _, s in self.pairs], axis=1)
            if len(self.pairs) == 1:
                values, codes = values[:, 0], codes[:, 0]
            yield torch.from_numpy(x), torch.from_numpy(values), torch.from_numpy(codes)


def _open_data(predictor: Predictor, data: Any, batch_size: int) -> Any:
    """A shard loader (verified) or labelled-table batches (audited) over ``data``.

    Raises:
        DataError: The table fails its audit checks.
        IntegrityError: A shard does not match its manifest.
        UsageError: Shards of other inputs or targets than the model's.
    """
    if isinstance(data, str | Path) and (Path(data) / "manifest.json").is_file():
        from zpml_train.data.loader import make_loader

        loader = make_loader(data, batch_size, shuffle=False)
        manifest = loader.manifest
        if (manifest.inputs, manifest.targets) != (predictor.features, predictor.targets):
            raise UsageError(
                f"{data}: shards of inputs {manifest.inputs} and targets {manifest.targets}; "
                f"the model reads {predictor.features} for {predictor.targets}"
            )
        return loader
    batches = _TableBatches(predictor, data, batch_size)
    _audit(predictor, data, batches)
    return batches


def _audit(predictor: Predictor, data: Any, batches: _TableBatches) -> None:
    """Refuse a table that fails the audit's error checks, or ``input_finite`` as shards do.

    A trainable row (finite or ⊥) whose input is not a finite float32 would be
    decoded ``missing`` and leave the metrics without a word; ``zpml shard``
    refuses such rows, and so does evaluation.

    Raises:
        DataError: Naming the failed checks, and each non-finite input column
            with its count of trainable rows.
    """
    from zpml_data import DatasetSpec, audit
    from zpml_data.checks.rules import SHARD_LEVELS
    from zpml_data.spec import Target

    spec = DatasetSpec(
        targets=tuple(Target(value, status) for value, status in batches.pairs),
        inputs=tuple(predictor.inputs),
    )
    report = audit(batches.source, spec)
    failed = sorted(
        {
            c["name"]
            for c in report.to_dict()["checks"]
            if c.get("failed") and "error" in (c["level"], SHARD_LEVELS.get(c["name"]))
        }
    )
    if not failed:
        return
    where = ""
    if "input_finite" in failed:
        counts = _nonfinite_input_counts(predictor, batches)
        where = ": " + ", ".join(f"{count:,} in {name!r}" for name, count in counts.items())
        where = f" (trainable rows with a non-finite input{where})"
    name = data if isinstance(data, str | Path) else f"<{type(data).__name__}>"
    raise DataError(
        f"{name}: the data fail their checks ({', '.join(failed)}){where}; "
        f"zpml audit {name} shows the rows; fix them before evaluating"
    )


def _nonfinite_input_counts(predictor: Predictor, batches: _TableBatches) -> dict[str, int]:
    """Per input feature, the trainable rows (finite or ⊥ in any target) where it is not finite.

    Counted as the model reads them: after the float32 cast, where 1e39 is inf.
    """
    from zpml_data.status import BOTTOM_STATUSES

    trainable = np.array(sorted({int(Status.FINITE), *map(int, BOTTOM_STATUSES)}))
    counts = np.zeros(len(predictor.features), np.int64)
    for inputs, _, codes in batches:
        codes_2d = codes.numpy().reshape(len(inputs), -1)
        rows = np.isin(codes_2d, trainable).any(axis=1)
        counts += (~np.isfinite(inputs.numpy()[rows])).sum(axis=0)
    return {name: int(n) for name, n in zip(predictor.features, counts, strict=True) if n}


def _metrics(predictor: Predictor, batches: Any) -> dict[str, float]:
    """The trainer's validation pass over ``batches`` at the model's ``tau_infer``."""
    from zpml_train.model.gated_loss import GatedLoss
    from zpml_train.model.losses import SCMTrainingLoss
    from zpml_train.training.config import TrainingConfig
    from zpml_train.training.trainer import SCMTrainer

    settings = dict(predictor.training_config or {})
    settings["device"] = str(predictor.device)
    config = TrainingConfig.from_dict(settings, val_loader=batches)
    loss = GatedLoss() if predictor.record.spec["head"] == "gated" else SCMTrainingLoss()
    model = predictor.model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # never stepped: validation only
    trainer = SCMTrainer(model, optimizer, loss, [], config=config)
    metrics = trainer.validate(tau_infer=predictor.tau_infer)
    model.eval()
    return {} if metrics is None else {k: float(v) for k, v in metrics.items()}


def evaluate(
    model: str | Path | Predictor,
    data: Any,
    *,
    device: str = "cpu",
    batch_size: int | None = None,
) -> Evaluation:
    """Score ``model`` on labelled ``data`` at its ``tau_infer``.

    Args:
        model: A run directory, a checkpoint, or a loaded :class:`Predictor`.
        data: A shard directory, or a labelled table (path or DataFrame) with
            the model's inputs, each target's value column and its status
            column (as named in the training data).
        device: Where the model runs (when ``model`` is a path).
        batch_size: Rows per batch. The loss is averaged per batch, as in
            training, so the default is the run's own batch size (from the
            ``config.json`` beside the checkpoint; without one,
            ``DEFAULT_BATCH_SIZE``): on the run's validation shards that
            gives the loss the run recorded.

    Returns:
        The :class:`Evaluation`.

    Raises:
        DataError: The table fails its checks, or holds no finite or ⊥ target (exit 1).
        IntegrityError: A shard does not match its manifest (exit 1).
        UsageError, ConfigError, SourceError: Bad model, data or paths (exit 2).
    """
    predictor = model if isinstance(model, Predictor) else load_model(model, device=device)
    if batch_size is None:
        batch_size = DEFAULT_BATCH_SIZE if isinstance(model, Predictor) else run_batch_size(model)
    batches = _open_data(predictor, data, batch_size)
    metrics = _metrics(predictor, batches)
    counts, sample, rows = _decoded_pass(predictor, batches)
    _require_scored_targets(counts, rows, data)
    return Evaluation(
        model=str(model if not isinstance(model, Predictor) else "<Predictor>"),
        data=str(data) if isinstance(data, str | Path) else f"<{type(data).__name__}>",
        tau_infer=predictor.tau_infer,
        metrics=metrics,
        confusion={
            target: _confusion(counts[index]) for index, target in enumerate(predictor.targets)
        },
        rows=rows,
        sample=sample,
        sample_names=(predictor.features[0], predictor.targets[0]),
    )


def _decoded_pass(
    predictor: Predictor, batches: Any
) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
    """One pass of the predictor: per target, true x decoded counts; the first rows; the rows.

    Returns:
        ``[T, 7·7]`` counts (true code · 7 + decoded code), the sample of the
        first :data:`SAMPLE_ROWS` rows (first input, first target), and the rows read.
    """
    targets = len(predictor.targets)
    counts = np.zeros((targets, _LABELS * _LABELS), np.int64)
    parts: list[tuple[np.ndarray, ...]] = []
    rows = kept = 0
    for batch in batches:
        inputs, values, codes = batch[0], batch[1], batch[2]
        predicted = predictor.predict_matrix(inputs)
        true = np.asarray(codes, dtype=np.int64).reshape(len(inputs), targets)
        cells = true * _LABELS + predicted.codes.astype(np.int64)
        for t in range(targets):
            counts[t] += np.bincount(cells[:, t], minlength=_LABELS * _LABELS)
        if kept < SAMPLE_ROWS:
            take = SAMPLE_ROWS - kept
            first = np.asarray(values, dtype=np.float64).reshape(len(inputs), targets)[:take, 0]
            parts.append(
                (np.asarray(inputs)[:take, 0], first, true[:take, 0], predicted.values[:take, 0])
            )
            kept += len(first)
        rows += len(inputs)
    names = ("inputs", "targets", "codes", "decoded")
    joined = [np.concatenate(c) for c in zip(*parts, strict=True)] if parts else []
    return counts, dict(zip(names, joined, strict=False)), rows


def _require_scored_targets(counts: np.ndarray, rows: int, data: Any) -> None:
    """Refuse data without a finite or ⊥ target: every metric would be empty or trivially 0."""
    true = counts.reshape(len(counts), _LABELS, _LABELS).sum(axis=2)
    scored = int(true.sum() - true[:, int(Status.MISSING)].sum())
    if scored == 0:
        name = data if isinstance(data, str | Path) else f"<{type(data).__name__}>"
        what = "no rows" if rows == 0 else f"{rows:,} rows, every target 'missing'"
        raise DataError(
            f"{name}: nothing to evaluate ({what}); evaluate on rows with finite or ⊥ targets"
        )


def run_batch_size(model: str | Path) -> int:
    """The training batch size of the run a checkpoint belongs to, else the default.

    Read from the ``config.json`` beside the checkpoint (a run directory's);
    anything unreadable there gives :data:`DEFAULT_BATCH_SIZE`.
    """
    from zpml_data.errors import ZpmlError
    from zpml_data.io.untrusted import read_untrusted_text
    from zpml_data.validate import require_positive_int

    path = Path(model)
    config = (path if path.is_dir() else path.parent) / "config.json"
    if not config.is_file():
        return DEFAULT_BATCH_SIZE
    try:
        text = read_untrusted_text(config, "run config", UsageError)
        return require_positive_int("batch_size", json.loads(text)["run"]["batch_size"])
    except (ZpmlError, ValueError, KeyError, TypeError):
        return DEFAULT_BATCH_SIZE


def _confusion(flat: np.ndarray) -> dict[str, dict[str, int]]:
    table = flat.reshape(_LABELS, _LABELS)
    return {
        true: {pred: int(table[i, j]) for j, pred in enumerate(STATUS_LABELS)}
        for i, true in enumerate(STATUS_LABELS)
    }
