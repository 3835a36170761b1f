"""The ``zpml`` command: a thin layer of argument parsing over the library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from zpml_data import __version__
from zpml_data._io import atomic_write_text
from zpml_data.errors import UsageError, ZpmlError
from zpml_data.schema import DatasetSpec, Target
from zpml_data.shards import DEFAULT_ROW_GROUP_ROWS, DEFAULT_ROWS_PER_SHARD
from zpml_data.sources import DEFAULT_BATCH_SIZE


def _spec(args: argparse.Namespace) -> DatasetSpec:
    """The DatasetSpec from --spec, overridden by --value/--status/--inputs/--schema."""
    spec = DatasetSpec.from_file(args.spec) if args.spec else DatasetSpec()
    if args.value or args.status:
        if len(spec.targets) > 1:
            raise UsageError("--value/--status name one target; the spec file has several")
        default = spec.targets[0]
        spec = replace(
            spec, targets=(Target(args.value or default.value, args.status or default.status),)
        )
    if args.inputs is not None:
        spec = replace(spec, inputs=tuple(c for c in args.inputs.split(",") if c))
    if args.schema:
        spec = replace(spec, schema=args.schema)
    return spec


def _audit(args: argparse.Namespace) -> int:
    from zpml_data.audit import audit
    from zpml_data.render import render_html, render_text

    groups = [g for option in args.group_by for g in option.split(",") if g]
    report = audit(
        args.sources,
        _spec(args),
        group_by=groups,
        compare=args.compare,
        skew_threshold_pp=args.skew_threshold,
        batch_size=args.batch_size,
        progress=True,
    )
    summary = render_text(report)
    print(summary, file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json == "-":
        print(report.to_json())
    elif args.json:
        atomic_write_text(args.json, report.to_json() + "\n")
    if args.html:
        atomic_write_text(args.html, render_html(report))
    failed = report.verdict == "fail" or (args.strict and report.verdict == "warn")
    return 1 if failed else 0


def _convert(args: argparse.Namespace) -> int:
    from zpml_data.legacy import convert_legacy, load_reason_map, sentinel_policy

    if (args.reason_column is None) != (args.reason_map is None):
        raise UsageError("--reason-column and --reason-map go together")
    ledger = convert_legacy(
        args.source,
        args.dest,
        value=args.value,
        status_column=args.status_column,
        policy=sentinel_policy(args.nan, args.posinf, args.neginf),
        reason_column=args.reason_column,
        reason_map=load_reason_map(args.reason_map) if args.reason_map else None,
        markers=args.markers,
        force=args.force,
        batch_size=args.batch_size,
        progress=True,
    )
    print(ledger.render_text())
    print(f"  ledger: {args.dest}.ledger.json")
    return 0


def _shard(args: argparse.Namespace) -> int:
    from zpml_data.shards import write_shards

    *sources, out_dir = args.paths
    if not sources:
        raise UsageError("give at least one SOURCE and the OUT_DIR")
    manifest = write_shards(
        sources,
        out_dir,
        _spec(args),
        rows_per_shard=args.rows_per_shard,
        row_group_rows=args.row_group_rows,
        on_error=args.on_error,
        seed=args.seed,
        overwrite=args.overwrite,
        batch_size=args.batch_size,
        progress=True,
    )
    print(
        f"wrote {manifest.rows:,} rows in {len(manifest.shards)} shard(s) to {out_dir}"
        + (f"; quarantined {manifest.quarantined_rows:,} rows" if manifest.quarantined_rows else "")
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    from zpml_data.verify import verify_shards

    manifest = verify_shards(args.dir)
    print(f"{args.dir}: ok, {len(manifest.shards)} shard(s), {manifest.rows:,} rows verified")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from zpml_data.manifest import read_manifest
    from zpml_data.verify import describe_shards

    print(describe_shards(read_manifest(args.dir), args.dir))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from zpml_data.demo import run_demo

    run_demo(Path(args.out))
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _batch_size_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-size",
        type=_positive_int,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help="rows per record batch read (memory grows with it)",
    )


def _target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", metavar="FILE", help="DatasetSpec file (YAML or TOML)")
    parser.add_argument(
        "--schema",
        metavar="FILE",
        help="your pandera YAML schema, checked beside the built-in rules",
    )
    parser.add_argument("--value", metavar="COL", help="target value column (default: value)")
    parser.add_argument("--status", metavar="COL", help="status label column (default: status)")
    parser.add_argument(
        "--inputs",
        metavar="COLS",
        help="comma-separated input columns (default: the other numeric columns)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``zpml`` argument parser, one sub-command per verb."""
    parser = argparse.ArgumentParser(
        prog="zpml", description="Audit, convert and shard status-labelled regression targets."
    )
    parser.add_argument("--version", action="version", version=f"zpml {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    audit = verbs.add_parser(
        "audit",
        help="check labelled data and report its status mix",
        description="Audit status-labelled targets. Exit 0: pass (warnings allowed unless "
        "--strict); 1: an error-level check failed; 2: usage or I/O error.",
    )
    audit.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="CSV or Parquet files, directories of Parquet files, or globs",
    )
    _target_options(audit)
    audit.add_argument(
        "--group-by",
        action="append",
        default=[],
        metavar="COL",
        help="break the counts down by this column (repeatable, or comma-separated)",
    )
    audit.add_argument("--json", metavar="OUT", help="write the report as JSON ('-' for stdout)")
    audit.add_argument(
        "--html", metavar="OUT", help="write the report as a self-contained HTML page"
    )
    audit.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    audit.add_argument(
        "--compare",
        nargs="+",
        metavar="SOURCE",
        help="compare the status mix with these sources (train vs validation)",
    )
    audit.add_argument(
        "--skew-threshold",
        type=float,
        default=5.0,
        metavar="PP",
        help="flag a label whose share moves by more than PP percentage points (default 5)",
    )
    audit.add_argument("--engine", choices=["local"], default="local", help="execution engine")
    _batch_size_option(audit)
    audit.set_defaults(run=_audit)

    convert = verbs.add_parser(
        "convert",
        help="label legacy NaN/inf sentinel data (and <x / >x text markers)",
        description="Add an explicit status column to legacy data. The default policy "
        "(NaN->bottom, +inf->censored_above, -inf->censored_below) lifts exactly as legacy "
        "lift_targets; the ledger lists every row whose meaning another policy changes. "
        "Exit 0: converted; 1: the data has values or reasons that cannot be labelled; "
        "2: usage or I/O error.",
    )
    convert.add_argument("source", metavar="SOURCE", help="CSV or Parquet file (or directory)")
    convert.add_argument("dest", metavar="DEST", help="output .parquet (or .csv) file")
    convert.add_argument("--value", default="value", metavar="COL", help="legacy value column")
    convert.add_argument(
        "--status-column",
        default="status",
        metavar="NAME",
        help="name of the status column to add (default: status)",
    )
    for sentinel, default in (
        ("nan", "bottom"),
        ("posinf", "censored_above"),
        ("neginf", "censored_below"),
    ):
        convert.add_argument(
            f"--{sentinel}",
            metavar="LABEL",
            help=f"label for {sentinel} values (default: {default})",
        )
    convert.add_argument(
        "--reason-column",
        metavar="COL",
        help="column saying why a value is missing; labels rows via --reason-map",
    )
    convert.add_argument(
        "--reason-map", metavar="FILE", help="YAML/JSON mapping of reason -> status label"
    )
    convert.add_argument(
        "--markers",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="parse '<x'/'>x' text markers (default: on for text columns)",
    )
    convert.add_argument("--force", action="store_true", help="replace an existing status column")
    _batch_size_option(convert)
    convert.set_defaults(run=_convert)

    shard = verbs.add_parser(
        "shard",
        help="validate, lift and write training shards with a verified manifest",
        description="Write SemanticTargets shards. Exit 0: written; 1: a row failed a check "
        "(with --on-error abort) ; 2: usage or I/O error.",
    )
    shard.add_argument(
        "paths",
        nargs="+",
        metavar="SOURCE... OUT_DIR",
        help="source files, directories or globs, then the output directory",
    )
    _target_options(shard)
    shard.add_argument(
        "--rows-per-shard",
        type=_positive_int,
        default=DEFAULT_ROWS_PER_SHARD,
        metavar="N",
        help=f"rows per shard file (default {DEFAULT_ROWS_PER_SHARD:,})",
    )
    shard.add_argument(
        "--row-group-rows",
        type=_positive_int,
        default=DEFAULT_ROW_GROUP_ROWS,
        metavar="N",
        help="rows per Parquet row group, the unit a loader shuffles",
    )
    shard.add_argument(
        "--on-error",
        choices=["abort", "quarantine"],
        default="abort",
        help="stop at the first bad row (default), or set bad rows aside",
    )
    shard.add_argument("--seed", type=int, help="permute rows within each shard with this seed")
    shard.add_argument("--overwrite", action="store_true", help="replace an existing shard set")
    _batch_size_option(shard)
    shard.set_defaults(run=_shard)

    verify = verbs.add_parser(
        "verify",
        help="check shards against their manifest",
        description="Exit 0: every file matches the manifest; 1: a file is missing, changed "
        "or inconsistent (each is named); 2: usage or I/O error.",
    )
    verify.add_argument("dir", metavar="OUT_DIR")
    verify.set_defaults(run=_verify)

    inspect = verbs.add_parser("inspect", help="summarise a shard directory's manifest")
    inspect.add_argument("dir", metavar="OUT_DIR")
    inspect.set_defaults(run=_inspect)

    demo = verbs.add_parser("demo", help="run the whole pipeline on the bundled example data")
    demo.add_argument("out", nargs="?", default="zpml-demo", help="output directory")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``zpml`` command and return its exit code.

    Exit codes: 0 success, 1 the data failed a check, 2 usage, configuration
    or I/O error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ZpmlError as error:
        if args.debug:
            raise
        print(f"zpml {args.verb}: error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:
        if args.debug:
            raise
        print(f"zpml {args.verb}: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a bug: one line here, the traceback with --debug
        if args.debug:
            raise
        print(
            f"zpml {args.verb}: internal error: {type(error).__name__}: {error}; "
            "rerun with --debug for the traceback and report it",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
