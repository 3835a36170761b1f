"""``report.html``: a training run as a page a person would rather look at than read.

The page is one self-contained file (inline CSS and SVG, no scripts, nothing
fetched): the final metrics, a chart per metric per epoch with training and
validation lines, the status mix of the training and validation data (from
their manifests), and a sample of decoded predictions against their targets,
coloured by status. Every string that comes from data is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from zpml_data import encode_status
from zpml_data._html import Series, Tile, card, esc, fmt, legend, line_chart, page, status_mix
from zpml_data.io.atomic import atomic_write_text
from zpml_data.status import STATUS_LABELS, Status
from zpml_train.model.heads import decode
from zpml_train.run._scatter import ScatterData, status_scatter
from zpml_train.training.metrics import METRIC_BY_NAME
from zpml_train.training.metrics import METRICS as VOCABULARY

REPORT_NAME = "report.html"
# The metrics charted, in page order: (record key, title, a share in [0, 1]?, what it counts).
METRICS: tuple[tuple[str, str, bool, str], ...] = tuple(
    (m.name, m.title, m.share, m.meaning)
    for m in VOCABULARY
    if m.name not in ("rows", "missing", "tau_calibrated")
)
# The final metrics shown as tiles on top (those the data give a value).
_TILES = (
    "loss",
    "finite_rmse_latent",
    "finite_rmse",
    "bottom_f1",
    "censored_bottom_side",
    "censored_any_side",
    "domain_invalid_recall",
    "domain_invalid_precision",
)
# Statuses whose target has no value a prediction could be compared with.
_NO_VALUE = frozenset({Status.BOTTOM, Status.DOMAIN_INVALID, Status.FAULT, Status.MISSING})


@dataclass(frozen=True)
class Predictions:
    """A sample of rows with their decoded predictions (the first target of each row).

    Attributes:
        inputs: The first input feature of each row.
        targets: The target values (NaN where the row has none).
        codes: The targets' int8 status codes.
        decoded: The decoded predictions, NaN where ⊥.
        input_name: The first input's name.
        target_name: The target's name.
        split: Which data the rows are from: ``"validation"`` or ``"training"``.
    """

    inputs: np.ndarray
    targets: np.ndarray
    codes: np.ndarray
    decoded: np.ndarray
    input_name: str = "input"
    target_name: str = "target"
    split: str = "validation"


def collect_predictions(
    model: nn.Module,
    loader: Iterable[Any],
    tau_infer: float,
    *,
    limit: int = 2000,
    split: str = "validation",
) -> Predictions:
    """Run ``model`` on the first ``limit`` rows of ``loader`` and decode strictly.

    A loader with ``state_dict``/``load_state_dict`` (a shard loader) is left
    where it was, so collecting does not move a run's position in its data.

    Args:
        model: Returns ``(P, Q)``; run in eval mode, then put back as it was.
        loader: Batches of :class:`~zpml_train.Batch` or ``(inputs, values, status_labels)``.
        tau_infer: The decoding threshold (see :func:`zpml_train.model.heads.decode`).
        limit: Rows to collect at most.
        split: Which data ``loader`` holds, for the page.

    Returns:
        The :class:`Predictions` of the first target of each row.
    """
    device = next(model.parameters(), torch.empty(0)).device
    state = loader.state_dict() if hasattr(loader, "state_dict") else None
    parts: list[tuple[np.ndarray, ...]] = []
    rows, was_training = 0, model.training
    model.eval()
    try:
        with torch.inference_mode():
            for batch in loader:
                inputs, values, labels = batch[0][: limit - rows], batch[1], batch[2]
                take = int(inputs.shape[0])
                codes = labels if isinstance(labels, torch.Tensor) else encode_status(labels)
                outputs = model(inputs.to(device))
                P, Q = outputs[0], outputs[1]  # a gated head gives more than (P, Q)
                decoded = decode(P, Q, tau_infer).values
                parts.append(
                    tuple(_first_column(t, take) for t in (inputs, values, codes, decoded))
                )
                rows += take
                if rows >= limit:
                    break
    finally:
        model.train(was_training)
        if state is not None:
            loader.load_state_dict(state)  # type: ignore[attr-defined]
    columns = [np.concatenate(c) if c else np.array([]) for c in zip(*parts, strict=True)]
    columns = columns or [np.array([])] * 4
    manifest = getattr(loader, "manifest", None)
    return Predictions(
        columns[0].astype(np.float64),
        columns[1].astype(np.float64),
        columns[2].astype(np.int8),
        columns[3].astype(np.float64),
        input_name=manifest.inputs[0] if manifest is not None else "input 0",
        target_name=manifest.targets[0] if manifest is not None else "target",
        split=split,
    )


def _first_column(values: Any, rows: int) -> np.ndarray:
    """The first ``rows`` rows of the first column (of a ``[B, T]`` array) on the host."""
    array = (
        values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    )
    return array[:rows, 0] if array.ndim > 1 else array[:rows]


def write_report(
    run_dir: str | Path,
    history: Sequence[Mapping[str, Any]],
    *,
    train_counts: Mapping[str, int],
    val_counts: Mapping[str, int] | None = None,
    predictions: Predictions | None = None,
    title: str | None = None,
    final: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``report.html`` into ``run_dir`` (atomically) and return its path.

    Args:
        run_dir: The run directory.
        history: One record per epoch (:attr:`SCMTrainer.history`): metrics by
            name, ``val_``-prefixed for validation; NaN or ``None`` where a
            metric has nothing to count.
        train_counts: The training data's status counts (its manifest's).
        val_counts: The validation data's, if there are validation data.
        predictions: A sample of decoded predictions (:func:`collect_predictions`).
        title: The page's title; default the run directory's name.
        final: Validation metrics (unprefixed) at the calibrated ``tau_infer``
            (under ``"tau_infer"``), shown as the tiles instead of the last epoch's.
    """
    path = Path(run_dir) / REPORT_NAME
    text = render_report(
        history,
        train_counts=train_counts,
        val_counts=val_counts,
        predictions=predictions,
        title=title if title is not None else Path(run_dir).absolute().name,
        final=final,
    )
    atomic_write_text(path, text)
    return path


