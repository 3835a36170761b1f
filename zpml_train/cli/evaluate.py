"""``zpml evaluate``: a verb registered through the ``zpml.commands`` entry point group.

Only argparse is imported here; torch loads when the verb runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` sub-parser to the ``zpml`` command."""
    from zpml_data.cli.options import add_batch_size

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
    add_batch_size(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate; print the metrics and the confusion table, write --json and --html."""
    from zpml_data.io.atomic import atomic_write_text
    from zpml_data.io.guard import check_output_path, refuse_overlap
    from zpml_train.evaluate import evaluate
    from zpml_train.evaluate_page import evaluation_text, write_evaluation_page

    outputs = [path for path in (args.json, args.html) if path not in (None, "-")]
    for path in outputs:
        check_output_path(path)
    refuse_overlap([args.model, args.data], outputs)
    evaluation = evaluate(args.model, args.data, device=args.device, batch_size=args.batch_size)
    text = json.dumps(evaluation.to_dict(), indent=2, sort_keys=True) + "\n"
    if args.json == "-":
        sys.stdout.write(text)
    else:
        print(evaluation_text(evaluation))
        if args.json is not None:
            atomic_write_text(args.json, text)
    if args.html is not None:
        write_evaluation_page(evaluation, args.html)
    return 0
