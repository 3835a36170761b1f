"""The ``zpml evaluate`` page: the metrics, the status confusion table and the prediction charts.

Built from the one report kit (:mod:`zpml_data._html`): the same header
tiles, colours and cards as the training report, whose prediction panels it
reuses. One self-contained file; every string from data is escaped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zpml_data._html import Tile, card, dot, esc, page
from zpml_data.io.atomic import atomic_write_text
from zpml_data.status import STATUS_LABELS
from zpml_train.evaluate import Evaluation
from zpml_train.training.metrics import METRICS

# Metrics shown as tiles, when the data give them a value.
TILES = (
    "loss",
    "coverage",
    "finite_rmse",
    "finite_rmse_latent",
    "bottom_f1",
    "censored_any_side",
    "censored_bottom_side",
    "domain_invalid_recall",
)


def render_evaluation(evaluation: Evaluation) -> str:
    """The page as text."""
    metrics = evaluation.metrics
    tiles = [
        Tile(m.format(metrics[m.name]), m.title)
        for m in METRICS
        if m.name in TILES and metrics.get(m.name, float("nan")) == metrics.get(m.name)
    ]
    sections = [_metric_table(evaluation)]
    sections += [_confusion(target, table) for target, table in evaluation.confusion.items()]
    sections.append(_predictions(evaluation))
    return page(
        Path(evaluation.model).name or evaluation.model,
        kicker="zpml evaluation",
        sub=f"{evaluation.rows:,} rows of {evaluation.data}, decoded at tau_infer "
        f"{evaluation.tau_infer:.3g}",
        tiles=tiles,
        sections=sections,
    )


def evaluation_text(evaluation: Evaluation) -> str:
    """The metrics and each confusion table, for a terminal."""
    lines = [
        f"{evaluation.rows:,} rows of {evaluation.data} at tau_infer {evaluation.tau_infer:.3g}"
    ]
    lines += [
        f"  {m.name:<26} {m.format(evaluation.metrics[m.name])}"
        for m in METRICS
        if m.name in evaluation.metrics
    ]
    for target, table in evaluation.confusion.items():
        used = [label for label in STATUS_LABELS if sum(table[label].values())]
        decoded = [label for label in STATUS_LABELS if any(table[t][label] for t in used)]
        lines.append(f"{target}: true label (rows) x decoded status (columns)")
        lines.append("  " + f"{'':<16}" + "".join(f"{label:>16}" for label in decoded))
        lines += [
            "  " + f"{true:<16}" + "".join(f"{table[true][label]:>16,}" for label in decoded)
            for true in used
        ]
    return "\n".join(lines)


def write_evaluation_page(evaluation: Evaluation, path: str | Path) -> Path:
    """Write the page to ``path`` atomically and return the path."""
    atomic_write_text(path, render_evaluation(evaluation))
    return Path(path)


def _metric_table(evaluation: Evaluation) -> str:
    rows = "".join(
        f"<tr><td>{esc(m.title)}</td><td class='num'>"
        f"{esc(m.format(evaluation.metrics.get(m.name)))}</td><td>{esc(m.meaning)}</td></tr>"
        for m in METRICS
        if m.name in evaluation.metrics
    )
    return card(
        "Metrics",
        f'<table id="metrics"><thead><tr><th>metric</th><th class="num">value</th>'
        f"<th>what it counts</th></tr></thead><tbody>{rows}</tbody></table>",
        sub="The training metrics, computed by the trainer's own validation pass.",
    )


def _confusion(target: str, table: dict[str, dict[str, int]]) -> str:
    """True label (rows) × decoded status (columns): counts, and each row's shares."""
    used = [label for label in STATUS_LABELS if sum(table[label].values())]
    decoded = [
        label for label in STATUS_LABELS if any(table[true][label] for true in STATUS_LABELS)
    ]
    head = "".join(f'<th class="num">{dot(label)}</th>' for label in decoded)
    body = []
    for true in used:
        total = sum(table[true].values())
        cells = "".join(
            f'<td class="num{" muted" if not table[true][pred] else ""}">'
            f"{table[true][pred]:,}<br><small>{table[true][pred] / total:.1%}</small></td>"
            for pred in decoded
        )
        body.append(
            f'<tr data-label="{esc(true)}"><td>{dot(true)}</td>'
            f'<td class="num">{total:,}</td>{cells}</tr>'
        )
    return card(
        f"Status confusion: {target}",
        f'<table class="confusion" data-target="{esc(target)}"><thead><tr><th>true label</th>'
        f'<th class="num">rows</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>',
        sub="Rows: the true label; columns: the decoded status (count, and share of the row).",
    )


def _predictions(evaluation: Evaluation) -> str:
    from zpml_train.run.report import Predictions, prediction_panels

    sample = evaluation.sample
    if not sample or not len(sample.get("codes", ())):
        return prediction_panels(None)
    return prediction_panels(
        Predictions(
            np.asarray(sample["inputs"], np.float64),
            np.asarray(sample["targets"], np.float64),
            np.asarray(sample["codes"], np.int8),
            np.asarray(sample["decoded"], np.float64),
            input_name=evaluation.sample_names[0],
            target_name=evaluation.sample_names[1],
            split="evaluated",
        )
    )
