"""The audit's semantic rules, as pandera checks a YAML schema can name.

Importing this module registers the checks with pandera. The built-in schema
(``schemas/status-target.yaml``) validates a frame whose target columns are
named ``value`` and ``status`` and whose other columns are the inputs; the
audit renames each target's columns to those names before validating.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa
from pandera.extensions import register_check_method

from zpml_data.spec import Target
from zpml_data.status import BOTTOM_STATUSES, STATUS_LABELS, Status

VALUE, STATUS = "value", "status"


class Level(StrEnum):
    """How much a failed check matters: errors fail the audit, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


# Stable check names, in report order, with their levels.
CHECK_LEVELS: dict[str, Level] = {
    "status_present": Level.ERROR,
    "status_known": Level.ERROR,
    "finite_value": Level.ERROR,
    "input_finite": Level.WARNING,
    "legacy_sentinel": Level.WARNING,
}

_TRAINABLE = [Status.FINITE.label] + [s.label for s in sorted(BOTTOM_STATUSES)]


def status_is(status: pd.Series, labels: list[str]) -> pd.Series:
    """Vectorised membership of a status column (labels or integer codes) in ``labels``."""
    if status.dtype.kind in "iu":
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


@register_check_method(check_type="vectorized", supported_types=pd.DataFrame)
def finite_value(frame: pd.DataFrame) -> pd.Series:
    """A ``finite`` row has a finite value."""
    finite = status_is(frame[STATUS], [Status.FINITE.label])
    return ~finite | np.isfinite(frame[VALUE].to_numpy(dtype=np.float64, na_value=np.nan))


@register_check_method(check_type="vectorized", supported_types=pd.DataFrame)
def input_finite(frame: pd.DataFrame) -> pd.Series:
    """A trainable (finite or bottom) row has finite inputs in every other column."""
    inputs = frame.drop(columns=[VALUE, STATUS])
    if inputs.shape[1] == 0:
        return pd.Series(True, index=frame.index)
    values = inputs.to_numpy(dtype=np.float64, na_value=np.nan)
    return ~status_is(frame[STATUS], _TRAINABLE) | np.isfinite(values).all(axis=1)


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


def check_target(frame: pd.DataFrame, target: Target, inputs: list[str]) -> dict[str, np.ndarray]:
    """Run the built-in checks on one target of ``frame``; failing row labels per check name.

    The target's columns are renamed to ``value``/``status`` for the built-in
    schema; a target without a status column gets the legacy schema.
    """
    if target.status is None:
        checked = frame[[target.value]].rename(columns={target.value: VALUE})
    else:
        checked = frame[[target.value, target.status, *inputs]].rename(
            columns={target.value: VALUE, target.status: STATUS}
        )
    return failed_rows(builtin_schema(target.status is not None), checked)


def _schema_file(name: str) -> Any:
    return resources.files("zpml_data").joinpath("schemas", name)


@functools.cache
def builtin_schema(with_status: bool = True) -> pa.DataFrameSchema:
    """The built-in pandera schema: ``status-target.yaml``, or ``legacy-target.yaml``
    for a value column with no status column."""
    name = "status-target.yaml" if with_status else "legacy-target.yaml"
    return pa.DataFrameSchema.from_yaml(_schema_file(name).read_text())
