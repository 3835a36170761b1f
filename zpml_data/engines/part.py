"""What a task sees of one partition of a source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zpml_data.io.sources import Source


def _ignore(rows: int) -> None:
    """Progress of a task whose runner counts whole partitions."""


@dataclass(frozen=True)
class Part:
    """One partition of a source, as a task sees it.

    Attributes:
        source: The rows of this partition (read them with ``source.batches``).
        index: The partition's position among all partitions.
        source_row: Rows of the source before this partition (for global row ids).
        advance: Call with the rows read, for the progress bar.
    """

    source: Source
    index: int
    source_row: int
    advance: Callable[[int], None] = _ignore
