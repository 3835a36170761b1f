"""The floors of bench_loader: the same batches with the least work, and the check.

Two floors, both with one copy out of Arrow and one gather per batch:

* whole: every file read with ``read_table``, each column copied into one
  tensor (inputs one ``[N, F]`` float32 tensor), batches gathered in the
  loader's own order, so they are the loader's batches bit for bit;
* streamed: the loader's work without its machinery (no plan, checks or
  ``Batch``): the row groups read in file order four at a time (the
  loader's window), the next window read while this one is gathered, each
  column gathered once in a shuffled order into one reused window buffer,
  the batches slices of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BATCH = 4096
WINDOW = 4  # row groups per window, as make_loader's default
# Every column a Batch carries, as the shards store them.
COLUMNS = ("inputs", "values", "status", "Y_n", "Y_d", "mask_finite", "mask_bottom",
           "orientation_label", "bottom_kind", "row_id")  # fmt: skip
WIDE = ("orientation_label", "bottom_kind")  # int8 in the shards, int64 in a Batch


def _numpy(name: str, chunks: list[Any]) -> list[Any]:
    """A column's chunks as numpy arrays (zero-copy views but for the bit-packed booleans)."""
    from zpml_data.shards.format import inputs_array

    if name == "inputs":
        return [inputs_array(chunk) for chunk in chunks]
    return [chunk.to_numpy(zero_copy_only=name not in ("mask_finite", "mask_bottom"))
            for chunk in chunks]  # fmt: skip


def shard_files(shards: Path) -> list[Path]:
    """The shard files, in manifest order (read once, as the loader reads its manifest once)."""
    from zpml_data.shards.manifest import read_manifest

    return [shards / s.file for s in read_manifest(shards).shards]


