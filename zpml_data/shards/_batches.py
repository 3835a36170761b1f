"""From a checked source batch to shard rows and quarantine rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from zpml_data.checks.levels import Level
from zpml_data.checks.rules import SHARD_LEVELS, Failure, check_batch
from zpml_data.encode import encode_status
from zpml_data.errors import DataError, UsageError, first_few
from zpml_data.io.sources import SourceBatch
from zpml_data.shards import OnError
from zpml_data.shards.format import inputs_column, target_columns
from zpml_data.shards.inputs import encode_inputs
from zpml_data.spec import LabelledTarget, ResolvedSpec


def labelled_targets(spec: ResolvedSpec) -> tuple[LabelledTarget, ...]:
    """The spec's targets, every one labelled: shards hold status codes.

    Raises:
        UsageError: A target has no status column.
    """
    legacy = [t.value for t in spec.targets if not isinstance(t, LabelledTarget)]
    if legacy:
        raise UsageError(
            f"target {legacy[0]!r} has no status column; label it first "
            "(zpml convert) or name it with --status"
        )
    return tuple(t for t in spec.targets if isinstance(t, LabelledTarget))


def reject_rows(
    part: SourceBatch,
    spec: ResolvedSpec,
    user_schema: Any,
    on_error: OnError,
    row_ids: np.ndarray,
) -> tuple[np.ndarray, pa.RecordBatch | None]:
    """Check a batch: which rows fail a check that shards refuse, and those rows for the quarantine.

    Returns:
        A bool mask of the failing rows, and their quarantine rows (``None`` if none failed).

    Raises:
        DataError: With ``on_error="abort"``, a row failed.
    """
    targets = labelled_targets(spec)
    reasons = reject_reasons(part, check_batch(part, spec, user_schema), targets)
    bad = reasons != ""
    if not bad.any():
        return bad, None
    if on_error == "abort":
        raise DataError(abort_message(part, reasons))
    return bad, quarantine_batch(part, reasons, row_ids)


def reject_reasons(
    part: SourceBatch, failures: list[Failure], targets: tuple[LabelledTarget, ...]
) -> np.ndarray:
    """Per row of the batch, the checks it failed that shards refuse, comma-separated ('' for none).

    Shards refuse the error-level checks, and ``input_finite`` (a warning in
    the audit). With several targets, a target's check is named ``check:value_column``.
    """
    reasons = np.full(part.batch.num_rows, "", dtype=object)
    for failure in failures:
        if SHARD_LEVELS.get(failure.check, failure.level) is not Level.ERROR:
            continue
        tag = failure.check
        if failure.target is not None and len(targets) > 1:
            tag = f"{tag}:{failure.target.value}"
        rows = failure.rows - part.first_row
        current = reasons[rows]
        reasons[rows] = np.where(current == "", tag, current + "," + tag)
    return reasons


def abort_message(part: SourceBatch, reasons: np.ndarray) -> str:
    """The message of the DataError that stops sharding at a batch with failing rows."""
    rows = np.flatnonzero(reasons != "")
    names = sorted({n for r in np.unique(reasons[rows]) for n in r.split(",")})
    return (
        f"{part.file}: {len(rows):,} rows of this batch fail {', '.join(names)} "
        f"(first at data rows {first_few(part.first_row + rows)}); run zpml audit on "
        "the source for the full report, fix the rows, or shard with --on-error quarantine "
        "to set them aside"
    )


def shard_batch(
    kept: pa.RecordBatch,
    inputs: Sequence[str],
    categories: Mapping[str, Sequence[str]],
    targets: tuple[LabelledTarget, ...],
    schema: pa.Schema,
    row_ids: np.ndarray,
) -> pa.RecordBatch:
    """The shard columns for the rows that passed: inputs, lifted targets, row ids."""
    columns: dict[str, pa.Array] = {}
    if "inputs" in schema.names:
        columns["inputs"] = inputs_column(encode_inputs(kept, inputs, categories)[0])
    # Only rows that are not finite can overflow float32 here: finite_value refused the others.
    with np.errstate(over="ignore"):
        values = np.stack(
            [
                kept.column(t.value).to_numpy(zero_copy_only=False).astype(np.float32)
                for t in targets
            ],
            axis=1,
        )
    codes = np.stack([encode_status(kept.column(t.status)) for t in targets], axis=1)
    columns |= target_columns(values, codes, schema)
    columns["row_id"] = pa.array(row_ids, pa.int64())
    return pa.RecordBatch.from_arrays([columns[f.name] for f in schema], schema=schema)


def quarantine_batch(part: SourceBatch, reasons: np.ndarray, row_ids: np.ndarray) -> pa.RecordBatch:
    """The rejected rows as read, with their row id, source file and row, and failed checks.

    zpml's columns are ``row_id``, ``source_file``, ``source_row`` and ``check``;
    one whose name the source already uses is prefixed ``zpml_`` (see
    :func:`quarantine_name`), so the user's columns keep their names.
    """
    bad = reasons != ""
    rows = np.flatnonzero(bad)
    batch = part.batch.take(pa.array(rows))
    extra = {
        "row_id": pa.array(row_ids[bad], pa.int64()),
        "source_file": pa.array([part.file] * len(rows), pa.string()),
        "source_row": pa.array(part.first_row + rows, pa.int64()),
        "check": pa.array(reasons[bad].tolist(), pa.string()),
    }
    names = [quarantine_name(name, batch.schema.names) for name in extra]
    return pa.RecordBatch.from_arrays(
        [*batch.columns, *extra.values()], names=[*batch.schema.names, *names]
    )


def quarantine_name(name: str, user_columns: list[str]) -> str:
    """zpml's name for a quarantine column: ``name``, or ``zpml_<name>`` if the source has it."""
    while name in user_columns:
        name = f"zpml_{name}"
    return name
