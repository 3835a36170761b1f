"""Train/validation splits at shard time: which rows go to validation, decided by a hash.

A row's split depends only on the seed and on its row id (its position in the
source) or, with ``by``, on the value of its group column: the same source
and seed give the same split on any engine, batch size or partitioning, and
every row of a group lands in the same split. Vectorised: row ids are mixed
with splitmix64 in numpy; group values are hashed by pandas' siphash over
the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from zpml_data.errors import ConfigError, DataError, UsageError
from zpml_data.validate import require_seed

if TYPE_CHECKING:
    from zpml_data.io.sources import Source
    from zpml_data.spec import ResolvedSpec

TRAIN, VAL = "train", "val"
SPLIT_NAMES = (TRAIN, VAL)


@dataclass(frozen=True)
class Split:
    """A train/validation split.

    Attributes:
        fraction: The share of rows (or groups) that go to validation, in (0, 1).
        seed: Seeds the hash (0 to ``MAX_SEED``).
        by: A column whose groups stay whole (each group in one split), or
            ``None`` to split row by row.
    """

    fraction: float
    seed: int = 0
    by: str | None = None

    def __post_init__(self) -> None:
        fraction = self.fraction
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, int | float)
            or not 0 < fraction < 1
        ):
            raise ConfigError(
                f"split fraction must be between 0 and 1 (exclusive), got {fraction!r}: "
                "for example --split val=0.2"
            )
        require_seed("split seed", self.seed)
        if self.by is not None and (not isinstance(self.by, str) or not self.by):
            raise ConfigError(f"split column must be a column name, got {self.by!r}")

    def to_dict(self, name: str) -> dict[str, Any]:
        """What a split set's manifest records about the split it belongs to."""
        return {"name": name, "fraction": self.fraction, "seed": self.seed, "by": self.by}


def check_split_column(split: Split, schema: pa.Schema, where: str) -> None:
    """Refuse a ``by`` column the source lacks, or one that holds lists or structs.

    Raises:
        UsageError: Naming the column and the columns there are.
    """
    if split.by is None:
        return
    if split.by not in schema.names:
        raise UsageError(
            f"{where}: no column {split.by!r} to split by; the columns are "
            f"{', '.join(map(repr, schema.names))}"
        )
    kind = schema.field(split.by).type
    if pa.types.is_nested(kind):
        raise UsageError(
            f"{where}: split column {split.by!r} holds {kind}; --split-by needs a column "
            "of single values (text, numbers, dates)"
        )


def check_split(split: Split, source: Source, spec: ResolvedSpec, where: str) -> None:
    """Refuse a split that cannot be written as asked, before anything is written.

    Args:
        split: The split.
        source: The opened source.
        spec: The spec resolved against the source.
        where: The source's name, for messages.

    Raises:
        UsageError: A ``by`` column the source lacks, one of lists or structs,
            or a target's own value or status column.
        DataError: Every row (or group) of a source with rows hashes into
            validation, so the training set would be empty.
    """
    check_split_column(split, source.schema, where)
    for target in spec.targets:
        roles = dict(zip(("value", "status"), target.columns, strict=False))
        role = next((role for role, column in roles.items() if column == split.by), None)
        if role is not None:
            raise UsageError(
                f"{where}: cannot split by {split.by!r}, the {role} column of target "
                f"{target.value!r}; split by a column that groups rows (a site, a batch, "
                "a subject), not by what is predicted"
            )
    _refuse_empty_train(split, source, where)


def _refuse_empty_train(split: Split, source: Source, where: str) -> None:
    """Refuse a split whose training set would be empty, reading only the ``by`` column.

    A row's split depends on its row id or its group's value alone, so this
    reading agrees with the writer's; it stops at the first row bound for
    training, in the first batch but for a source of very few rows or groups.
    """
    column = split.by or source.schema.names[0]
    rows = 0
    groups: list[pa.Array] = []
    for part in source.batches([column]):
        size = part.batch.num_rows
        if not in_validation(part.batch, np.arange(rows, rows + size), split).all():
            return
        if split.by is not None:
            values = part.batch.column(0)
            if pa.types.is_dictionary(values.type):
                values = values.cast(values.type.value_type)
            groups.append(values.unique())
        rows += size
    if not rows:
        return
    if split.by is None:
        what = f"all {rows:,} rows"
    else:
        count = len(pa.concat_arrays(groups).unique())
        what = f"all {rows:,} rows, in {count:,} group(s) of {split.by!r},"
    raise DataError(
        f"{where}: the train split would be empty: {what} hash into val at fraction "
        f"{split.fraction:g} with seed {split.seed}; try another --split-seed or a smaller "
        "fraction" + (", or split by a column of more groups" if split.by else "")
    )


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
# The hash of a null group: what pandas gives a missing text value, so text splits keep theirs.
_NULL_HASH = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-spread 64-bit hash of 64-bit integers."""
    with np.errstate(over="ignore"):
        x = x.astype(np.uint64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def in_validation(batch: pa.RecordBatch, row_ids: np.ndarray, split: Split) -> np.ndarray:
    """Per row of the batch, whether it goes to validation (a bool array).

    Args:
        batch: The rows (it must hold the ``by`` column, if any).
        row_ids: Each row's position in the whole source.
        split: The split.
    """
    with np.errstate(over="ignore"):
        salt = _mix(np.array([split.seed], np.uint64) + _GOLDEN)[0]
        if split.by is None:
            keys = row_ids.astype(np.uint64)
        else:
            keys = _group_hash(batch.column(split.by))
        hashed = _mix(keys ^ salt)
    unit = (hashed >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return unit < split.fraction


def _group_hash(column: pa.Array) -> np.ndarray:
    """A 64-bit hash of each value (nulls hash alike), the same in every batch and process.

    A value's hash depends on the value alone: nulls are set aside before the
    values are converted, since numpy would turn the integers of a batch that
    holds a null into floats, which hash otherwise.
    """
    import pandas as pd

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    values = column.drop_null().to_numpy(zero_copy_only=False)
    if values.dtype.kind in "mM":
        values = values.view(np.int64)
    hashed = np.asarray(pd.util.hash_array(values, categorize=True), dtype=np.uint64)
    if not column.null_count:
        return hashed
    out = np.full(len(column), _NULL_HASH, np.uint64)
    out[column.is_valid().to_numpy(zero_copy_only=False)] = hashed
    return out


def split_dirs(path: str | Path) -> dict[str, Path] | None:
    """The split sets of a directory written with a split, or ``None`` for a plain shard set.

    A split directory holds ``train/`` and ``val/``, each a shard set whose
    manifest records the split; ``zpml train DIR`` trains on the first and
    validates on the second.

    Returns:
        ``{"train": DIR/train, "val": DIR/val}``, or ``None`` when ``path``
        is not a split directory.
    """
    root = Path(path)
    found = {name: root / name for name in SPLIT_NAMES}
    if all((d / "manifest.json").is_file() for d in found.values()):
        return found
    return None


__all__ = [
    "SPLIT_NAMES",
    "Split",
    "check_split",
    "check_split_column",
    "in_validation",
    "split_dirs",
]