def floor_tensors(files: list[Path], into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every batch column of the shards as one tensor, each copied once out of Arrow.

    Args:
        files: The shard files, in manifest order.
        into: Tensors of a previous call to copy into (a training run keeps its
            buffers from one epoch to the next); new ones when ``None``.
    """
    import numpy as np
    import pyarrow.parquet as pq
    import torch

    tables = [pq.read_table(path, columns=list(COLUMNS)) for path in files]
    tensors = {}
    for name in COLUMNS:
        arrays = _numpy(name, [chunk for t in tables for chunk in t.column(name).chunks])
        if into is not None:  # the one copy; int8 shard columns widen to a Batch's int64
            tensors[name] = into[name]
            np.concatenate(arrays, out=into[name].numpy())
        else:
            wide = np.int64 if name in WIDE else None
            tensors[name] = torch.from_numpy(np.concatenate(arrays, dtype=wide))
    return tensors


def batch_positions(files: list[Path], shards: Path) -> list[Any]:
    """The loader's batches of epoch 0, each as the positions of its rows in ``files``.

    This is the order the floor must reproduce: which rows a batch holds is
    given, not part of the work.
    """
    import pyarrow.parquet as pq
    import torch

    from zpml_train import make_loader

    ids = torch.cat([torch.from_numpy(pq.read_table(f, columns=["row_id"]).column(0).to_numpy())
                     for f in files])  # fmt: skip
    where = torch.full((int(ids.max()) + 1,), -1, dtype=torch.int64)
    where[ids] = torch.arange(len(ids))
    order = []
    for batch in make_loader(shards, BATCH, shuffle=True, verify=False):
        assert batch.row_id is not None
        at = where[batch.row_id]
        assert bool((at >= 0).all()), "the loader yielded a row id the shards do not hold"
        order.append(at)
    return order


def gather(tensors: dict[str, Any], index: Any) -> dict[str, Any]:
    """One batch: each column's rows at ``index``, one gather each."""
    import torch

    return {name: torch.index_select(column, 0, index) for name, column in tensors.items()}


def stream_epoch(files: list[Path], buffers: dict[str, Any]) -> int:
    """One epoch of the streamed floor; ``buffers`` keeps the window buffers between epochs.

    Each window (WINDOW row groups of a file, files opened once) is read
    while the one before is gathered (one background thread, as pyarrow
    decodes without the GIL), then every column is gathered once, in a
    shuffled order, out of Arrow's buffers into a reused buffer (the row
    groups' chunks joined first where a window holds several; the int8
    columns widened after, as the loader does), and the batches are slices
    of it. Unlike the loader's, its windows never span two files and its
    batches never span two windows (no joins), and it builds no ``Batch``;
    its read uses Arrow's thread pool (``--threads`` caps it) where the
    loader reads on two threads of its own.

    Returns:
        The rows of the batches it yielded.
    """
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import pyarrow.parquet as pq
    import torch

    opened: dict[Path, Any] = {}  # each file opened once, as the loader keeps its files open

    def read(path: Path, groups: list[int]) -> Any:
        return opened[path].read_row_groups(groups, columns=list(COLUMNS))

    windows = []
    for path in files:
        opened[path] = pq.ParquetFile(path)
        count = opened[path].num_row_groups
        windows += [(path, list(range(start, min(start + WINDOW, count))))
                    for start in range(0, count, WINDOW)]  # fmt: skip
    seen = 0
    with ThreadPoolExecutor(1) as pool:
        upcoming = pool.submit(read, *windows[0]) if windows else None
        for i in range(len(windows)):
            assert upcoming is not None
            table = upcoming.result()
            if i + 1 < len(windows):
                upcoming = pool.submit(read, *windows[i + 1])
            rows = table.num_rows
            order = torch.randperm(rows)
            window = {}
            for name in COLUMNS:
                arrays = _numpy(name, table.column(name).chunks)
                stored = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
                if name not in buffers or len(buffers[name]) < rows:
                    shape = (rows, *stored.shape[1:])
                    buffers[name] = torch.from_numpy(np.empty(shape, dtype=stored.dtype))
                window[name] = buffers[name][:rows]
                with warnings.catch_warnings():  # only read: Arrow's buffers are not writable
                    warnings.simplefilter("ignore", UserWarning)
                    source = torch.from_numpy(stored)
                torch.index_select(source, 0, order, out=window[name])  # the one gather
                if name in WIDE:  # as the loader: int8 gathered, then widened to a Batch's int64
                    window[name] = window[name].to(torch.int64)
            for start in range(0, rows, BATCH):
                seen += window["inputs"][start : start + BATCH].shape[0]
    return seen


def check_same_batches(shards: Path) -> dict[str, float]:
    """Raise unless a loader epoch, in process and with 2 workers, is the floor's batches.

    The floor's batches follow the in-process loader's order, so this checks
    every field of every batch bit for bit, that the order does not depend on
    ``num_workers``, and that the epoch holds every row exactly once.

    Returns:
        ``rows``: rows each loader yielded (-1 if they differ); ``batches``: per epoch.
    """
    import torch

    files = shard_files(shards)
    floor, order = floor_tensors(files), batch_positions(files, shards)
    every = torch.cat(order).sort().values if order else torch.zeros(0, dtype=torch.int64)
    assert torch.equal(every, torch.arange(len(floor["row_id"]))), "not every row once"
    counted = {_compare_epoch(shards, workers, floor, order) for workers in (0, 2)}
    return {"rows": counted.pop() if len(counted) == 1 else -1, "batches": len(order)}


def _compare_epoch(shards: Path, workers: int, floor: dict[str, Any], order: list[Any]) -> int:
    import torch

    from zpml_train import make_loader

    batches = list(make_loader(shards, BATCH, shuffle=True, num_workers=workers))
    assert len(batches) == len(order), f"{len(batches)} batches, the floor has {len(order)}"
    for batch, index in zip(batches, order, strict=True):
        assert batch.targets is not None
        want = gather(floor, index)
        got = {"inputs": batch.inputs, "values": batch.values, "status": batch.status_labels,
               "row_id": batch.row_id, **vars(batch.targets)}  # fmt: skip
        for name, mine in got.items():
            theirs = want[name]
            assert mine.dtype == theirs.dtype, f"{name}: {mine.dtype}, the floor {theirs.dtype}"
            if mine.is_floating_point():  # bit for bit: a NaN equals itself
                mine, theirs = mine.view(torch.int32), theirs.view(torch.int32)
            assert torch.equal(mine, theirs), f"{name}, {workers} workers: not the floor's batch"
    return sum(b.num_rows for b in batches)
