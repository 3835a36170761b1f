"""``zpml shard``: validate, lift and write training shards with a manifest."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, get_args

from zpml_data.cli.options import (
    MAX_SEED,
    add_batch_size,
    add_engine,
    add_target_options,
    engine_from_args,
    int_in,
    positive_int,
    spec_from_args,
)
from zpml_data.errors import UsageError
from zpml_data.shards import DEFAULT_ROW_GROUP_ROWS, DEFAULT_ROWS_PER_SHARD, Compression, OnError

if TYPE_CHECKING:
    from zpml_data.cli.options import Subparsers


def register(subparsers: Subparsers) -> None:
    """Add the ``shard`` sub-parser."""
    parser = subparsers.add_parser(
        "shard",
        help="validate, lift and write training shards with a verified manifest",
        description="Write SemanticTargets shards. Exit 0: written; 1: a row failed a check "
        "(with --on-error abort); 2: usage or I/O error.",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="SOURCE... OUT_DIR",
        help="source files, directories or globs, then the output directory",
    )
    add_target_options(parser)
    parser.add_argument(
        "--rows-per-shard",
        type=positive_int,
        default=DEFAULT_ROWS_PER_SHARD,
        metavar="N",
        help=f"rows per shard file (default {DEFAULT_ROWS_PER_SHARD:,})",
    )
    parser.add_argument(
        "--row-group-rows",
        type=positive_int,
        default=DEFAULT_ROW_GROUP_ROWS,
        metavar="N",
        help=f"rows per Parquet row group, the unit a loader shuffles "
        f"(default {DEFAULT_ROW_GROUP_ROWS:,})",
    )
    parser.add_argument(
        "--on-error",
        choices=get_args(OnError),
        default="abort",
        help="stop at the first bad row (default), or set bad rows aside",
    )
    parser.add_argument(
        "--compression",
        choices=get_args(Compression),
        default="snappy",
        help="Parquet codec: zstd makes smaller files that take longer to read (default snappy)",
    )
    parser.add_argument(
        "--seed",
        type=int_in(0, MAX_SEED),
        help="permute rows within each shard with this seed (0 to 2**32 - 1)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing shard set")
    add_engine(parser)
    add_batch_size(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the shards and say how many rows went where."""
    from zpml_data.shards.writer import write_shards

    *sources, out_dir = args.paths
    if not sources:
        raise UsageError("give at least one SOURCE and the OUT_DIR")
    manifest = write_shards(
        sources,
        out_dir,
        spec_from_args(args),
        rows_per_shard=args.rows_per_shard,
        row_group_rows=args.row_group_rows,
        on_error=args.on_error,
        seed=args.seed,
        overwrite=args.overwrite,
        batch_size=args.batch_size,
        progress=True,
        compression=args.compression,
        **engine_from_args(args),
    )
    quarantined = manifest.quarantined_rows
    print(
        f"wrote {manifest.rows:,} rows in {len(manifest.shards)} shard(s) to {out_dir}"
        + (f"; quarantined {quarantined:,} rows" if quarantined else "")
    )
    return 0
