"""The per-status metrics of an epoch as a table a person reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# (metric, what it means), in reading order.
_ROWS = (
    ("loss", "loss per row"),
    ("coverage", "outputs that decode finite"),
    ("finite_rmse", "RMSE on finite targets decoded finite"),
    ("finite_decoded", "finite targets decoded finite"),
    ("bottom_recall", "⊥ targets decoded ⊥"),
    ("bottom_precision", "⊥ outputs whose target is ⊥"),
    ("censored_accuracy", "censored targets on the right side"),
    ("rows", "target cells"),
    ("missing", "cells skipped as missing"),
)


def metrics_table(record: Mapping[str, Any]) -> str:
    """Training and (where present) validation metrics of one history record, side by side."""
    has_val = any(key.startswith("val_") for key in record)
    header = f"{'metric':18} {'train':>10}" + (f" {'validation':>10}" if has_val else "")
    lines = [header, "-" * len(header)]
    for name, meaning in _ROWS:
        cells = [_cell(record.get(name))]
        if has_val:
            cells.append(_cell(record.get(f"val_{name}")))
        lines.append(f"{name:18} " + " ".join(f"{c:>10}" for c in cells) + f"  {meaning}")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
