"""The row rules as pandera checks, and the one function that checks a batch.

Importing this module registers the checks with pandera. The built-in schema
(``schemas/status-target.yaml``) validates a frame whose target columns are
named ``value`` and ``status`` and whose other columns are the inputs; users
can name the same checks in their own schemas. Each rule is one formula
(:class:`Rows`) over what it reads of the rows, so :func:`check_batch` runs
the built-in schema's rules on a record batch without the pandas frame and
pandera's per-failure report, and gets the rows pandera would fail (a
property test holds them equal). The audit and the shard writer both check
batches with :func:`check_batch`, so a row the audit passes is a row the
writer accepts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc
from pandera.extensions import register_check_method
from pandera.io.pandas_io import deserialize_schema

from zpml_data.checks.levels import Level
from zpml_data.encode import plain_column, status_codes_lenient
from zpml_data.errors import UsageError
from zpml_data.io.sources import SourceBatch
from zpml_data.io.untrusted import parse_untrusted
from zpml_data.spec import LegacyTarget, ResolvedSpec, ResolvedTarget
from zpml_data.status import BOTTOM_STATUSES, LABEL_TO_CODE, STATUS_LABELS, Status

VALUE, STATUS = "value", "status"

# Stable check names, in report order, with their levels.
CHECK_LEVELS: dict[str, Level] = {
    "status_present": Level.ERROR,
    "status_known": Level.ERROR,
    "finite_value": Level.ERROR,
    "input_finite": Level.WARNING,
    "legacy_sentinel": Level.WARNING,
    "censored_bound_present": Level.WARNING,
    "finite_beyond_limit": Level.WARNING,
    "heaping_at_limit": Level.WARNING,
    "sentinel_number": Level.WARNING,
    "status_skew_by_group": Level.WARNING,
    "input_leak": Level.WARNING,
}
# Where a level differs when shards are written: a trainable row whose input
# is not finite in float32 would turn every weight NaN, so it is not written.
SHARD_LEVELS: dict[str, Level] = CHECK_LEVELS | {"input_finite": Level.ERROR}
# The checks of a target without a status column (its labels are what the
# default sentinel policy would give, so it has no censoring bounds).
LEGACY_CHECKS = ("legacy_sentinel", "sentinel_number", "status_skew_by_group", "input_leak")


def checks_of(legacy: bool) -> list[str]:
    """The names of the checks a labelled (or legacy) target is audited with, in report order."""
    if legacy:
        return [name for name in CHECK_LEVELS if name in LEGACY_CHECKS]
    return [name for name in CHECK_LEVELS if name != "legacy_sentinel"]


_TRAINABLE = [Status.FINITE.label] + [s.label for s in sorted(BOTTOM_STATUSES)]
_CENSORED = [Status.CENSORED_BELOW.label, Status.CENSORED_ABOVE.label]


def status_is(status: pd.Series, labels: list[str]) -> pd.Series:
    """Vectorised membership of a status column (labels or integer codes) in ``labels``."""
    # Integer codes; codes with nulls reach pandas as floats (0.0 is the code 0, not a label).
    if status.dtype.kind in "iuf":
        return status.isin([STATUS_LABELS.index(label) for label in labels])
    return status.isin(labels)


def finite_in_float32(values: pd.Series | pd.DataFrame | np.ndarray) -> np.ndarray:
    """Where values are finite once stored as float32, as shards store them.

    A value beyond float32's range (``1e39``) is finite in float64 but becomes
    ``inf`` in a shard, so it is not finite here.
    """
    if isinstance(values, np.ndarray):
        array = values
    else:
        array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    if array.dtype == np.float32:
        return np.isfinite(array)
    with np.errstate(over="ignore"):
        return np.isfinite(array.astype(np.float32))


class Rows:
    """What the built-in rules read of one target's rows, and the rules themselves.

    Each rule is a method giving a bool per row (True: the row passes), so
    one formula serves both callers: the pandera checks registered below
    (the rows of a pandas frame, for the built-in schema and users' schemas)
    and :func:`check_batch`, which reads a record batch's status codes once
    and skips pandera's per-failure report (most of an audit's time when
    every batch has a failing row).
    """

    def __init__(
        self,
        status_in: Callable[[list[str]], np.ndarray],
        status_null: np.ndarray,
        values: np.ndarray | None = None,
        inputs_finite: Callable[[], np.ndarray] | None = None,
    ) -> None:
        """
        Args:
            status_in: Per row, whether its status is one of the given labels.
            status_null: Per row, whether its status is null.
            values: The value per row as floats (None: the rules of the status only).
            inputs_finite: Per row, whether every input is finite in float32
                (a function: only ``input_finite`` pays for it).
        """
        self.status_in, self.status_null = status_in, status_null
        self.values, self._inputs_finite = values, inputs_finite

    @classmethod
    def of_frame(cls, status: pd.Series, frame: pd.DataFrame | None = None) -> Rows:
        """The rows of a status column, and of the built-in schema's frame if given."""

        def status_in(labels: list[str]) -> np.ndarray:
            return np.asarray(status_is(status, labels))

        if frame is None:
            return cls(status_in, status.isna().to_numpy())

        def inputs_finite() -> np.ndarray:
            inputs = frame.drop(columns=[VALUE, STATUS])
            if inputs.shape[1] == 0:
                return np.ones(len(frame), dtype=bool)
            return np.asarray(finite_in_float32(inputs).all(axis=1))

        values = frame[VALUE].to_numpy(dtype=np.float64, na_value=np.nan)
        return cls(status_in, status.isna().to_numpy(), values, inputs_finite)

    @classmethod
    def of_batch(
        cls, batch: pa_arrow.RecordBatch, target: ResolvedTarget, inputs: Sequence[str]
    ) -> Rows:
        """The rows of one target of a record batch: its status decoded to codes once."""
        values = float_column(batch.column(target.value))
        if isinstance(target, LegacyTarget):
            return cls.unlabelled(values)
        status = plain_column(batch.column(target.status))
        codes = status_codes_lenient(status)

        def status_in(labels: list[str]) -> np.ndarray:
            lookup = np.zeros(len(STATUS_LABELS) + 1, dtype=bool)  # the last slot: code -1
            lookup[[LABEL_TO_CODE[label] for label in labels]] = True
            return lookup[codes]

        def inputs_finite() -> np.ndarray:
            finite = np.ones(batch.num_rows, dtype=bool)
            for name in inputs:
                column = batch.column(name)
                # Every integer fits float32's range (int64's largest is 9.2e18): only nulls fail.
                if not (pa_arrow.types.is_integer(column.type) and column.null_count == 0):
                    finite &= finite_in_float32(float_column(column))
            return finite

        null = pc.is_null(status, nan_is_null=True).to_numpy(zero_copy_only=False)
        return cls(status_in, null, values, inputs_finite)

    @classmethod
    def unlabelled(cls, values: np.ndarray) -> Rows:
        """The rows of a value column without a status column (a legacy target)."""
        nowhere = np.zeros(len(values), dtype=bool)
        return cls(lambda labels: nowhere, nowhere, values)

    def status_present(self) -> np.ndarray:
        """The status is not null."""
        return ~self.status_null

    def status_known(self) -> np.ndarray:
        """The status is one of the seven labels (or codes 0..6)."""
        return self.status_in(list(STATUS_LABELS)) | self.status_null

    def finite_value(self) -> np.ndarray:
        """A ``finite`` row has a finite value, within float32's range."""
        assert self.values is not None
        return ~self.status_in([Status.FINITE.label]) | finite_in_float32(self.values)

    def censored_bound_present(self) -> np.ndarray:
        """A censored row carries the bound it was censored at as a finite (float32) value."""
        assert self.values is not None
        return ~self.status_in(_CENSORED) | finite_in_float32(self.values)

    def input_finite(self) -> np.ndarray:
        """A trainable (finite or bottom) row has finite float32 inputs in every other column."""
        assert self._inputs_finite is not None
        return ~self.status_in(_TRAINABLE) | self._inputs_finite()

    def legacy_sentinel(self) -> np.ndarray:
        """Without a status column, a NaN or ±inf value is a legacy sentinel nobody explained."""
        assert self.values is not None
        return np.isfinite(self.values)


