"""The Dask side of the ``dask`` engine: a client, and tasks mapped over partitions in order.

Workers import zpml themselves, so every worker needs zpml installed and the
source files (and a shard directory) at the same paths as the client: a
shared or network file system on a real cluster.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from zpml_data.errors import SourceError, UsageError
from zpml_data.io.progress import progress_bar

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")
R = TypeVar("R")

INSTALL_HINT = 'pip install "zpml[dask]"'
# How long to wait for a scheduler address to answer before giving up.
CONNECT_TIMEOUT_S = 30


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


@contextlib.contextmanager
def dask_client(scheduler: str | Client | None) -> Iterator[Client]:
    """A Dask client for one run.

    Args:
        scheduler: A scheduler address (``tcp://host:8786``) to connect to, a
            ``distributed.Client`` to use as it is, or ``None`` to start a
            ``LocalCluster`` of one single-threaded worker process per core
            (pandera and pandas hold the GIL, so processes, not threads).

    Raises:
        UsageError: Dask is not installed.
        SourceError: The scheduler cannot be reached.
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
    try:
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, ValueError) as error:
        raise SourceError(f"cannot connect to the Dask scheduler {scheduler!r}: {error}") from None
    with client:
        yield client


def map_in_order(
    client: Client,
    task: Callable[..., R],
    items: Sequence[T],
    *args: Any,
    rows: Sequence[int] | None = None,
    label: str = "",
    progress: bool = False,
) -> list[R]:
    """Run ``task(item, *args)`` for every item on the cluster; the results in item order.

    Args:
        client: The Dask client.
        task: A module-level function (workers import it by name).
        items: One task per item.
        *args: The same further arguments for every task.
        rows: Rows each item stands for, for the progress bar.
        label: The progress bar's label.
        progress: Show a progress bar (only on a terminal).

    Raises:
        Exception: The error of the first failed task in item order (what a
            single pass over the items would have raised); the rest are cancelled.
    """
    distributed = require_dask()
    futures = [client.submit(task, item, *args, pure=False) for item in items]
    position = {future.key: i for i, future in enumerate(futures)}
    total = sum(rows) if rows is not None else None
    try:
        with progress_bar(total, label, progress) as bar:
            for future in distributed.as_completed(futures):
                if future.status == "error":
                    break  # the items before it may fail too: raise in item order below
                bar.update(rows[position[future.key]] if rows is not None else 0)
        return [future.result() for future in futures]
    finally:
        client.cancel(futures)
