"""``zpml convert``: label legacy NaN/±inf sentinel data."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from zpml_data.cli.options import add_batch_size
from zpml_data.status import DEFAULT_SENTINEL_POLICY

if TYPE_CHECKING:
    from zpml_data.cli.options import Subparsers


def register(subparsers: Subparsers) -> None:
    """Add the ``convert`` sub-parser."""
    parser = subparsers.add_parser(
        "convert",
        help="label legacy NaN/inf sentinel data (and <x / >x text markers)",
        description="Add an explicit status column to legacy data. The default policy "
        "(NaN->bottom, +inf->censored_above, -inf->censored_below) lifts exactly as legacy "
        "lift_targets; the ledger lists every row whose meaning another policy changes. "
        "Exit 0: converted; 1: the data has values or reasons that cannot be labelled; "
        "2: usage or I/O error.",
    )
    parser.add_argument("source", metavar="SOURCE", help="CSV or Parquet file (or directory)")
    parser.add_argument("dest", metavar="DEST", help="output .parquet (or .csv) file")
    parser.add_argument("--value", default="value", metavar="COL", help="legacy value column")
    parser.add_argument(
        "--status-column",
        default="status",
        metavar="NAME",
        help="name of the status column to add (default: status)",
    )
    for sentinel, status in DEFAULT_SENTINEL_POLICY.items():
        parser.add_argument(
            f"--{sentinel}",
            metavar="LABEL",
            help=f"label for {sentinel} values (default: {status.label})",
        )
    parser.add_argument(
        "--reason-column",
        metavar="COL",
        help="column saying why a value is missing; labels rows via --reason-map",
    )
    parser.add_argument(
        "--reason-map", metavar="FILE", help="YAML/JSON mapping of reason -> status label"
    )
    parser.add_argument(
        "--markers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="parse '<x'/'>x' text markers (default: on for text columns)",
    )
    parser.add_argument(
        "--sentinel",
        action="append",
        default=[],
        metavar="VALUE=LABEL",
        help="a number that stands for a status (repeatable), such as --sentinel -999=missing",
    )
    # Legacy codes are mostly negative: '-999=missing' is an argument, not an unknown
    # option. argparse keeps this test private; no option of this verb starts with a digit.
    parser._negative_number_matcher = re.compile(r"^-\.?[0-9]")
    parser.add_argument(
        "--spec", metavar="FILE", help="DatasetSpec file; its 'sentinels' are used too"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing status column")
    parser.add_argument(
        "--null",
        action="append",
        default=[],
        metavar="TEXT",
        help="a CSV cell text that means no value, such as NA (repeatable; the empty cell "
        "always does). Other CSV text is kept as written",
    )
    add_batch_size(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Convert, print the ledger and where it was written."""
    from zpml_data.convert.legacy import convert_legacy
    from zpml_data.convert.policies import (
        combine_sentinels,
        load_reason_map,
        parse_sentinels,
        sentinel_policy,
    )
    from zpml_data.io.guard import refuse_overlap
    from zpml_data.spec import DatasetSpec

    refuse_overlap(
        filter(None, [args.reason_map, args.spec]), [args.dest, f"{args.dest}.ledger.json"]
    )
    in_spec = DatasetSpec.from_file(args.spec).sentinels if args.spec else ()
    sentinels = combine_sentinels(
        parse_sentinels(in_spec, str(args.spec)), parse_sentinels(args.sentinel), str(args.spec)
    )
    ledger = convert_legacy(
        args.source,
        args.dest,
        value=args.value,
        status_column=args.status_column,
        policy=sentinel_policy(args.nan, args.posinf, args.neginf),
        reason_column=args.reason_column,
        reason_map=load_reason_map(args.reason_map) if args.reason_map else None,
        markers=args.markers,
        sentinels=sentinels,
        force=args.force,
        null_values=args.null,
        batch_size=args.batch_size,
        progress=True,
    )
    print(ledger.render_text())
    print(f"  ledger: {args.dest}.ledger.json")
    return 0
