"""``zpml predict``: registered with the ``zpml`` command through the ``zpml.commands`` entry point.

Only argparse is imported here; torch loads when the verb runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``predict`` sub-parser to the ``zpml`` command."""
    from zpml_data.cli.options import add_batch_size

    parser = subparsers.add_parser(
        "predict",
        help="apply a trained model to a table: decoded values and statuses",
        description="Predict every row of SOURCE with a trained model (a zpml train run "
        "directory or checkpoint). Every source column is kept, in order; each target adds "
        "<target>_pred (the decoded value, empty where ⊥) and <target>_pred_status (finite, "
        "censored_below, censored_above, domain_invalid, fault, bottom; missing where an "
        "input is not a finite number). Exit 0: written; 2: usage, model or I/O error.",
    )
    parser.add_argument("model", metavar="MODEL", help="run directory (its best.pt) or .pt file")
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="CSV or Parquet file(s)")
    parser.add_argument(
        "--out", required=True, metavar="PRED", help="predictions file: .parquet (or .pq), or .csv"
    )
    parser.add_argument(
        "--keep", metavar="COLS", help="comma-separated source columns to keep (default: all)"
    )
    parser.add_argument(
        "--value-name",
        default="{target}_pred",
        metavar="TEMPLATE",
        help="name of each value column ({target}_pred)",
    )
    parser.add_argument(
        "--status-name",
        default="{target}_pred_status",
        metavar="TEMPLATE",
        help="name of each status column ({target}_pred_status)",
    )
    parser.add_argument("--device", default="cpu", metavar="D", help="cpu, cuda, cuda:1 (cpu)")
    add_batch_size(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the model, predict into ``--out``, print what was written."""
    keep = None if args.keep is None else [c.strip() for c in args.keep.split(",") if c.strip()]
    predict_table(
        args.model,
        args.sources,
        args.out,
        keep=keep,
        value_name=args.value_name,
        status_name=args.status_name,
        device=args.device,
        batch_size=args.batch_size,
    )
    return 0


def predict_table(
    model: str | Path,
    sources: Sequence[str | Path] | str | Path,
    out: str | Path,
    *,
    keep: Sequence[str] | None = None,
    value_name: str = "{target}_pred",
    status_name: str = "{target}_pred_status",
    device: str = "cpu",
    batch_size: int | None = None,
    echo: Callable[[str], None] = print,
    progress: bool = True,
) -> dict[str, Any]:
    """Predict a table exactly as ``zpml predict`` does: the verb as a library call.

    ``zpml demo`` reaches it through the plugin loader
    (:func:`zpml_data.plugins.plugin_hook`).

    Args:
        model: A run directory or checkpoint.
        sources: CSV or Parquet files.
        out: The predictions file.
        keep: Source columns to keep (default: all).
        value_name: Each value column's name, ``{target}`` replaced.
        status_name: Each status column's name, ``{target}`` replaced.
        device: Where the model runs.
        batch_size: Rows per record batch (default: the sources' default).
        echo: Where the summary lines go.
        progress: A progress bar on a terminal.

    Returns:
        ``{"path", "rows", "columns", "status_counts", "tau_infer"}``.
    """
    from zpml_data.io import DEFAULT_BATCH_SIZE
    from zpml_train.predict import load_model
    from zpml_train.predict_file import predict_file

    predictor = load_model(model, device=device)
    summary = predict_file(
        predictor,
        sources,
        out,
        keep=keep,
        value_template=value_name,
        status_template=status_name,
        batch_size=batch_size or DEFAULT_BATCH_SIZE,
        progress=progress,
    )
    echo(f"{summary.rows:,} rows predicted into {summary.path} (tau_infer {predictor.tau_infer:g})")
    for target, counts in summary.status_counts.items():
        mix = ", ".join(f"{count:,} {label}" for label, count in counts.items())
        echo(f"  {target}: {mix or 'no rows'}")
    for column, rows in summary.unseen_categories.items():
        print(
            f"  note: {rows:,} rows of {column!r} hold a category the model never saw "
            "(encoded as none of its categories)",
            file=sys.stderr,
        )
    return {
        "path": str(summary.path),
        "rows": summary.rows,
        "columns": summary.columns,
        "status_counts": summary.status_counts,
        "tau_infer": predictor.tau_infer,
    }
