"""``zpml evaluate``: a verb registered through the ``zpml.commands`` entry point group.

Only argparse is imported here; torch loads when the verb runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` sub-parser to the ``zpml`` command."""
    from zpml_data.cli.options import MAX_BATCH_ROWS, int_in

    parser = subparsers.add_parser(
        "evaluate",
        help="score a trained model on labelled data: metrics and a status confusion table",
        description="Score a trained model (a zpml train run directory or checkpoint) on "
        "labelled DATA: a shard directory (verified) or a table with the model's inputs and "
        "each target's value and status columns (checked as zpml audit checks it). The "
        "training metrics at the model's tau_infer, and true label × decoded status. Exit 0: "
        "evaluated; 1: the data fail their checks; 2: usage, model or I/O error.",
    )
    parser.add_argument("model", metavar="MODEL", help="run directory (its best.pt) or .pt file")
    parser.add_argument("data", metavar="DATA", help="shard directory, or a CSV/Parquet table")
    parser.add_argument("--json", metavar="OUT", help="write the results as JSON ('-': stdout)")
    parser.add_argument("--html", metavar="OUT", help="write the evaluation page")
    parser.add_argument("--device", default="cpu", metavar="D", help="cpu, cuda, cuda:1 (cpu)")
    parser.add_argument(
        "--batch-size",
        type=int_in(1, MAX_BATCH_ROWS),
        metavar="N",
        help="rows per batch (default: the run's training batch size, so the loss is "
        "averaged as in training)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate; print the metrics and the confusion table, write --json and --html."""
    evaluate_data(
        args.model,
        args.data,
        json_out=args.json,
        html_out=args.html,
        device=args.device,
        batch_size=args.batch_size,
    )
    return 0


def evaluate_data(
    model: str | Path,
    data: str | Path,
    *,
    json_out: str | Path | None = None,
    html_out: str | Path | None = None,
    device: str = "cpu",
    batch_size: int | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Evaluate exactly as ``zpml evaluate`` does: the verb as a library call.

    ``zpml demo`` reaches it through the plugin loader
    (:func:`zpml_data.plugins.plugin_hook`).

    Args:
        model: A run directory or checkpoint.
        data: A shard directory or a labelled table.
        json_out: Write the results as JSON here (``"-"``: to stdout, instead of the text).
        html_out: Write the evaluation page here.
        device: Where the model runs.
        batch_size: Rows per batch (default: the run's training batch size).
        echo: Where the text goes.

    Returns:
        The results as JSON data (``metrics``, ``confusion``, ``rows``, ``tau_infer``).
    """
    from zpml_data.io.atomic import atomic_write_text
    from zpml_data.io.guard import check_output_path, refuse_overlap
    from zpml_train.evaluate import evaluate
    from zpml_train.evaluate_page import evaluation_text, write_evaluation_page
    from zpml_train.predict_io import refuse_directory_output, refuse_inside_inputs

    named = {"--json": (json_out, "the results file"), "--html": (html_out, "the page")}
    for option, (path, what) in named.items():
        if path is not None and str(path) != "-":
            refuse_directory_output(path, option, what)
            check_output_path(path)
    outputs = [path for path in (json_out, html_out) if path is not None and str(path) != "-"]
    refuse_overlap([model, data], outputs)
    refuse_inside_inputs([model, data], outputs)
    evaluation = evaluate(model, data, device=device, batch_size=batch_size)
    results = evaluation.to_dict()
    text = json.dumps(results, indent=2, sort_keys=True) + "\n"
    if json_out is not None and str(json_out) == "-":
        sys.stdout.write(text)
    else:
        echo(evaluation_text(evaluation))
        if json_out is not None:
            atomic_write_text(json_out, text)
    if html_out is not None:
        write_evaluation_page(evaluation, html_out)
    return results
