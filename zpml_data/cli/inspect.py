"""``zpml inspect``: summarise a shard directory's manifest."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zpml_data.cli.options import Subparsers


def register(subparsers: Subparsers) -> None:
    """Add the ``inspect`` sub-parser."""
    parser = subparsers.add_parser(
        "inspect",
        help="summarise a shard directory's manifest (each set of a split)",
    )
    parser.add_argument("dir", metavar="OUT_DIR")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the manifest's summary (without reading the shards: ``verify`` does that)."""
    from zpml_data.shards.manifest import read_manifest
    from zpml_data.shards.split import split_dirs
    from zpml_data.shards.verify import describe_shards

    sets = split_dirs(args.dir) or {"": args.dir}
    print("\n".join(describe_shards(read_manifest(d), d) for d in sets.values()))
    return 0