def float_column(column: pa_arrow.Array) -> np.ndarray:
    """A numeric Arrow column as a numpy float array (float32 kept; nulls read as NaN)."""
    if not pa_arrow.types.is_float32(column.type):
        column = column.cast(pa_arrow.float64(), safe=False)
    return column.to_numpy(zero_copy_only=False)


@register_check_method(check_type="vectorized")
def status_present(status: pd.Series) -> pd.Series:
    """The status is not null."""
    return pd.Series(Rows.of_frame(status).status_present(), index=status.index)


@register_check_method(check_type="vectorized")
def status_known(status: pd.Series) -> pd.Series:
    """The status is one of the seven labels (or codes 0..6)."""
    return pd.Series(Rows.of_frame(status).status_known(), index=status.index)


@register_check_method(check_type="vectorized", supported_types=pd.DataFrame)
def finite_value(frame: pd.DataFrame) -> pd.Series:
    """A ``finite`` row has a finite value, within float32's range."""
    return pd.Series(Rows.of_frame(frame[STATUS], frame).finite_value(), index=frame.index)


@register_check_method(check_type="vectorized", supported_types=pd.DataFrame)
def censored_bound_present(frame: pd.DataFrame) -> pd.Series:
    """A censored row carries the bound it was censored at as a finite (float32) value."""
    rows = Rows.of_frame(frame[STATUS], frame)
    return pd.Series(rows.censored_bound_present(), index=frame.index)


@register_check_method(check_type="vectorized", supported_types=pd.DataFrame)
def input_finite(frame: pd.DataFrame) -> pd.Series:
    """A trainable (finite or bottom) row has finite float32 inputs in every other column."""
    return pd.Series(Rows.of_frame(frame[STATUS], frame).input_finite(), index=frame.index)


