"""Options and argument types that several verbs share."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, get_args

from zpml_data.engines import DEFAULT_SCHEDULER_TIMEOUT_S, Engine
from zpml_data.errors import ConfigError, UsageError
from zpml_data.io import DEFAULT_BATCH_SIZE
from zpml_data.validate import (
    MAX_BATCH_ROWS,
    MAX_SEED,
    MAX_SHARD_ROWS,
    require_float,
    require_int,
)

if TYPE_CHECKING:
    from zpml_data.spec import DatasetSpec

    # What ``add_subparsers`` returns; each verb's ``register`` adds its parser to it.
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def _argparse_type(
    convert: Callable[[str], Any], check: Callable[[Any], Any], expected: str
) -> Callable[[str], Any]:
    """An argparse type: ``convert`` the text, then ``check`` it; errors become usage errors."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        try:
            return check(value)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def int_in(minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse type: a whole number within ``[minimum, maximum]`` (``require_int``)."""
    return _argparse_type(
        int,
        lambda value: require_int("the value", value, minimum=minimum, maximum=maximum),
        "a whole number",
    )


def float_in(minimum: float, maximum: float) -> Callable[[str], float]:
    """An argparse type: a finite number within ``[minimum, maximum]`` (``require_float``)."""
    return _argparse_type(
        float,
        lambda value: require_float("the value", value, minimum=minimum, maximum=maximum),
        "a number",
    )


positive_int = int_in(1, MAX_SHARD_ROWS)
seed = int_in(0, MAX_SEED)


def add_engine(parser: argparse.ArgumentParser) -> None:
    """``--engine local|dask`` and ``--scheduler ADDRESS``: where the work runs."""
    parser.add_argument(
        "--engine",
        choices=get_args(Engine),
        default="local",
        help="run here (default), or on a Dask cluster over the Parquet partitions, with the "
        'same result (needs the extra: pip install "zpml[dask]")',
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --engine dask, the cluster's scheduler (tcp://host:8786); default: a local "
        "cluster of one worker process per core",
    )
    parser.add_argument(
        "--scheduler-timeout",
        type=float_in(0.001, 1e6),
        default=DEFAULT_SCHEDULER_TIMEOUT_S,
        metavar="SECONDS",
        help="with --engine dask, the longest wait for the cluster to answer: connecting, and "
        f"between finished tasks (default {DEFAULT_SCHEDULER_TIMEOUT_S:g})",
    )


def engine_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The engine keyword arguments of ``audit`` and ``write_shards``.

    Raises:
        UsageError: ``--scheduler`` without ``--engine dask``.
    """
    if args.scheduler and args.engine != "dask":
        raise UsageError("--scheduler names a Dask scheduler; add --engine dask")
    return {
        "engine": args.engine,
        "scheduler": args.scheduler,
        "scheduler_timeout": args.scheduler_timeout,
    }


def add_batch_size(parser: argparse.ArgumentParser) -> None:
    """``--batch-size N``: rows per record batch read."""
    parser.add_argument(
        "--batch-size",
        type=int_in(1, MAX_BATCH_ROWS),
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"rows per record batch read; memory grows with it (default {DEFAULT_BATCH_SIZE:,})",
    )


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """``--spec``, ``--schema``, ``--value``, ``--status``, ``--inputs``."""
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


def spec_from_args(args: argparse.Namespace) -> DatasetSpec:
    """The DatasetSpec from ``--spec``, overridden by ``--value/--status/--inputs/--schema``.

    Raises:
        UsageError: ``--value``/``--status`` with a spec file of several targets.
    """
    from dataclasses import replace

    from zpml_data.spec import DatasetSpec, Target

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
