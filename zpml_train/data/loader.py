"""A typed, verified, resumable DataLoader over a zpml shard directory.

``ShardDataset`` is an ``IterableDataset`` of whole :class:`~zpml_train.data.batch.Batch`
objects. ``make_loader`` wraps it in a ``torch.utils.data.DataLoader`` whose
workers each build runs of consecutive batches (so no two workers read the
same window), and hands the batches on in one fixed order: the same seed and
epoch give the same batches whatever ``num_workers`` is. Which rows a batch
holds is decided in :mod:`zpml_train.data._plan`; reading in :mod:`zpml_train.data._window`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from zpml_data.errors import ConfigError
from zpml_data.shards.manifest import Manifest, read_manifest
from zpml_data.validate import require_choice, require_int, require_positive_int, require_seed
from zpml_train.data._plan import EpochPlan, Layout, PlanOptions
from zpml_train.data._window import WindowReader, check_shards
from zpml_train.data.batch import Batch

STATE_VERSION = 2
_BALANCE = (None, "status")


def _rank_and_world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """Rank and world size as given, else from ``torch.distributed``, else 0 and 1."""
    initialised = torch.distributed.is_available() and torch.distributed.is_initialized()
    if world_size is None:
        world_size = torch.distributed.get_world_size() if initialised else 1
    if rank is None:
        rank = torch.distributed.get_rank() if initialised else 0
    world_size = require_positive_int("world_size", world_size)
    return require_int("rank", rank, minimum=0, maximum=world_size - 1), world_size


class ShardDataset(IterableDataset[Batch]):
    """Batches of a shard directory, each row exactly once per epoch across ranks and workers.

    Args:
        shard_dir: A directory written by ``zpml shard`` (holding ``manifest.json``).
        batch_size: Rows per batch.
        shuffle: Shuffle shard order, row-group order and rows within a window.
        seed: Seeds the shuffle; combined with the epoch (see :meth:`set_epoch`).
        drop_last: Drop the rows that do not fill a batch on every rank.
        rank: This process's rank; default ``torch.distributed``'s, else 0.
        world_size: Number of ranks; default ``torch.distributed``'s, else 1.
        verify: Check every shard's size and sha256 against the manifest once
            per process, before the first batch.
        balance: ``"status"`` composes batches so each label's share follows
            its share of the dataset (single-target shards only).
        window: Row groups per shuffle window: rows are shuffled within it,
            and memory is bounded by it.

    Raises:
        SourceError: ``shard_dir`` does not exist.
        IntegrityError: No manifest, an unknown version, or shards that are
            missing or changed.
        ConfigError: A setting out of range.
    """

    def __init__(
        self,
        shard_dir: str | Path,
        *,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        verify: bool = True,
        balance: Literal["status"] | None = None,
        window: int = 4,
    ) -> None:
        rank, world_size = _rank_and_world(rank, world_size)
        self.directory = Path(shard_dir).absolute()
        self.manifest: Manifest = read_manifest(self.directory)
        if require_choice("balance", balance, _BALANCE) and len(self.manifest.targets) > 1:
            raise ConfigError(
                f"balance='status' needs single-target shards; {self.directory} has "
                f"{len(self.manifest.targets)} targets: use balance=None"
            )
        self.options = PlanOptions(
            batch_size=require_positive_int("batch_size", batch_size),
            shuffle=bool(shuffle),
            seed=require_seed("seed", seed),
            drop_last=bool(drop_last),
            window=require_positive_int("window", window),
            balance=balance is not None,
            rank=rank,
            world_size=world_size,
        )
        self.layout = Layout.of(self.manifest)
        check_shards(self.directory, self.manifest, hash_files=verify)
        self._reader = WindowReader(self.directory, self.manifest, verified=verify)
        self.epoch = 0
        self.position = 0  # batches of this epoch already handed out on this rank
        # Set by load_state_dict: the next iteration continues at `position`
        # instead of starting the epoch over.
        self.resume_pending = False

    def plan(self) -> EpochPlan:
        """The plan of the current epoch on this rank."""
        return EpochPlan(self.layout, self.options, self.epoch)

    def __len__(self) -> int:
        """Batches per epoch on this rank (equal on every rank)."""
        return self.plan().batches_per_rank

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (it reseeds the shuffle); a new epoch starts at its first batch."""
        epoch = require_int("epoch", epoch, minimum=0)
        if epoch != self.epoch:
            self.epoch, self.position, self.resume_pending = epoch, 0, False

    def __iter__(self) -> Iterator[Batch]:
        """This rank's batches from the current position; in a worker, that worker's runs."""
        for run in self.runs():
            yield from run

    def close(self) -> None:
        """Stop this process's reader threads; iterating again restarts them."""
        self._reader.close()

    def runs(self) -> Iterator[list[Batch]]:
        """Runs of consecutive batches; DataLoader worker ``i`` of ``n`` makes runs i, i+n, ..."""
        plan = self.plan()
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        per_run = self._run_length(plan)
        starts = range(self.position, plan.batches_per_rank, per_run)
        for start in starts[worker::workers]:
            ks = range(start, min(start + per_run, plan.batches_per_rank))
            yield list(self._reader.batches(plan, ks))

    def _run_length(self, plan: EpochPlan) -> int:
        """Batches per run: about two windows of rows, so runs rarely share a window."""
        largest = int(self.layout.rows.max()) if len(self.layout.rows) else 1
        return max(1, math.ceil(2 * self.options.window * largest / self.options.batch_size))

    def state_dict(self) -> dict[str, Any]:
        """Where this rank is: epoch, batches handed out, and the settings and data that fix
        the order."""
        return {
            "version": STATE_VERSION,
            "epoch": self.epoch,
            "position": self.position,
            "options": dataclasses.asdict(self.options),
            "rows": self.manifest.rows,
            "shards": shards_digest(self.manifest),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``: the next batch is the one after the last handed out.

        Raises:
            ConfigError: The state is from another version, other settings or
                other shards (named), or its position lies beyond its epoch.
        """
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ConfigError(f"loader state: unknown version; expected {STATE_VERSION}")
        mine, theirs = dataclasses.asdict(self.options), state.get("options")
        theirs = theirs if isinstance(theirs, dict) else {}
        differ = [
            f"{k} {theirs.get(k)!r} (here {v!r})" for k, v in mine.items() if theirs.get(k) != v
        ]
        if differ:
            raise ConfigError(
                f"loader state was saved with other settings or data: {', '.join(differ)}; "
                "resume with the settings it was saved with"
            )
        if state.get("rows") != self.manifest.rows or state.get("shards") != shards_digest(
            self.manifest
        ):
            raise ConfigError(
                f"loader state was saved with other settings or data: other shards "
                f"({state.get('rows')!r} rows, shards {str(state.get('shards'))[:12]!r}) than "
                f"{str(self.directory)!r} ({self.manifest.rows} rows, shards "
                f"{shards_digest(self.manifest)[:12]!r}); resume on the shards it was saved with"
            )
        epoch = require_int("loader state epoch", state.get("epoch"), minimum=0)
        batches = EpochPlan(self.layout, self.options, epoch).batches_per_rank
        self.position = require_int(
            f"loader state position (epoch {epoch} has {batches} batches)",
            state.get("position"),
            minimum=0,
            maximum=batches,
        )
        self.epoch = epoch
        self.resume_pending = True


def shards_digest(manifest: Manifest) -> str:
    """The sha256 of a manifest's shard list (names, rows, sha256): which rows a state counts."""
    entries = [[shard.file, shard.rows, shard.sha256] for shard in manifest.shards]
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()


def _as_is(run: list[Batch]) -> list[Batch]:
    """A run as the dataset made it (a module-level function: worker processes pickle it)."""
    return run


class _Runs(IterableDataset[list[Batch]]):
    """The runs of a ShardDataset, so a DataLoader moves whole runs between processes."""

    def __init__(self, dataset: ShardDataset) -> None:
        self.dataset = dataset

    def __iter__(self) -> Iterator[list[Batch]]:
        return self.dataset.runs()


class ShardLoader:
    """Iterates a ShardDataset through a DataLoader, in one order whatever ``num_workers`` is."""

    def __init__(self, dataset: ShardDataset, *, num_workers: int, pin_memory: bool) -> None:
        self.dataset = dataset
        self.num_workers = require_int("num_workers", num_workers, minimum=0, maximum=1024)
        self.pin_memory = bool(pin_memory)

    @property
    def manifest(self) -> Manifest:
        """The verified manifest; ``manifest.status_counts`` holds the label totals."""
        return self.dataset.manifest

    def __len__(self) -> int:
        """Batches per epoch on this rank."""
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """See :meth:`ShardDataset.set_epoch`."""
        self.dataset.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        """See :meth:`ShardDataset.state_dict`."""
        return self.dataset.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """See :meth:`ShardDataset.load_state_dict`."""
        self.dataset.load_state_dict(state)

    def __iter__(self) -> Iterator[Batch]:
        """The epoch's batches, from a loaded state's position or else the first.

        A pass broken off early (a peek at one batch) does not shorten the next
        one; a complete pass selects the next epoch.
        """
        if not self.dataset.resume_pending:
            self.dataset.position = 0
        self.dataset.resume_pending = False
        if self.num_workers:
            self.dataset.close()  # no reader threads in this process while workers fork
        loader = DataLoader(
            _Runs(self.dataset),
            batch_size=None,
            # Runs are lists of Batch already: DataLoader's default_convert would walk
            # every tensor of every batch for nothing (4% of an epoch in one process).
            collate_fn=_as_is,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
        )
        for run in loader:
            for batch in run:
                self.dataset.position += 1
                yield batch
        if self.dataset.position >= len(self.dataset):
            self.dataset.epoch, self.dataset.position = self.dataset.epoch + 1, 0


def make_loader(
    shard_dir: str | Path,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    num_workers: int = 0,
    rank: int | None = None,
    world_size: int | None = None,
    drop_last: bool = False,
    verify: bool = True,
    balance: Literal["status"] | None = None,
    pin_memory: bool = False,
    window: int = 4,
) -> ShardLoader:
    """A loader of typed batches over a shard directory.

    Args are those of :class:`ShardDataset`, plus ``num_workers`` (DataLoader
    worker processes) and ``pin_memory`` (page-locked batches for fast
    ``batch.to("cuda", non_blocking=True)``).

    Returns:
        An iterable of :class:`~zpml_train.data.batch.Batch` with ``len()``,
        ``set_epoch``, ``state_dict``, ``load_state_dict`` and ``manifest``.

    Raises:
        UsageError: A bad setting (ConfigError) or directory (SourceError).
        IntegrityError: The manifest or a shard fails its checks.
    """
    dataset = ShardDataset(
        shard_dir,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
        rank=rank,
        world_size=world_size,
        verify=verify,
        balance=balance,
        window=window,
    )
    return ShardLoader(dataset, num_workers=num_workers, pin_memory=pin_memory)
