"""``zpml shard``: validate, lift and write training shards with a manifest."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, get_args

from zpml_data.cli.options import (
    add_batch_size,
    add_engine,
    add_target_options,
    engine_from_args,
    positive_int,
    seed,
    spec_from_args,
)
from zpml_data.errors import UsageError
from zpml_data.shards import DEFAULT_ROW_GROUP_ROWS, DEFAULT_ROWS_PER_SHARD, Compression, OnError

if TYPE_CHECKING:
    from zpml_data.cli.options import Subparsers
    from zpml_data.shards.manifest import Manifest
    from zpml_data.shards.split import Split


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
        type=seed,
        help="permute rows within each shard with this seed (0 to 2**63 - 1)",
    )
    parser.add_argument(
        "--split",
        action="append",
        metavar="val=F",
        help="write OUT_DIR/train and OUT_DIR/val, a share F (between 0 and 1) of the rows "
        "in val, chosen by a seeded hash",
    )
    parser.add_argument(
        "--split-seed",
        type=seed,
        action="append",
        metavar="N",
        help="with --split, seeds the hash (default 0)",
    )
    parser.add_argument(
        "--split-by",
        action="append",
        metavar="COL",
        help="with --split, keep each group of COL whole, in one split (for example a site)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing shard set")
    add_engine(parser)
    add_batch_size(parser)
    parser.set_defaults(run=run)


def split_from_args(args: argparse.Namespace) -> Split | None:
    """The split of ``--split val=F [--split-seed N] [--split-by COL]``, or ``None``.

    Raises:
        UsageError: ``--split`` not of the form ``val=F``, an option of the
            three given more than once, or ``--split-seed`` / ``--split-by``
            without ``--split``.
        ConfigError: A fraction outside (0, 1).
    """
    from zpml_data.shards.split import Split

    given, split_seed, by = (
        _once(args.split, "--split", "val=F: the rest of the rows go to train"),
        _once(args.split_seed, "--split-seed", "N"),
        _once(args.split_by, "--split-by", "COL: one column of groups"),
    )
    if given is None:
        if split_seed is not None or by is not None:
            raise UsageError("--split-seed and --split-by go with --split val=F; add --split")
        return None
    name, _, text = given.partition("=")
    try:
        fraction = float(text)
    except ValueError:
        fraction = None
    if name != "val" or fraction is None:
        raise UsageError(
            f"--split takes val=F, the share of rows for validation (val=0.2); got {given!r}"
        )
    return Split(fraction, split_seed or 0, by)


def _once(values: list[Any] | None, option: str, form: str) -> Any:
    """The one value of an option given with ``action="append"``, or ``None`` when absent.

    Raises:
        UsageError: The option was given more than once, naming each value.
    """
    if not values:
        return None
    if len(values) > 1:
        raise UsageError(
            f"{option} given {len(values)} times ({', '.join(map(repr, values))}); "
            f"give it once, {option} {form}"
        )
    return values[0]


def _inputs_said(manifest: Manifest) -> list[str]:
    """The lines that say which inputs were chosen and which columns were left out."""
    from zpml_data.shards.columns import describe_inputs

    return describe_inputs(
        list(manifest.spec["inputs"]), manifest.categories, manifest.excluded_columns
    )


def run(args: argparse.Namespace) -> int:
    """Write the shards and say how many rows went where, and which columns are inputs."""
    from zpml_data.shards.writer import write_shards, write_split_shards

    *sources, out_dir = args.paths
    if not sources:
        raise UsageError("give at least one SOURCE and the OUT_DIR")
    split = split_from_args(args)
    options: dict[str, Any] = {
        "rows_per_shard": args.rows_per_shard,
        "row_group_rows": args.row_group_rows,
        "on_error": args.on_error,
        "seed": args.seed,
        "overwrite": args.overwrite,
        "batch_size": args.batch_size,
        "progress": True,
        "compression": args.compression,
        **engine_from_args(args),
    }
    spec = spec_from_args(args)
    if split is None:
        manifests = {"": write_shards(sources, out_dir, spec, **options)}
    else:
        manifests = write_split_shards(sources, out_dir, split, spec, **options)
    total = sum(m.source_rows for m in manifests.values())
    for name, manifest in manifests.items():
        quarantined = manifest.quarantined_rows
        where = f"{out_dir}/{name}" if name else out_dir
        share = f" ({manifest.source_rows / max(total, 1):.1%} of the source rows)" if name else ""
        print(
            f"wrote {manifest.rows:,} rows in {len(manifest.shards)} shard(s) to {where}{share}"
            + (f"; quarantined {quarantined:,} rows" if quarantined else "")
        )
        if name and total and not manifest.source_rows:
            by = f"every group of {split.by!r}" if split and split.by else "every row"
            print(
                f"warning: the {name} split is empty ({by} hashed to the other); "
                "try another --split-seed or a larger fraction",
                file=sys.stderr,
            )
    print("\n".join(_inputs_said(next(iter(manifests.values())))))
    return 0
