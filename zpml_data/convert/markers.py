"""Classify legacy target values: numbers, NaN/±inf sentinels and lab text markers.

Every row gets a *kind* (what the legacy value was) and a float value, in a
few vectorised Arrow/numpy passes per batch.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class Kind(IntEnum):
    """What a legacy value was, before it got a label."""

    FINITE = 0
    NAN = 1  # NaN, or empty / NA text
    POSINF = 2
    NEGINF = 3
    BELOW = 4  # text "<x" or "≤x": below a detection limit x
    ABOVE = 5  # text ">x" or "≥x": above a limit x
    UNPARSEABLE = 6

    @property
    def description(self) -> str:
        """How the ledger names this kind."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Kind.FINITE: "finite number",
    Kind.NAN: "NaN or empty",
    Kind.POSINF: "+inf",
    Kind.NEGINF: "-inf",
    Kind.BELOW: "text <x",
    Kind.ABOVE: "text >x",
    Kind.UNPARSEABLE: "unparseable text",
}

_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
_INFINITY = r"(?i)^[+-]?inf(?:inity)?$"
_MISSING = r"(?i)^(?:|na|nan|n/a|null|none)$"


def classify_numbers(values: np.ndarray) -> np.ndarray:
    """Kinds of numeric values: finite, NaN, +inf or -inf."""
    kinds = np.full(values.shape, Kind.FINITE, dtype=np.int8)
    kinds[np.isnan(values)] = Kind.NAN
    kinds[np.isposinf(values)] = Kind.POSINF
    kinds[np.isneginf(values)] = Kind.NEGINF
    return kinds


def parse_text(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Parse a text value column with detection-limit markers.

    ``<x``/``≤x`` give ``x`` of kind BELOW, ``>x``/``≥x`` give ``x`` of kind
    ABOVE, plain numbers (``inf`` included) are numbers, empty/NA/NaN/null
    (and nulls) are NaN; surrounding whitespace is ignored. Anything else is
    UNPARSEABLE (value NaN).

    Returns:
        ``(values as float64, kinds as int8)``.
    """
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    below = pc.fill_null(pc.match_substring_regex(text, r"^[<≤]"), False)
    above = pc.fill_null(pc.match_substring_regex(text, r"^[>≥]"), False)
    body = pc.if_else(
        pc.or_(below, above), pc.utf8_ltrim_whitespace(pc.utf8_slice_codeunits(text, 1)), text
    )
    number = pc.fill_null(pc.match_substring_regex(body, _NUMBER), False)
    infinite = pc.fill_null(pc.match_substring_regex(body, _INFINITY), False)
    numeric = pc.or_(number, infinite)
    missing = pc.fill_null(pc.match_substring_regex(text, _MISSING), True)  # null counts as missing
    parsed = pc.cast(pc.if_else(numeric, body, pa.scalar(None, pa.string())), pa.float64())
    values = parsed.to_numpy(zero_copy_only=False).astype(np.float64)  # nulls become NaN

    is_below, is_above = below.to_numpy(zero_copy_only=False), above.to_numpy(zero_copy_only=False)
    is_numeric = numeric.to_numpy(zero_copy_only=False)
    kinds = classify_numbers(values)
    kinds[is_below & is_numeric] = Kind.BELOW
    kinds[is_above & is_numeric] = Kind.ABOVE
    kinds[~is_numeric & ~missing.to_numpy(zero_copy_only=False)] = Kind.UNPARSEABLE
    return values, kinds
