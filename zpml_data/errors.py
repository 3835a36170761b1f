"""The zpml exception hierarchy.

Every error zpml raises on purpose derives from :class:`ZpmlError` and carries
the exit code the CLI uses for it:

* :class:`DataError` (exit 1): the data failed a check. The message says
  which rows and how to fix them.
* :class:`UsageError` (exit 2): a bad argument, option or configuration.
* :class:`SourceError` (exit 2): a file or directory could not be read or
  written.
* :class:`IntegrityError` (exit 1): an artifact does not match its manifest
  (a checksum, a size, a row count).

Errors about values a caller passed in (labels, shapes) are also
``ValueError`` subclasses, so code written against the reference package's
``ValueError`` keeps working.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable


class ZpmlError(Exception):
    """Root of every error zpml raises on purpose."""

    exit_code: int = 2


class DataError(ZpmlError):
    """The data failed a check (exit code 1)."""

    exit_code = 1


class UsageError(ZpmlError):
    """A usage or configuration error: bad argument, option or file content (exit code 2)."""

    exit_code = 2


class SourceError(ZpmlError):
    """An input could not be read or an output could not be written (exit code 2)."""

    exit_code = 2


class IntegrityError(ZpmlError):
    """An artifact does not match its manifest (exit code 1)."""

    exit_code = 1


class StatusLabelError(DataError, ValueError):
    """Status labels that are unknown, null or out-of-range codes."""


class TargetValueError(DataError, ValueError):
    """Target values that contradict their status (a non-finite ``finite`` value)."""


class ShapeError(UsageError, ValueError):
    """Values and status labels whose shapes do not match."""


class ConfigError(UsageError, ValueError):
    """A configuration value outside its valid range, or an unknown configuration key."""


class CapabilityError(DataError, ValueError):
    """The data hold bottom (⊥) targets that the model cannot emit (exit code 1)."""


# How many rows (or names) an error message lists before it stops.
MAX_SHOWN = 5


def first_few(items: Iterable[object]) -> str:
    """The first :data:`MAX_SHOWN` items (row positions, names), comma-separated."""
    return ", ".join(str(item) for item in itertools.islice(items, MAX_SHOWN))
