"""``zpml inspect``: summarise a shard directory's manifest."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zpml_data.cli.options import Subparsers


def register(subparsers: Subparsers) -> None:
    """Add the ``inspect`` sub-parser."""
    parser = subparsers.add_parser("inspect", help="summarise a shard directory's manifest")
    parser.add_argument("dir", metavar="OUT_DIR")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the manifest's summary (without reading the shards: ``verify`` does that)."""
    from zpml_data.shards.manifest import read_manifest
    from zpml_data.shards.verify import describe_shards

    print(describe_shards(read_manifest(args.dir), args.dir))
    return 0
