"""Reading shuffle windows: row groups read ahead in threads, permuted once, sliced into batches.

A window is a few row groups read whole (columnar) and permuted once: the
shards' ``inputs`` column is a row-major ``[n, F]`` float32 block (fixed-size
binary rows), gathered row by row into the window's order, so every batch is a
zero-copy slice of it.
Decoding the next row groups runs in a small thread pool (pyarrow releases the
GIL), overlapping with the gather of the current window.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from zpml_data.errors import IntegrityError
from zpml_data.lift import SemanticTargets
from zpml_data.shards.format import (
    bad_status_codes,
    columns_numpy,
    inputs_array,
    open_shard,
    read_row_group,
    shard_schema,
)
from zpml_data.shards.manifest import Manifest, check_file, listed_file
from zpml_data.status import STATUS_LABELS
from zpml_train.data._plan import EpochPlan, Segment
from zpml_train.data.batch import Batch

_TARGET_COLUMNS = ("values", "status", "Y_n", "Y_d", "mask_finite", "mask_bottom")
_INT64_COLUMNS = ("orientation_label", "bottom_kind")  # int8 in shards, int64 in SemanticTargets
_READ_THREADS = 2
_CACHED_WINDOWS = 2


def check_shards(directory: Path, manifest: Manifest, hash_files: bool) -> None:
    """Refuse a shard directory whose files are missing, resized or (``hash_files``) changed.

    Raises:
        IntegrityError: Naming every bad file.
    """
    problems = []
    for entry in manifest.shards:
        try:
            check_file(directory, entry.file, entry.bytes, entry.sha256, hash_file=hash_files)
        except IntegrityError as error:
            problems.append(str(error))
    if problems:
        raise IntegrityError(
            f"{directory}: shards do not match the manifest: {'; '.join(problems)}; "
            "write the shards again (zpml shard) or run `zpml verify` for details"
        )


class Window(NamedTuple):
    """One shuffle window's rows, permuted."""

    inputs: torch.Tensor  # [n, F] float32, row-major
    columns: dict[str, torch.Tensor]  # target columns and row_id, [n] or [n, T]
    label_rows: dict[int, torch.Tensor] | None  # per label: positions holding it (balance)


