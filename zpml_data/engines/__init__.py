"""Where the audit and the shard writer run: in this process, or on a Dask cluster.

The engine changes where the work runs, never the result: both engines give
the same report and byte-identical shards. Nothing here imports Dask until
the ``dask`` engine is used (it is the optional ``zpml[dask]`` extra).
"""

from __future__ import annotations

from typing import Literal

# "local": one process streams the source. "dask": a Dask cluster works on
# partitions of a Parquet source (see zpml_data.engines.dask_cluster).
Engine = Literal["local", "dask"]

__all__ = ["Engine"]
