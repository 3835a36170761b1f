"""The engine contract: run a task over the partitions of a source, results in partition order.

A task is a module-level function ``task(part, *args)`` (a Dask worker imports
it by name) that reads ``part.source`` and returns what it counted or wrote.
The local engine has one partition, the whole source; the Dask engine cuts
Parquet files into runs of row groups (:mod:`zpml_data.engines.partitions`)
whose batches are the ones a single pass would read. Callers merge the
results in order, so the same code gives the same answer on both engines.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, get_args

from zpml_data.engines import DEFAULT_SCHEDULER_TIMEOUT_S, Engine
from zpml_data.engines.part import Part as Part  # tasks take a Part
from zpml_data.validate import require_choice, require_float

if TYPE_CHECKING:
    from distributed import Client

    from zpml_data.io.sources import Source

R = TypeVar("R")
T = TypeVar("T")


class Runner(Protocol):
    """Runs tasks for one source; local or on a cluster, always with results in order."""

    def map_parts(self, task: Callable[..., R], *args: Any, label: str = "") -> list[R]:
        """``task(part, *args)`` for every partition of the source; the results in order."""
        ...

    def map(
        self,
        task: Callable[..., R],
        items: Sequence[T],
        *args: Any,
        rows: Sequence[int] | None = None,
        label: str = "",
    ) -> list[R]:
        """``task(item, *args)`` for every item; the results in item order."""
        ...


@contextlib.contextmanager
def open_runner(
    source: Source,
    engine: Engine = "local",
    *,
    batch_size: int,
    scheduler: str | Client | None = None,
    scheduler_timeout: float = DEFAULT_SCHEDULER_TIMEOUT_S,
    progress: bool = False,
) -> Iterator[Runner]:
    """A runner for ``source`` on ``engine``, open for the ``with`` block.

    Args:
        source: The opened source.
        engine: ``"local"`` (this process) or ``"dask"`` (Parquet partitions on a cluster).
        batch_size: Rows per record batch; partitions start on batch boundaries.
        scheduler: With ``"dask"``, see :func:`zpml_data.engines.dask_cluster.dask_client`.
        scheduler_timeout: With ``"dask"``, the longest wait in seconds for
            the scheduler to answer (connecting, and between finished tasks).
        progress: Show progress bars (only on a terminal).

    Raises:
        ConfigError: An unknown engine or a timeout that is not positive.
        UsageError: With ``"dask"``: Dask is not installed, or the source is
            not Parquet files.
        SourceError: With ``"dask"``: the scheduler does not answer in time.
    """
    require_choice("engine", engine, get_args(Engine))
    require_float("scheduler_timeout", scheduler_timeout, minimum=0, strict_minimum=True)
    if engine == "local":
        from zpml_data.engines.local import LocalRunner

        yield LocalRunner(source, progress)
        return
    from zpml_data.engines.dask_cluster import dask_runner

    with dask_runner(source, batch_size, scheduler, scheduler_timeout, progress) as runner:
        yield runner