@register_check_method(check_type="vectorized")
def legacy_sentinel(value: pd.Series) -> pd.Series:
    """Without a status column, a NaN or ±inf value is a legacy sentinel nobody explained."""
    rows = Rows.unlabelled(value.to_numpy(dtype=np.float64, na_value=np.nan))
    return pd.Series(rows.legacy_sentinel(), index=value.index)


def failed_rows(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Validate lazily with pandera; return each failed check's failing row labels, by name."""
    try:
        schema.validate(frame, lazy=True, inplace=True)
    except pandera.errors.SchemaErrors as errors:
        failed = {}
        for name, group in errors.failure_cases.groupby("check", sort=False):
            index = group["index"]
            # No row index: the check failed for the column as a whole (a dtype, a
            # missing column, a check that raised), so every row of the batch fails it.
            rows = frame.index.to_numpy() if index.isna().any() else index.to_numpy(np.int64)
            failed[str(name)] = np.unique(rows)
        return failed
    return {}


def rule_names(legacy: bool) -> list[str]:
    """The rules the built-in schema runs on a labelled (or legacy) target, in its order."""
    schema = builtin_schema(with_status=not legacy)
    column = schema.columns[VALUE if legacy else STATUS]
    return [str(check.name) for check in [*column.checks, *schema.checks]]


def check_target(
    batch: pa_arrow.RecordBatch, target: ResolvedTarget, inputs: Sequence[str]
) -> dict[str, np.ndarray]:
    """The built-in rules on one target of a batch: failing row positions per rule name.

    The rules of the built-in schema (``status-target.yaml``, or
    ``legacy-target.yaml`` for a target without a status column), each the
    same :class:`Rows` formula the registered pandera check computes, over
    the status codes decoded once; so no user column name (an input called
    ``value``, a target also listed as an input) can collide with the
    schema's own names.
    """
    rows = Rows.of_batch(batch, target, inputs)
    failed = {}
    for name in rule_names(isinstance(target, LegacyTarget)):
        bad = np.flatnonzero(~getattr(rows, name)())
        if bad.size:
            failed[name] = bad
    return failed


class Failure(NamedTuple):
    """The rows of a batch that failed one check."""

    check: str
    level: Level
    target: ResolvedTarget | None  # None: a check of the user's schema, over the whole frame
    rows: np.ndarray  # row labels: data row numbers within the batch's file


def check_batch(
    part: SourceBatch, spec: ResolvedSpec, user_schema: pa.DataFrameSchema | None
) -> list[Failure]:
    """Check one batch: the built-in rules per target, then the user's schema (error level).

    Args:
        part: The batch and where it came from.
        spec: The resolved spec (its targets and inputs).
        user_schema: The user's pandera schema (see :func:`load_user_schema`), if any.

    Returns:
        One :class:`Failure` per failed check (and target).
    """
    failures = [
        Failure(name, CHECK_LEVELS[name], target, rows + part.first_row)
        for target in spec.targets
        for name, rows in check_target(part.batch, target, spec.numeric_inputs).items()
    ]
    if user_schema is not None:
        frame = part.batch.to_pandas()
        frame.index = pd.RangeIndex(part.first_row, part.first_row + len(frame))
        failures += [
            Failure(name, Level.ERROR, None, rows)
            for name, rows in failed_rows(user_schema, frame).items()
        ]
    return failures


def columns_to_check(
    spec: ResolvedSpec, user_schema: pa.DataFrameSchema | None, available: Sequence[str]
) -> list[str]:
    """The spec's columns and those the user's schema names that the source has.

    The user's schema may name columns the source lacks: pandera reports those.
    """
    named = [] if user_schema is None else [str(name) for name in user_schema.columns]
    return [c for c in dict.fromkeys([*spec.columns, *named]) if c in available]


def load_user_schema(path: str | Path | None) -> pa.DataFrameSchema | None:
    """Load a user's pandera YAML schema (validated beside the built-in rules).

    Raises:
        SourceError: The file cannot be opened.
        UsageError: The file exceeds the limits of :mod:`zpml_data.io.untrusted`
            or is not a pandera schema.
    """
    if path is None:
        return None
    data = parse_untrusted(path, "schema file", UsageError, fmt="yaml")
    if not isinstance(data, dict):
        raise UsageError(f"schema file {str(path)!r} is not a pandera YAML schema (a mapping)")
    try:
        return deserialize_schema(data)
    except Exception as error:  # pandera raises many kinds for a malformed schema
        detail = " ".join(str(error).split())
        raise UsageError(
            f"schema file {str(path)!r} is not a pandera YAML schema: {detail}"
        ) from None


def _schema_file(name: str) -> Any:
    return resources.files("zpml_data").joinpath("schemas", name)


@functools.cache
def builtin_schema(with_status: bool = True) -> pa.DataFrameSchema:
    """The built-in pandera schema: ``status-target.yaml``, or ``legacy-target.yaml``
    for a value column with no status column."""
    name = "status-target.yaml" if with_status else "legacy-target.yaml"
    return pa.DataFrameSchema.from_yaml(_schema_file(name).read_text())
