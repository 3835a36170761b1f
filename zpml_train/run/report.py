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
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from zpml_data import encode_status
from zpml_data.io.atomic import atomic_write_text
from zpml_data.status import STATUS_LABELS, Status
from zpml_train.model.heads import decode
from zpml_train.run._report_style import STYLE
from zpml_train.run._scatter import ScatterData, status_scatter
from zpml_train.run._svg import Series, fmt, line_chart, stacked_bar

REPORT_NAME = "report.html"
# The metrics charted, in page order: (record key, title, a share in [0, 1]?, what it counts).
METRICS: tuple[tuple[str, str, bool, str], ...] = (
    ("loss", "Loss", False, "SCM training loss, averaged over rows"),
    ("coverage", "Coverage", True, "share of outputs that decode finite"),
    ("finite_rmse", "Finite RMSE", False, "on finite targets that decode finite"),
    ("finite_decoded", "Finite decoded", True, "share of finite targets decoded finite"),
    ("bottom_recall", "⊥ recall", True, "share of ⊥ targets decoded ⊥"),
    ("bottom_precision", "⊥ precision", True, "share of ⊥ outputs whose target is ⊥"),
    (
        "censored_accuracy",
        "Censored side",
        True,
        "share of censored targets whose P has their side",
    ),
)
# The last epoch's metrics shown as tiles on top.
_TILES = (
    "loss",
    "coverage",
    "finite_rmse",
    "bottom_recall",
    "bottom_precision",
    "censored_accuracy",
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
        tau_infer: The decoding threshold (see :func:`zpml_train.heads.decode`).
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
                P, Q = model(inputs.to(device))
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
    """
    path = Path(run_dir) / REPORT_NAME
    page = render_report(
        history,
        train_counts=train_counts,
        val_counts=val_counts,
        predictions=predictions,
        title=title if title is not None else Path(run_dir).absolute().name,
    )
    atomic_write_text(path, page)
    return path


def render_report(
    history: Sequence[Mapping[str, Any]],
    *,
    train_counts: Mapping[str, int],
    val_counts: Mapping[str, int] | None,
    predictions: Predictions | None,
    title: str,
) -> str:
    """The report page as text; arguments as for :func:`write_report`."""
    epochs = [int(record.get("epoch", index)) for index, record in enumerate(history)]
    sections = [
        _header(history, title),
        _metric_charts(history, epochs),
        _status_mix(train_counts, val_counts),
        _prediction_panels(predictions),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>zpml training report: {escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{''.join(sections)}</main></body></html>\n"
    )


def _value(record: Mapping[str, Any], key: str) -> float:
    value = record.get(key)
    return math.nan if value is None else float(value)


def _header(history: Sequence[Mapping[str, Any]], title: str) -> str:
    """The run's name, and the last epoch's metrics as tiles (validation where there is one)."""
    last = history[-1] if history else {}
    has_val = any(key.startswith("val_") for key in last)
    prefix = "val_" if has_val else ""
    tiles = []
    names = {key: name for key, name, _, _ in METRICS}
    for key in _TILES:
        value, name = _value(last, prefix + key), names[key]
        shown = f"{value:.1%}" if value == value and key not in ("loss", "finite_rmse") else ""
        tiles.append(
            f'<div class="tile"><div class="big">{escape(shown or fmt(value))}</div>'
            f"<div>{escape(name)}</div></div>"
        )
    where = "validation" if has_val else "training (no validation data)"
    return (
        f'<header><p class="kicker">zpml training report</p><h1>{escape(title)}</h1>'
        f'<p class="sub">{len(history)} epoch{"s" * (len(history) != 1)}; '
        f"the last epoch's metrics on {where}</p>"
        f'<div class="tiles">{"".join(tiles)}</div></header>'
    )


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
            f'<figure class="chart"><figcaption><h3>{escape(name)}</h3>'
            f'<span class="latest">{escape(latest)}</span><p>{escape(about)}</p></figcaption>'
            f"{line_chart(f'chart-{key}', epochs, series, unit)}</figure>"
        )
    legend = '<span class="key train">training</span>'
    if has_val:
        legend += '<span class="key val">validation</span>'
    return (
        f'<section><h2>Per epoch</h2><p class="legend">{legend}</p>'
        f'<div class="charts">{"".join(figures)}</div></section>'
    )


def _status_class(label: str) -> str:
    return f"s{STATUS_LABELS.index(label)}" if label in STATUS_LABELS else "s-other"


def _status_mix(train: Mapping[str, int], val: Mapping[str, int] | None) -> str:
    """A 100% bar per split and a table of counts and shares, from the manifests."""
    splits = [("training", train)] + ([("validation", val)] if val is not None else [])
    labels = list(STATUS_LABELS) + sorted(
        {str(label) for _, counts in splits for label in counts} - set(STATUS_LABELS)
    )
    bars = "".join(
        f'<div class="bar-row"><span>{name}</span>'
        + stacked_bar(
            f"mix-{name}",
            [(label, int(counts.get(label, 0)), _status_class(label)) for label in labels],
        )
        + "</div>"
        for name, counts in splits
    )
    head = "".join(f'<th class="num">{name}</th><th class="num">share</th>' for name, _ in splits)
    rows = []
    for label in labels:
        cells = "".join(_count_cells(int(counts.get(label, 0)), counts) for _, counts in splits)
        rows.append(
            f'<tr data-label="{escape(label)}"><td><i class="dot {_status_class(label)}"></i>'
            f"{escape(label)}</td>{cells}</tr>"
        )
    totals = "".join(_count_cells(sum(counts.values()), counts) for _, counts in splits)
    return (
        f'<section><h2>Status mix</h2>{bars}<table id="status-mix"><thead><tr><th>status</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
        f'<tfoot><tr data-label="total"><td>total</td>{totals}</tr></tfoot></table></section>'
    )


def _count_cells(count: int, counts: Mapping[str, int]) -> str:
    total = sum(counts.values())
    share = f"{count / total:.1%}" if total else "–"
    muted = " muted" if count == 0 else ""
    return f'<td class="num{muted}">{count:,}</td><td class="num{muted}">{share}</td>'


def _prediction_panels(predictions: Predictions | None) -> str:
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
    legend = "".join(
        f'<span class="key-dot"><i class="dot s{code}"></i>{escape(STATUS_LABELS[code])} '
        f"{count:,}</span>"
        for code, count in zip(present.tolist(), counts.tolist(), strict=True)
        if 0 <= code < len(STATUS_LABELS)
    )
    return (
        f'<section><h2>Predictions</h2><p class="sub">{p.codes.size:,} {escape(p.split)} rows, '
        "coloured by the status of their target. A prediction that decodes to ⊥ sits in the "
        "band on top; a target with no value, in the band on the right.</p>"
        f'<p class="legend">{legend}</p><div class="panels">'
        f'<figure class="panel"><h3>Prediction against target</h3>'
        f"{status_scatter('scatter-target', by_target)}</figure>"
        f'<figure class="panel"><h3>Prediction along {escape(p.input_name)}</h3>'
        f"{status_scatter('scatter-input', by_input)}</figure>"
        "</div></section>"
    )