def render_report(
    history: Sequence[Mapping[str, Any]],
    *,
    train_counts: Mapping[str, int],
    val_counts: Mapping[str, int] | None,
    predictions: Predictions | None,
    title: str,
    final: Mapping[str, Any] | None = None,
) -> str:
    """The report page as text; arguments as for :func:`write_report`."""
    epochs = [int(record.get("epoch", index)) for index, record in enumerate(history)]
    splits: list[tuple[str, Mapping[str, int]]] = [("training", train_counts)]
    splits += [("validation", val_counts)] if val_counts is not None else []
    last = history[-1] if history else {}
    has_val = any(key.startswith("val_") for key in last)
    where = "validation" if has_val else "training (no validation data)"
    shown, prefix = (last, "val_" if has_val else "") if final is None else (final, "")
    if final is not None:
        where = f"validation at the calibrated tau_infer {final.get('tau_infer', math.nan):.3g}"
    return page(
        title,
        kicker="zpml training report",
        sub=f"{len(history)} epoch{'s' * (len(history) != 1)}; "
        + ("the last epoch's metrics on " if final is None else "the best epoch's metrics on ")
        + where,
        tiles=_tiles(shown, prefix),
        sections=[
            _metric_charts(history, epochs),
            card("Status mix", status_mix(splits, "status-mix")),
            prediction_panels(predictions),
        ],
    )


def _value(record: Mapping[str, Any], key: str) -> float:
    value = record.get(key)
    return math.nan if value is None else float(value)


def _tiles(last: Mapping[str, Any], prefix: str) -> list[Tile]:
    """The last epoch's metrics (validation where there is one) as header tiles."""
    tiles = []
    for key in _TILES:
        value, metric = _value(last, prefix + key), METRIC_BY_NAME[key]
        if value == value or key == "loss":  # a metric the data give no value is left out
            tiles.append(Tile(metric.format(value), metric.title))
    return tiles


def _metric_charts(history: Sequence[Mapping[str, Any]], epochs: list[int]) -> str:
    """A chart per metric: the training line and, where there is one, the validation line."""
    has_val = any(key.startswith("val_") for record in history for key in record)
    figures = []
    for key, name, unit, about in METRICS:
        series = [Series("train", [_value(r, key) for r in history], "train")]
        if has_val:
            series.append(Series("validation", [_value(r, "val_" + key) for r in history], "val"))
        latest = " · ".join(
            f"{s.name} {fmt(next((v for v in reversed(s.values) if v == v), math.nan))}"
            for s in series
        )
        figures.append(
            f'<figure class="chart"><figcaption><h3>{esc(name)}</h3>'
            f'<span class="latest">{esc(latest)}</span><p>{esc(about)}</p></figcaption>'
            f"{line_chart(f'chart-{key}', epochs, series, unit)}</figure>"
        )
    legend = '<span class="key train">training</span>'
    if has_val:
        legend += '<span class="key val">validation</span>'
    return (
        f'<section><h2>Per epoch</h2><p class="legend">{legend}</p>'
        f'<div class="charts">{"".join(figures)}</div></section>'
    )


def prediction_panels(predictions: Predictions | None) -> str:
    """Predictions against targets and against the first input, coloured by target status."""
    if predictions is None or predictions.codes.size == 0:
        return '<section><h2>Predictions</h2><p class="sub">No rows to predict on.</p></section>'
    p = predictions
    no_value = np.isin(p.codes, [int(s) for s in _NO_VALUE])
    target = np.where(no_value, np.nan, p.targets)
    shown = p.codes != Status.MISSING  # a missing target is not ⊥: no ghost for it
    by_target = ScatterData(
        target, p.decoded, p.codes, f"target {p.target_name}", "decoded prediction", diagonal=True
    )
    by_input = ScatterData(
        p.inputs,
        p.decoded,
        p.codes,
        p.input_name,
        f"decoded prediction (grey: target {p.target_name})",
        ghost_x=p.inputs[shown],
        ghost_y=target[shown],
    )
    present, counts = np.unique(p.codes, return_counts=True)
    shown_counts = {
        STATUS_LABELS[code]: count
        for code, count in zip(present.tolist(), counts.tolist(), strict=True)
        if 0 <= code < len(STATUS_LABELS)
    }
    return (
        f'<section><h2>Predictions</h2><p class="sub">{p.codes.size:,} {esc(p.split)} rows, '
        "coloured by the status of their target. A prediction that decodes to ⊥ sits in the "
        "band on top; a target with no value, in the band on the right.</p>"
        f'{legend(shown_counts)}<div class="panels">'
        f'<figure class="panel"><h3>Prediction against target</h3>'
        f"{status_scatter('scatter-target', by_target)}</figure>"
        f'<figure class="panel"><h3>Prediction along {esc(p.input_name)}</h3>'
        f"{status_scatter('scatter-input', by_input)}</figure>"
        "</div></section>"
    )
