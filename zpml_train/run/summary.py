"""The metrics of a run as a table a person reads (names and meanings from :data:`METRICS`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zpml_train.training.metrics import METRICS


def metrics_table(
    record: Mapping[str, Any],
    calibrated: Mapping[str, Any] | None = None,
    *,
    tau_infer: float | None = None,
) -> str:
    """Training and (where present) validation metrics of one history record, side by side.

    Args:
        record: One history record: metrics by name, ``val_``-prefixed for validation.
        calibrated: Validation metrics (unprefixed) decoded at the calibrated
            ``tau_infer``, shown in a third column.
        tau_infer: The configured threshold the record was decoded at, for the header.
    """
    has_val = any(key.startswith("val_") for key in record)
    columns = ["train"] + (["validation"] if has_val else [])
    if tau_infer is not None:
        columns = [f"{c} @{tau_infer:.3g}" for c in columns]
    if calibrated is not None:
        columns.append(f"val @{calibrated.get('tau_infer', float('nan')):.3g} (cal.)")
    width = max(12, *(len(c) for c in columns))
    header = f"{'metric':26} " + " ".join(f"{c:>{width}}" for c in columns)
    lines = [header, "-" * len(header)]
    for metric in METRICS:
        cells = [record.get(metric.name)]
        if has_val:
            cells.append(record.get(f"val_{metric.name}"))
        if calibrated is not None:
            cells.append(calibrated.get(metric.name))
        if all(_absent(cell) for cell in cells):
            continue  # nothing to count on this data (no censored rows, no latent value)
        shown = " ".join(f"{metric.format(cell):>{width}}" for cell in cells)
        lines.append(f"{metric.name:26} {shown}  {metric.meaning}")
    return "\n".join(lines)


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)
