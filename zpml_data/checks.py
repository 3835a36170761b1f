"""The audit's semantic rules, as pandera checks a YAML schema can name.

Importing this module registers the checks with pandera. The built-in schema
(``schemas/status-target.yaml``) validates a frame whose target columns are
named ``value`` and ``status`` and whose other columns are the inputs; the
audit renames each target's columns to those names before validating.
"""

from __future__ import annotations

from enum import StrEnum
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.extensions import register_check_method

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


def _status_is(status: pd.Series, labels: list[str]) -> pd.Series:
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
    return _status_is(status, list(STATUS_LABELS)) | status.isna()


@register_check_method(check_type="vectorized", supported_types=pd.DataFrame)
def finite_value(frame: pd.DataFrame) -> pd.Series:
    """A ``finite`` row has a finite value."""
    finite = _status_is(frame[STATUS], [Status.FINITE.label])
    return ~finite | np.isfinite(frame[VALUE].to_numpy(dtype=np.float64, na_value=np.nan))


@register_check_method(check_type="vectorized", supported_types=pd.DataFrame)
def input_finite(frame: pd.DataFrame) -> pd.Series:
    """A trainable (finite or bottom) row has finite inputs in every other column."""
    inputs = frame.drop(columns=[VALUE, STATUS])
    if inputs.shape[1] == 0:
        return pd.Series(True, index=frame.index)
    values = inputs.to_numpy(dtype=np.float64, na_value=np.nan)
    return ~_status_is(frame[STATUS], _TRAINABLE) | np.isfinite(values).all(axis=1)


@register_check_method(check_type="vectorized")
def legacy_sentinel(value: pd.Series) -> pd.Series:
    """Without a status column, a NaN or ±inf value is a legacy sentinel nobody explained."""
    return pd.Series(
        np.isfinite(value.to_numpy(dtype=np.float64, na_value=np.nan)), index=value.index
    )


def _schema_file(name: str) -> Any:
    return resources.files("zpml_data").joinpath("schemas", name)


def builtin_schema(with_status: bool = True) -> pa.DataFrameSchema:
    """The built-in pandera schema: ``status-target.yaml``, or ``legacy-target.yaml``
    for a value column with no status column."""
    name = "status-target.yaml" if with_status else "legacy-target.yaml"
    return pa.DataFrameSchema.from_yaml(_schema_file(name).read_text())
