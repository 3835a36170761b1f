"""The ``zpml`` command: a thin layer of argument parsing over the library."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from zpml_data import __version__
from zpml_data.errors import ZpmlError


def _demo(args: argparse.Namespace) -> int:
    from zpml_data.demo import run_demo

    run_demo(Path(args.out))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``zpml`` argument parser, one sub-command per verb."""
    parser = argparse.ArgumentParser(
        prog="zpml", description="Audit, convert and shard status-labelled regression targets."
    )
    parser.add_argument("--version", action="version", version=f"zpml {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

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


if __name__ == "__main__":
    sys.exit(main())
