"""``zpml audit``: check labelled data and report its status mix."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from zpml_data.cli.options import (
    add_batch_size,
    add_engine,
    add_target_options,
    engine_from_args,
    float_in,
    spec_from_args,
)
from zpml_data.validate import MAX_SKEW_PP

if TYPE_CHECKING:
    from zpml_data.cli.options import Subparsers


def register(subparsers: Subparsers) -> None:
    """Add the ``audit`` sub-parser."""
    parser = subparsers.add_parser(
        "audit",
        help="check labelled data and report its status mix",
        description="Audit status-labelled targets. Exit 0: pass (warnings allowed unless "
        "--strict); 1: an error-level check failed; 2: usage or I/O error.",
    )
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="CSV or Parquet files, directories of Parquet files, or globs",
    )
    add_target_options(parser)
    parser.add_argument(
        "--group-by",
        action="append",
        default=[],
        metavar="COL",
        help="break the counts down by this column (repeatable, or comma-separated)",
    )
    parser.add_argument("--json", metavar="OUT", help="write the report as JSON ('-' for stdout)")
    parser.add_argument(
        "--html", metavar="OUT", help="write the report as a self-contained HTML page"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="SOURCE",
        help="compare the status mix with these sources (train vs validation)",
    )
    parser.add_argument(
        "--skew-threshold",
        type=float_in(0.0, MAX_SKEW_PP),
        default=5.0,
        metavar="PP",
        help="flag a label whose share moves by more than PP percentage points (default 5)",
    )
    add_engine(parser)
    add_batch_size(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Audit, print the summary, write the requested reports; 1 if the verdict fails."""
    from zpml_data.auditing.engine import audit
    from zpml_data.auditing.rendering import render_html, render_text
    from zpml_data.auditing.report import Verdict
    from zpml_data.io.atomic import atomic_write_text
    from zpml_data.io.guard import check_output_path, refuse_overlap

    outputs = [path for path in (args.json, args.html) if path and path != "-"]
    for path in outputs:
        check_output_path(path)
    inputs = [*args.sources, *(args.compare or ()), *filter(None, [args.spec, args.schema])]
    refuse_overlap(inputs, outputs)
    groups = [g for option in args.group_by for g in option.split(",") if g]
    report = audit(
        args.sources,
        spec_from_args(args),
        group_by=groups,
        compare=args.compare,
        skew_threshold_pp=args.skew_threshold,
        batch_size=args.batch_size,
        progress=True,
        **engine_from_args(args),
    )
    print(render_text(report), file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json == "-":
        print(report.to_json())
    elif args.json:
        atomic_write_text(args.json, report.to_json() + "\n")
    if args.html:
        atomic_write_text(args.html, render_html(report))
    failed = report.verdict is Verdict.FAIL or (args.strict and report.verdict is Verdict.WARN)
    return 1 if failed else 0
