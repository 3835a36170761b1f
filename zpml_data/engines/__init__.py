"""Where the audit and the shard writer run: in this process, or on a Dask cluster.

One contract (:mod:`zpml_data.engines.runner`): :func:`open_runner` gives a
:class:`~zpml_data.engines.runner.Runner` whose ``map_parts`` runs a task over
the partitions of a source and returns the results in partition order, and
whose ``map`` runs a task over a list of items. The engine changes where the
work runs, never the result: both engines give the same report and
byte-identical shards. Nothing here imports Dask until the ``dask`` engine is
used (it is the optional ``zpml[dask]`` extra).
"""

from __future__ import annotations

from typing import Literal

# "local": one process streams the source. "dask": a Dask cluster works on
# partitions of a Parquet source (see zpml_data.engines.dask_cluster).
Engine = Literal["local", "dask"]
# The longest wait for the Dask scheduler to answer: the connection and its
# handshake, and between two finished tasks (a task is a few record batches).
DEFAULT_SCHEDULER_TIMEOUT_S = 60.0

__all__ = ["DEFAULT_SCHEDULER_TIMEOUT_S", "Engine"]
