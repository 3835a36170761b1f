"""``zpml demo``: the whole pipeline on the bundled example data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zpml_data.cli.options import Subparsers


def register(subparsers: Subparsers) -> None:
    """Add the ``demo`` sub-parser."""
    parser = subparsers.add_parser(
        "demo", help="run the whole pipeline on the bundled example data"
    )
    parser.add_argument("out", nargs="?", default="zpml-demo", help="output directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Generate, audit, convert, shard and verify the example data in ``args.out``."""
    from zpml_data.cli._demo import run_demo

    run_demo(Path(args.out))
    return 0
