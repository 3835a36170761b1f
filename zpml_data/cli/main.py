"""The ``zpml`` command: the parser, the verbs, and errors mapped to exit codes.

Exit codes: 0 success and data clean; 1 the data failed a check; 2 usage,
configuration or I/O error (and bugs, reported in one line); 130 interrupted.
Verbs from other packages register themselves through the ``zpml.commands``
entry point group (:mod:`zpml_data.plugins`, the one loader): each entry
point names a ``register(subparsers)`` function.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import version

from zpml_data.cli import audit, convert, demo, inspect, shard, verify
from zpml_data.errors import ZpmlError
from zpml_data.plugins import load_plugins

_BUILTIN_VERBS = (audit, convert, shard, verify, inspect, demo)


def build_parser() -> argparse.ArgumentParser:
    """The ``zpml`` argument parser: the built-in verbs, then those of installed plugins."""
    parser = argparse.ArgumentParser(
        prog="zpml",
        description="Audit, convert, shard and train on status-labelled regression targets.",
    )
    parser.add_argument("--version", action="version", version=f"zpml {version('zpml')}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for module in _BUILTIN_VERBS:
        module.register(verbs)
    for plugin in load_plugins():
        plugin.register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``zpml`` command and return its exit code.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).

    Returns:
        0 success, 1 the data failed a check, 2 usage, configuration or I/O
        error, 130 interrupted.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"zpml {args.verb}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug:
            raise
        print(_error_line(args.verb, error), file=sys.stderr)
        return error.exit_code if isinstance(error, ZpmlError) else 2


def _error_line(verb: str, error: Exception) -> str:
    """One line for an error: the message of an expected one, a pointer to --debug for a bug."""
    if isinstance(error, (ZpmlError, OSError)):
        return f"zpml {verb}: error: {error}"
    return (
        f"zpml {verb}: internal error: {type(error).__name__}: {error}; "
        "rerun with --debug for the traceback and report it"
    )
