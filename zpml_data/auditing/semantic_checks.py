"""The group-level rules as registered pandera checks, and the pass that counts their rows.

These checks take what the first two passes found (each group's limits, the
heaps, the sentinels, the skewed groups) as pandera statistics, and fail the
rows those findings explain. The frame they validate holds one target's
``value``, its ``status`` as int8 codes (-1: not a label) and one categorical
``by <column>`` per group-by column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
from pandera.extensions import register_check_method

from zpml_data.auditing.findings import Findings
from zpml_data.auditing.semantics import WHOLE, Grouping, group_index
from zpml_data.checks.rules import STATUS, VALUE, failed_rows, status_is
from zpml_data.status import Status


def group_column(grouping: str) -> str:
    """The frame column of a group-by column (apart from ``value`` and ``status``)."""
    return f"by {grouping}"


def _finite_rows(frame: pd.DataFrame) -> np.ndarray:
    values = frame[VALUE].to_numpy(dtype=np.float64)
    return np.asarray(status_is(frame[STATUS], [Status.FINITE.label])) & np.isfinite(values)


def per_row(frame: pd.DataFrame, grouping: Grouping, table: dict[str, Any], default: Any) -> Any:
    """Each row's entry of ``table`` (group key -> value) for its group in ``grouping``."""
    if grouping is None:
        return np.full(len(frame), table.get(WHOLE, default))
    column = frame[group_column(grouping)]
    lookup = np.array([table.get(k, default) for k in column.cat.categories] + [default])
    return lookup[column.cat.codes.to_numpy()]  # code -1 (no group) takes the default


def beyond_limits(
    frame: pd.DataFrame, limits: dict[Grouping, dict[str, tuple[float, float]]]
) -> dict[Grouping, tuple[np.ndarray, np.ndarray]]:
    """Per grouping: which rows' values lie below their group's lower limit, or above its upper."""
    values = frame[VALUE].to_numpy(dtype=np.float64)
    masks = {}
    for grouping, table in limits.items():
        lower = per_row(frame, grouping, {k: lo for k, (lo, _) in table.items()}, -np.inf)
        upper = per_row(frame, grouping, {k: hi for k, (_, hi) in table.items()}, np.inf)
        masks[grouping] = (values < lower, values > upper)
    return masks


@register_check_method(statistics=["limits"], check_type="vectorized", supported_types=pd.DataFrame)
def finite_beyond_limit(frame: pd.DataFrame, *, limits: Any) -> pd.Series:
    """A finite value below its group's detection limit or above its saturation limit.

    Any grouping may flag a row; it fails once. A group's verdict depends on
    its own rows only, so a sentinel below the limit fails here too (and
    ``sentinel_number`` says what it is).
    """
    beyond = np.zeros(len(frame), dtype=bool)
    for below, above in beyond_limits(frame, limits).values():
        beyond |= below | above
    return pd.Series(~(_finite_rows(frame) & beyond), index=frame.index)


@register_check_method(statistics=["heaps"], check_type="vectorized", supported_types=pd.DataFrame)
def heaping_at_limit(frame: pd.DataFrame, *, heaps: Any) -> pd.Series:
    """A finite value exactly on a censoring bound where its group's finite values heap."""
    values = frame[VALUE].to_numpy(dtype=np.float64)
    heaped = np.zeros(len(frame), dtype=bool)
    for grouping, table in heaps.items():
        for key, points in table.items():
            in_group = per_row(frame, grouping, {key: True}, False)
            heaped |= in_group & np.isin(values, points)
    return pd.Series(~(_finite_rows(frame) & heaped), index=frame.index)


@register_check_method(
    statistics=["sentinels"], check_type="vectorized", supported_types=pd.DataFrame
)
def sentinel_number(frame: pd.DataFrame, *, sentinels: Any) -> pd.Series:
    """A finite value that is a legacy numeric code (``-999``, ``9999``, ...)."""
    values = frame[VALUE].to_numpy(dtype=np.float64)
    return pd.Series(~(_finite_rows(frame) & np.isin(values, sentinels)), index=frame.index)


@register_check_method(statistics=["skews"], check_type="vectorized", supported_types=pd.DataFrame)
def status_skew_by_group(frame: pd.DataFrame, *, skews: Any) -> pd.Series:
    """A row of a group whose share of the row's label is skewed against the rest of the data."""
    codes = frame[STATUS].to_numpy()
    skewed = np.zeros(len(frame), dtype=bool)
    for column, table in skews.items():
        for key, labels in table.items():
            skewed |= per_row(frame, column, {key: True}, False) & np.isin(codes, labels)
    return pd.Series(~skewed, index=frame.index)


@register_check_method(statistics=["leaks"], check_type="vectorized", supported_types=pd.DataFrame)
def input_leak(frame: pd.DataFrame, *, leaks: Any) -> pd.Series:
    """A row whose target an input column gives away.

    An input that equals or predicts the value gives away every finite row;
    one that restates the status gives away every row with a known status.
    """
    leaked = np.zeros(len(frame), dtype=bool)
    if leaks["value"]:
        leaked |= _finite_rows(frame)
    if leaks["status"]:
        leaked |= frame[STATUS].to_numpy() >= 0
    return pd.Series(~leaked, index=frame.index)


def semantic_schema(findings: Findings) -> pa.DataFrameSchema:
    """The pandera schema of the group-level checks, given what the passes found."""
    checks = [
        pa.Check.finite_beyond_limit(limits=findings.limits, error="finite_beyond_limit"),
        pa.Check.heaping_at_limit(heaps=findings.heap_values(), error="heaping_at_limit"),
        pa.Check.sentinel_number(sentinels=findings.sentinel_values(), error="sentinel_number"),
        pa.Check.status_skew_by_group(skews=findings.skew_cells(), error="status_skew_by_group"),
        pa.Check.input_leak(leaks=findings.leak_kinds(), error="input_leak"),
    ]
    return pa.DataFrameSchema(checks=checks, name="zpml-semantics")


def semantic_frame(
    batch: pa_arrow.RecordBatch,
    first_row: int,
    values: np.ndarray,
    codes: np.ndarray,
    groups: tuple[str, ...],
) -> pd.DataFrame:
    """One batch of one target as the frame the group-level checks validate."""
    columns: dict[str, Any] = {VALUE: values, STATUS: codes}
    for grouping in groups:
        keys, index = group_index(batch.column(grouping), batch.num_rows)
        columns[group_column(grouping)] = pd.Categorical.from_codes(index, categories=keys)
    frame = pd.DataFrame(columns)
    frame.index = pd.RangeIndex(first_row, first_row + len(frame))
    return frame


def semantic_failures(frame: pd.DataFrame, findings: Findings) -> dict[str, np.ndarray]:
    """Failing row labels per group-level check; counts each group's rows beyond its limits."""
    failed = failed_rows(semantic_schema(findings), frame)
    beyond = failed.get("finite_beyond_limit")
    if beyond is not None:
        rows = frame.loc[beyond]
        for grouping, (below, above) in beyond_limits(rows, findings.limits).items():
            table = findings.beyond.setdefault(grouping, {})
            if grouping is None:
                keys = np.full(len(rows), WHOLE, dtype=object)
            else:
                keys = rows[group_column(grouping)].astype(str).to_numpy()
            for side, mask in enumerate((below, above)):
                for key, n in zip(*np.unique(keys[mask], return_counts=True), strict=True):
                    table.setdefault(str(key), [0, 0])[side] += int(n)
    return failed
