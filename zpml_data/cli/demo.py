"""``zpml demo``: the whole pipeline on the bundled example data (:mod:`zpml_data.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zpml_data.cli.options import Subparsers


def register(subparsers: Subparsers) -> None:
    """Add the ``demo`` sub-parser."""
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on the bundled example data",
        description="Generate the example datasets into OUT, audit, convert, shard and verify "
        "them; when zpml's training package is installed, train a model on each (the gated "
        "head on the lab assay, the rational head on the poles), evaluate the assay model on "
        "its validation shards and predict new readings with it.",
    )
    parser.add_argument("out", nargs="?", default="zpml-demo", help="output directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run :func:`zpml_data.demo.run_demo` into ``args.out``."""
    Path(args.out).mkdir(parents=True, exist_ok=True)  # a bad OUT fails before the imports
    from zpml_data.demo import run_demo

    run_demo(args.out)
    return 0
