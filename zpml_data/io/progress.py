"""Progress bars for long work: shown on a terminal, silent when piped."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


def progress_bar(total: int | None, what: str, enabled: bool = True, unit: str = " rows") -> Any:
    """A counting progress bar on stderr, disabled unless stderr is a terminal.

    Args:
        total: Units (rows) expected, or ``None`` when unknown.
        what: A short label, such as ``"audit"``.
        enabled: ``False`` turns the bar off even on a terminal.
        unit: What is counted.

    Returns:
        A context manager with ``update(rows)``.
    """
    return tqdm(
        total=total,
        desc=what,
        unit=unit,
        unit_scale=True,
        file=sys.stderr,
        disable=not (enabled and sys.stderr.isatty()),
        leave=False,
    )
