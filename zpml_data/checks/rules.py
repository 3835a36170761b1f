"""The semantic rules as pandera checks, and the one function that checks a batch.

Importing this module registers the checks with pandera. The built-in schema
(``schemas/status-target.yaml``) validates a frame whose target columns are
named ``value`` and ``status`` and whose other columns are the inputs; each
target's columns are renamed to those names before validating. The audit and
the shard writer both check batches with :func:`check_batch`, so a row the
audit passes is a row the writer accepts.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa
from pandera.extensions import register_check_method
from pandera.io.pandas_io import deserialize_schema

from zpml_data.checks.levels import Level
from zpml_data.errors import UsageError
from zpml_data.io.sources import SourceBatch
from zpml_data.io.untrusted import parse_untrusted
from zpml_data.spec import LegacyTarget, ResolvedSpec, ResolvedTarget
from zpml_data.status import BOTTOM_STATUSES, STATUS_LABELS, Status

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


def status_is(status: pd.Series, labels: list[str]) -> pd.Series:
    """Vectorised membership of a status column (labels or integer codes) in ``labels``."""
    # Integer codes; codes with nulls reach pandas as floats (0.0 is the code 0, not a label).
    if status.dtype.kind in "iuf":
        return status.isin([STATUS_LABELS.index(label) for label in labels])
    return status.isin(labels)


@register_check_method(check_type="vectorized")
def status_present(status: pd.Series) -> pd.Series:
    """The status is not null."""
    return status.notna()


@register_check_method(check_type="vectorized")
def status_known(status: pd.Series) -> pd.Series:
    """The status is one of the seven labels (or codes 0..6)."""
    return status_is(status, list(STATUS_LABELS)) | status.isna()


def finite_in_float32(values: pd.Series | pd.DataFrame) -> np.ndarray:
    """Where values are finite once stored as float32, as shards store them.

    A value beyond float32's range (``1e39``) is finite in float64 but becomes
    ``inf`` in a shard, so it is not finite here.
    """
    array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(over="ignore"):
        return np.isfinite(array.astype(np.float32))


@register_check_method(check_type="vectorized", supported_types=pd.DataFrame)
def finite_value(frame: pd.DataFrame) -> pd.Series:
    """A ``finite`` row has a finite value, within float32's range."""
    finite = status_is(frame[STATUS], [Status.FINITE.label])
    return ~finite | finite_in_float32(frame[VALUE])


@register_check_method(check_type="vectorized", supported_types=pd.DataFrame)
def censored_bound_present(frame: pd.DataFrame) -> pd.Series:
    """A censored row carries the bound it was censored at as a finite (float32) value."""
    censored = status_is(frame[STATUS], [Status.CENSORED_BELOW.label, Status.CENSORED_ABOVE.label])
    return ~censored | finite_in_float32(frame[VALUE])


@register_check_method(check_type="vectorized", supported_types=pd.DataFrame)
def input_finite(frame: pd.DataFrame) -> pd.Series:
    """A trainable (finite or bottom) row has finite float32 inputs in every other column."""
    inputs = frame.drop(columns=[VALUE, STATUS])
    if inputs.shape[1] == 0:
        return pd.Series(True, index=frame.index)
    return ~status_is(frame[STATUS], _TRAINABLE) | finite_in_float32(inputs).all(axis=1)


@register_check_method(check_type="vectorized")
def legacy_sentinel(value: pd.Series) -> pd.Series:
    """Without a status column, a NaN or ±inf value is a legacy sentinel nobody explained."""
    return pd.Series(
        np.isfinite(value.to_numpy(dtype=np.float64, na_value=np.nan)), index=value.index
    )


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


def check_target(
    frame: pd.DataFrame, target: ResolvedTarget, inputs: Sequence[str]
) -> dict[str, np.ndarray]:
    """Run the built-in checks on one target of ``frame``; failing row labels per check name.

    The built-in schema sees a fresh frame of the target's columns named
    ``value``/``status`` and the inputs named by position, so no user column
    name (an input called ``value``, a target also listed as an input) can
    collide with them; a legacy target gets the legacy schema.
    """

    def column(name: str) -> pd.Series:
        return frame.iloc[:, frame.columns.get_loc(name)]

    if isinstance(target, LegacyTarget):
        checked = pd.DataFrame({VALUE: column(target.value)}, index=frame.index)
        return failed_rows(builtin_schema(with_status=False), checked)
    columns = {VALUE: column(target.value), STATUS: column(target.status)}
    columns |= {f"input {i}": column(name) for i, name in enumerate(inputs)}
    return failed_rows(builtin_schema(with_status=True), pd.DataFrame(columns, index=frame.index))


class Failure(NamedTuple):
    """The rows of a batch that failed one check."""

    check: str
    level: Level
    target: ResolvedTarget | None  # None: a check of the user's schema, over the whole frame
    rows: np.ndarray  # row labels: data row numbers within the batch's file


@dataclass(frozen=True)
class CheckedBatch:
    """A record batch as a pandas frame, with every check it failed.

    Attributes:
        frame: The batch, indexed by data row number within its file.
        failures: One entry per failed check (and target).
    """

    frame: pd.DataFrame
    failures: list[Failure]


def check_batch(
    part: SourceBatch, spec: ResolvedSpec, user_schema: pa.DataFrameSchema | None
) -> CheckedBatch:
    """Check one batch: the built-in rules per target, then the user's schema (error level).

    Args:
        part: The batch and where it came from.
        spec: The resolved spec (its targets and inputs).
        user_schema: The user's pandera schema (see :func:`load_user_schema`), if any.

    Returns:
        The :class:`CheckedBatch`.
    """
    frame = part.batch.to_pandas()
    frame.index = pd.RangeIndex(part.first_row, part.first_row + len(frame))
    failures = [
        Failure(name, CHECK_LEVELS[name], target, rows)
        for target in spec.targets
        for name, rows in check_target(frame, target, spec.numeric_inputs).items()
    ]
    if user_schema is not None:
        failures += [
            Failure(name, Level.ERROR, None, rows)
            for name, rows in failed_rows(user_schema, frame).items()
        ]
    return CheckedBatch(frame, failures)


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
