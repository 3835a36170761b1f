"""``zpml verify``: check shards against their manifest."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zpml_data.cli.options import Subparsers


def register(subparsers: Subparsers) -> None:
    """Add the ``verify`` sub-parser."""
    parser = subparsers.add_parser(
        "verify",
        help="check shards against their manifest",
        description="Exit 0: every file matches the manifest; 1: a file is missing, changed "
        "or inconsistent (each is named); 2: usage or I/O error. A directory written with "
        "--split is checked set by set (train/, val/).",
    )
    parser.add_argument("dir", metavar="OUT_DIR")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Verify the directory, or each set of a split; an IntegrityError (exit 1) lists problems."""
    from zpml_data.shards.split import split_dirs
    from zpml_data.shards.verify import verify_shards

    sets = split_dirs(args.dir) or {"": args.dir}
    for directory in sets.values():
        manifest = verify_shards(directory)
        print(f"{directory}: ok, {len(manifest.shards)} shard(s), {manifest.rows:,} rows verified")
    return 0
