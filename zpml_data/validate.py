"""Checks of user-supplied settings, written once: each names the setting, its value and the range.

Every check raises :class:`~zpml_data.errors.ConfigError` (a ``ValueError``,
exit code 2) and returns the value, so callers write
``self.batch_size = require_positive_int("batch_size", batch_size)``.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from zpml_data.errors import ConfigError

# Bounds shared by the library and the command line. Beyond them a run cannot
# succeed (memory, Parquet's int32 counts) or a seed would not fit numpy's
# and torch's generators alike.
MAX_BATCH_ROWS = 1 << 24
MAX_SHARD_ROWS = (1 << 31) - 1
MAX_SEED = (1 << 63) - 1
# A skew threshold is a difference of two shares, in percentage points.
MAX_SKEW_PP = 100.0


def require_int(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` as an int within ``[minimum, maximum]`` (bools are refused).

    Raises:
        ConfigError: Not an integer, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"{name} must be {_range(minimum, maximum)}, got {value!r}")
    return value


def require_positive_int(name: str, value: Any, *, maximum: int | None = None) -> int:
    """``value`` as an int of at least 1 (and at most ``maximum``).

    Raises:
        ConfigError: Not an integer, below 1, or above ``maximum``.
    """
    return require_int(name, value, minimum=1, maximum=maximum)


def require_seed(name: str, value: Any) -> int:
    """``value`` as a seed: an int within ``[0, MAX_SEED]``.

    Raises:
        ConfigError: Not an integer, negative, or beyond ``MAX_SEED``.
    """
    return require_int(name, value, minimum=0, maximum=MAX_SEED)


def require_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
) -> float:
    """``value`` as a finite float within the range (``strict_minimum``: above ``minimum``).

    Raises:
        ConfigError: Not a real number, NaN or infinite, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    below = minimum is not None and (value <= minimum if strict_minimum else value < minimum)
    if below or (maximum is not None and value > maximum):
        if strict_minimum:
            bound = f"> {minimum}" if maximum is None else f"in ({minimum}, {maximum}]"
        else:
            bound = _range(minimum, maximum)
        raise ConfigError(f"{name} must be {bound}, got {value!r}")
    return float(value)


def require_choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """``value`` if it is one of ``choices``.

    Raises:
        ConfigError: Anything else, listing the choices.
    """
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def _range(minimum: float | None, maximum: float | None) -> str:
    if maximum is None:
        return f">= {minimum}"
    if minimum is None:
        return f"<= {maximum}"
    return f"between {minimum} and {maximum}"
