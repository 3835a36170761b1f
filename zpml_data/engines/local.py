"""The local engine: one partition, the whole source, in this process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from zpml_data.engines.part import Part
from zpml_data.io.progress import progress_bar
from zpml_data.io.sources import Source

R = TypeVar("R")
T = TypeVar("T")


class LocalRunner:
    """Runs every task here, one after the other (see :class:`~zpml_data.engines.runner.Runner`)."""

    def __init__(self, source: Source, progress: bool) -> None:
        self.source, self.progress = source, progress

    def map_parts(self, task: Callable[..., R], *args: Any, label: str = "") -> list[R]:
        """``task`` over the one partition, the whole source, with a progress bar of its rows."""
        total = self.source.count_rows() if self.progress else None
        with progress_bar(total, label, self.progress and bool(label)) as bar:
            return [task(Part(self.source, 0, 0, bar.update), *args)]

    def map(
        self,
        task: Callable[..., R],
        items: Sequence[T],
        *args: Any,
        rows: Sequence[int] | None = None,
        label: str = "",
    ) -> list[R]:
        """``task(item, *args)`` for each item in order."""
        total = sum(rows) if rows is not None else None
        results = []
        with progress_bar(total, label, self.progress and bool(label)) as bar:
            for i, item in enumerate(items):
                results.append(task(item, *args))
                bar.update(rows[i] if rows is not None else 0)
        return results
