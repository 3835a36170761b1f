"""The Dask engine: a client with deadlines, and tasks mapped over partitions in order.

Workers import zpml themselves, so every worker needs zpml installed and the
source files (and a shard directory) at the same paths as the client: a
shared or network file system on a real cluster. Every wait on the cluster
has a deadline: a scheduler that accepts a connection and never answers
would otherwise hang the run (Dask's own connect timeout does not cover the
handshake after it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from zpml_data.engines.part import Part
from zpml_data.engines.partitions import Partition, plan_partitions
from zpml_data.errors import SourceError, UsageError
from zpml_data.io.progress import progress_bar

if TYPE_CHECKING:
    from distributed import Client

    from zpml_data.io.sources import Source

T = TypeVar("T")
R = TypeVar("R")

INSTALL_HINT = 'pip install "zpml[dask]"'
TIMEOUT_HINT = "wait longer with --scheduler-timeout SECONDS (scheduler_timeout=)"
# A partition holds at least this many record batches: a task's scheduling
# and the pandera schema's set-up are amortised over them.
BATCHES_PER_PARTITION = 4


def require_dask() -> Any:
    """The ``distributed`` module.

    Raises:
        UsageError: Dask is not installed (the message names the extra to install).
    """
    try:
        import distributed
    except ImportError:
        raise UsageError(
            f"the dask engine needs dask and distributed, which are not installed; "
            f"install the extra ({INSTALL_HINT}) or use --engine local"
        ) from None
    return distributed


def _probe(address: str, timeout: float) -> None:
    """Connect to a scheduler and complete the handshake within ``timeout`` seconds.

    Runs its own event loop in a fresh thread, so it works whether or not the
    caller's thread has a loop running.

    Raises:
        SourceError: No answer in time, or no connection at all.
    """
    from distributed.comm import connect

    async def handshake() -> None:
        comm = await connect(address, timeout=timeout)
        await comm.close()

    def run() -> None:
        # A second more than the connection's own retries take: an address with
        # nothing listening fails in connect(), one that never answers here.
        asyncio.run(asyncio.wait_for(handshake(), timeout + 1))

    with ThreadPoolExecutor(1, thread_name_prefix="zpml-dask-probe") as pool:
        try:
            pool.submit(run).result()
        except TimeoutError:
            raise SourceError(
                f"the Dask scheduler {address!r} accepted a connection but did not answer "
                f"within {timeout:g} s (it is not a Dask scheduler, or it is stuck); "
                f"check the address, or {TIMEOUT_HINT}"
            ) from None
        except (OSError, ValueError) as error:
            raise SourceError(
                f"cannot connect to the Dask scheduler {address!r}: {error}; check the "
                f"address, or {TIMEOUT_HINT}"
            ) from None


@contextlib.contextmanager
def dask_client(scheduler: str | Client | None, timeout: float) -> Iterator[Client]:
    """A Dask client for one run.

    Args:
        scheduler: A scheduler address (``tcp://host:8786``) to connect to, a
            ``distributed.Client`` to use as it is, or ``None`` to start a
            ``LocalCluster`` of one single-threaded worker process per core
            (pandera and pandas hold the GIL, so processes, not threads).
        timeout: Seconds to wait for an address to answer.

    Raises:
        UsageError: Dask is not installed.
        SourceError: The scheduler cannot be reached or does not answer in time.
    """
    distributed = require_dask()
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if scheduler is None:
        cluster = distributed.LocalCluster(
            n_workers=os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: 8787 may be taken
        )
        with cluster, distributed.Client(cluster) as client:
            yield client
        return
    _probe(str(scheduler), timeout)
    try:
        client = distributed.Client(scheduler, timeout=timeout)
    except (OSError, ValueError) as error:
        raise SourceError(f"cannot connect to the Dask scheduler {scheduler!r}: {error}") from None
    with client:
        yield client


def _on_partition(item: tuple[int, Partition], task: Callable[..., R], args: tuple[Any, ...]) -> R:
    """On a worker: ``task`` over one partition."""
    index, partition = item
    return task(Part(partition.open(), index, partition.source_row), *args)


def _call(item: T, task: Callable[..., R], args: tuple[Any, ...]) -> R:
    """On a worker: ``task(item, *args)``."""
    return task(item, *args)


class DaskRunner:
    """Runs tasks on a Dask cluster (see :class:`~zpml_data.engines.runner.Runner`)."""

    def __init__(
        self, client: Client, partitions: list[Partition], timeout: float, progress: bool
    ) -> None:
        self.client, self.partitions = client, partitions
        self.timeout, self.progress = timeout, progress

    def map_parts(self, task: Callable[..., R], *args: Any, label: str = "") -> list[R]:
        """``task(part, *args)`` for every partition on the cluster; the results in order."""
        items = list(enumerate(self.partitions))
        rows = [p.rows for p in self.partitions]
        return self._map(_on_partition, items, task, args, rows, label)

    def map(
        self,
        task: Callable[..., R],
        items: Sequence[T],
        *args: Any,
        rows: Sequence[int] | None = None,
        label: str = "",
    ) -> list[R]:
        """``task(item, *args)`` for every item on the cluster; the results in item order."""
        return self._map(_call, items, task, args, rows, label)

    def _map(
        self,
        wrapper: Callable[..., R],
        items: Sequence[Any],
        task: Callable[..., Any],
        args: tuple[Any, ...],
        rows: Sequence[int] | None,
        label: str,
    ) -> list[R]:
        """Submit every item; wait with a deadline between finished tasks.

        Raises:
            SourceError: No task finished within the deadline.
            Exception: The error of the first failed task in item order (what a
                single pass over the items would have raised); the rest are cancelled.
        """
        distributed = require_dask()
        client = self.client
        futures = [client.submit(wrapper, item, task, args, pure=False) for item in items]
        position = {future.key: i for i, future in enumerate(futures)}
        total = sum(rows) if rows is not None else None
        pending = set(futures)
        try:
            with progress_bar(total, label, self.progress and bool(label)) as bar:
                while pending:
                    try:
                        done, pending = distributed.wait(
                            pending, timeout=self.timeout, return_when="FIRST_COMPLETED"
                        )
                    except TimeoutError:
                        raise self._stuck(len(pending)) from None
                    if any(future.status == "error" for future in done):
                        break  # the items before it may fail too: raise in item order below
                    for future in done:
                        bar.update(rows[position[future.key]] if rows is not None else 0)
            try:
                return [future.result(timeout=self.timeout) for future in futures]
            except TimeoutError:
                raise self._stuck(len(pending)) from None
        finally:
            client.cancel(futures)

    def _stuck(self, pending: int) -> SourceError:
        address = getattr(self.client.scheduler, "address", "the scheduler")
        return SourceError(
            f"the Dask cluster at {address!r} finished no task within {self.timeout:g} s "
            f"({pending} of them waiting): the scheduler or its workers stopped answering, "
            f"or a task takes longer; {TIMEOUT_HINT}"
        )


@contextlib.contextmanager
def dask_runner(
    source: Source,
    batch_size: int,
    scheduler: str | Client | None,
    timeout: float,
    progress: bool,
) -> Iterator[DaskRunner]:
    """A runner over the source's Parquet partitions on a Dask cluster.

    Raises:
        UsageError: Dask is not installed, or the source is not Parquet files.
        SourceError: The scheduler cannot be reached or does not answer in time.
    """
    require_dask()
    partitions = plan_partitions(source, batch_size, BATCHES_PER_PARTITION * batch_size)
    with dask_client(scheduler, timeout) as client:
        yield DaskRunner(client, partitions, timeout, progress)
