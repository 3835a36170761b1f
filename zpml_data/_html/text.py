"""Text on a page: escaping, and numbers as a person reads them."""

from __future__ import annotations

import html


def esc(value: object) -> str:
    """``value`` as text safe inside an element or a quoted attribute (``&<>"'`` escaped)."""
    return html.escape(str(value), quote=True)


def fmt(value: float) -> str:
    """A number as a person reads it: 4 significant digits, thousands grouped, ``–`` for NaN."""
    if value != value:
        return "–"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3g}"
    if float(value).is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    return f"{value:.4g}"


def share(count: int, total: int) -> str:
    """``count`` as a percentage of ``total`` (``–`` when there is nothing to divide by)."""
    return f"{count / total:.1%}" if total else "–"