class WindowReader:
    """Reads the windows of an epoch plan from one shard directory."""

    def __init__(self, directory: Path, manifest: Manifest, verified: bool) -> None:
        self.directory, self.manifest, self.verified = directory, manifest, verified
        self.schema = shard_schema(manifest.inputs, len(manifest.targets))
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[tuple[int, int], list[Future[pa.Table]]] = {}
        self._windows: OrderedDict[tuple[int, int], Window] = OrderedDict()
        self._pid = os.getpid()
        self._local = threading.local()

    def close(self) -> None:
        """Stop the reader threads and drop cached windows (the next read starts them again).

        Called before DataLoader workers fork: a process that forks while it
        has threads may deadlock in the child.
        """
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self.__init__(self.directory, self.manifest, self.verified)  # type: ignore[misc]

    def __getstate__(self) -> dict[str, Any]:
        # Open files and threads stay in the process that made them.
        return {"directory": self.directory, "manifest": self.manifest, "verified": self.verified}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["directory"], state["manifest"], state["verified"])  # type: ignore[misc]

    def batches(self, plan: EpochPlan, ks: Sequence[int]) -> Iterator[Batch]:
        """This rank's batches ``ks`` of ``plan``, in that order."""
        if self._pid != os.getpid():  # forked: threads and file offsets do not carry over
            self.__init__(self.directory, self.manifest, self.verified)  # type: ignore[misc]
        self._pending.clear()
        planned = [plan.segments(k) for k in ks]  # once: a balanced plan costs a sort per batch
        upcoming = list(dict.fromkeys(s.window for segments in planned for s in segments))
        position = {window: i for i, window in enumerate(upcoming)}
        for segments in planned:
            for segment in segments:
                at = position[segment.window]
                for window in upcoming[at : at + 2]:  # this window and the next: read ahead
                    key = (plan.epoch, window)
                    if key not in self._windows and key not in self._pending:
                        self._pending[key] = self._submit(plan, window)
            yield self._batch(plan, segments)

    def _submit(self, plan: EpochPlan, window: int) -> list[Future[pa.Table]]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(_READ_THREADS, thread_name_prefix="zpml-read")
        layout = plan.layout
        return [
            self._pool.submit(self._read_group, int(layout.shard[g]), int(layout.group[g]))
            for g in plan.windows[window]
        ]

    def _file(self, shard: int) -> pq.ParquetFile:
        # A ParquetFile must not serve two threads at once: each reader thread opens its own.
        files: dict[int, pq.ParquetFile] = self._local.__dict__.setdefault("files", {})
        if shard not in files:
            files[shard] = self._open(shard)
        return files[shard]

    def _open(self, shard: int) -> pq.ParquetFile:
        entry = self.manifest.shards[shard]
        path = listed_file(self.directory, entry.file)
        return open_shard(path, entry, self.schema, self.verified)

    def _read_group(self, shard: int, group: int) -> pa.Table:
        return read_row_group(self._file(shard), self.manifest.shards[shard], group)

    def _window(self, plan: EpochPlan, window: int) -> Window:
        key = (plan.epoch, window)
        cached = self._windows.get(key)
        if cached is not None:
            self._windows.move_to_end(key)
            return cached
        futures = self._pending.pop(key, None) or self._submit(plan, window)
        tables = [future.result() for future in futures]
        built = self._assemble(tables, plan.window_permutation(window), plan.options.balance)
        self._windows[key] = built
        while len(self._windows) > _CACHED_WINDOWS:
            self._windows.popitem(last=False)
        return built

    def _assemble(self, tables: list[pa.Table], order: np.ndarray, balance: bool) -> Window:
        rows, features = len(order), len(self.manifest.inputs)
        permutation = torch.from_numpy(order)
        inputs = torch.empty((rows, features), dtype=torch.float32)
        if features:  # one gather of whole rows out of the row-major [n, F] block
            blocks = [inputs_array(chunk) for t in tables for chunk in t.column("inputs").chunks]
            stored = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
            with warnings.catch_warnings():  # only read: Arrow's buffer is not writable
                warnings.simplefilter("ignore", UserWarning)
                block = torch.from_numpy(stored)
            torch.index_select(block, 0, permutation, out=inputs)
        columns = {}
        for name in (*_TARGET_COLUMNS, *_INT64_COLUMNS, "row_id"):
            array = columns_numpy([t.column(name) for t in tables])[order]
            if name in _INT64_COLUMNS:
                array = array.astype(np.int64)
            columns[name] = torch.from_numpy(array)
        codes = columns["status"].numpy().reshape(-1)  # numpy: torch's int8 min/max is 30x slower
        if codes.size and bad_status_codes(codes).size:
            raise IntegrityError(
                f"{self.directory}: a shard holds status codes outside 0..{len(STATUS_LABELS) - 1}"
            )
        label_rows = None
        if balance:
            label_rows = {
                label: torch.from_numpy(np.flatnonzero(codes == label))
                for label in range(len(STATUS_LABELS))
            }
        return Window(inputs, columns, label_rows)

    def _batch(self, plan: EpochPlan, segments: list[Segment]) -> Batch:
        parts = [self._rows(plan, segment) for segment in segments]
        inputs = _join([p[0] for p in parts])
        columns = {name: _join([p[1][name] for p in parts]) for name in parts[0][1]}
        targets = SemanticTargets(
            Y_n=columns["Y_n"],
            Y_d=columns["Y_d"],
            mask_finite=columns["mask_finite"],
            mask_bottom=columns["mask_bottom"],
            orientation_label=columns["orientation_label"],
            bottom_kind=columns["bottom_kind"],
        )
        return Batch(inputs, columns["values"], columns["status"], targets, columns["row_id"])

    def _rows(
        self, plan: EpochPlan, segment: Segment
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        window = self._window(plan, segment.window)
        if segment.label is None:
            pick: slice | torch.Tensor = slice(segment.lo, segment.hi)
        else:
            assert window.label_rows is not None
            pick = window.label_rows[segment.label][segment.lo : segment.hi]
        return window.inputs[pick], {name: column[pick] for name, column in window.columns.items()}


def _join(parts: list[torch.Tensor]) -> torch.Tensor:
    return parts[0] if len(parts) == 1 else torch.cat(parts)
