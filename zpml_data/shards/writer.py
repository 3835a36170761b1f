"""Materialise SemanticTargets shards: validated, lifted, checksummed, with a manifest.

A shard directory holds ``part-00000.parquet``, ``part-00001.parquet``, ...,
an optional ``quarantine.parquet`` of the rows that failed a check, and
``manifest.json``, written last. Every file is written under a temporary name,
fsynced and renamed, so an interrupted run never leaves a directory that looks
complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from zpml_data._version import __version__
from zpml_data.auditing.checks import CHECK_LEVELS, Level, check_target, status_is
from zpml_data.encode import encode_status
from zpml_data.errors import DataError, UsageError, first_positions
from zpml_data.io import DEFAULT_BATCH_SIZE
from zpml_data.io.atomic import atomic_path, atomic_write_text, parquet_writer
from zpml_data.io.progress import progress_bar
from zpml_data.io.sources import Source, SourceBatch, open_source
from zpml_data.shards import DEFAULT_ROW_GROUP_ROWS, DEFAULT_ROWS_PER_SHARD
from zpml_data.shards.format import (
    column_2d,
    shard_name,
    shard_schema,
    status_counts,
    target_columns,
)
from zpml_data.shards.manifest import (
    MANIFEST_NAME,
    QUARANTINE_NAME,
    Manifest,
    RowGroup,
    ShardFile,
    sha256_file,
)
from zpml_data.spec import DatasetSpec, Target
from zpml_data.status import STATUS_LABELS, Status
from zpml_data.validate import require_choice, require_positive_int

_OWNED = re.compile(r"^(part-\d{5}\.parquet|quarantine\.parquet|manifest\.json|\..+\.tmp)$")
_ERROR_CHECKS = [name for name, level in CHECK_LEVELS.items() if level is Level.ERROR]


class ShardWriter:
    """Writes rows into shard files of ``rows_per_shard`` rows each; a context manager.

    Rows are buffered until a shard is full. A clean exit writes the rest as
    the last shard; an exception removes every shard this writer wrote.
    ``shards`` lists what was written, counted from the written tables.
    """

    def __init__(
        self,
        out_dir: Path,
        schema: pa.Schema,
        *,
        rows_per_shard: int,
        row_group_rows: int,
        seed: int | None,
    ) -> None:
        self.out_dir, self.schema = out_dir, schema
        self.rows_per_shard, self.row_group_rows, self.seed = rows_per_shard, row_group_rows, seed
        self.buffer: list[pa.RecordBatch] = []
        self.buffered = 0
        self.shards: list[ShardFile] = []

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            if self.buffered:
                self._flush(self.buffered)
            return
        for shard in self.shards:
            (self.out_dir / shard.file).unlink(missing_ok=True)

    def add(self, batch: pa.RecordBatch) -> None:
        """Buffer a batch of shard rows, writing every shard that fills up."""
        self.buffer.append(batch)
        self.buffered += batch.num_rows
        while self.buffered >= self.rows_per_shard:
            self._flush(self.rows_per_shard)

    def _flush(self, rows: int) -> None:
        table = pa.Table.from_batches(self.buffer, self.schema)
        shard, rest = table.slice(0, rows), table.slice(rows)
        self.buffer, self.buffered = rest.to_batches(), rest.num_rows
        index = len(self.shards)
        if self.seed is not None:
            order = np.random.default_rng([self.seed, index]).permutation(rows)
            shard = shard.take(pa.array(order))
        self.shards.append(self._write(shard, shard_name(index)))

    def _write(self, table: pa.Table, name: str) -> ShardFile:
        path = self.out_dir / name
        with atomic_path(path) as tmp, parquet_writer(tmp, self.schema) as writer:
            writer.write_table(table, row_group_size=self.row_group_rows)
        codes = column_2d(table, "status")
        groups = [
            RowGroup(start, len(chunk), status_counts(chunk))
            for start in range(0, len(codes), self.row_group_rows)
            for chunk in [codes[start : start + self.row_group_rows]]
        ]
        return ShardFile(
            name, len(codes), path.stat().st_size, sha256_file(path), status_counts(codes), groups
        )


class QuarantineWriter:
    """Rows that failed a check, with their reasons, in ``quarantine.parquet``; a context manager.

    The file is created with the first row; a clean exit commits it, an
    exception discards it. ``entry`` then describes it for the manifest.
    """

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / QUARANTINE_NAME
        self.rows = 0
        self.entry: dict[str, Any] | None = None
        self._files = contextlib.ExitStack()
        self._writer: Any = None

    def __enter__(self) -> QuarantineWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Closes the Parquet writer, then commits the file (or removes it on an error).
        self._files.__exit__(exc_type, exc, traceback)
        if exc_type is None and self._writer is not None:
            self.entry = {
                "file": QUARANTINE_NAME,
                "rows": self.rows,
                "bytes": self.path.stat().st_size,
                "sha256": sha256_file(self.path),
            }

    def add(self, batch: pa.RecordBatch) -> None:
        """Append quarantined rows."""
        if self._writer is None:
            tmp = self._files.enter_context(atomic_path(self.path))
            self._writer = self._files.enter_context(parquet_writer(tmp, batch.schema))
        self._writer.write_batch(batch)
        self.rows += batch.num_rows


def _failures(frame: pd.DataFrame, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    """Which rows of a batch fail an error-level check, and the failed checks' names per row."""
    inputs = list(spec.inputs or ())
    reasons = np.full(len(frame), "", dtype=object)
    for target in spec.targets:
        for name, labels in check_target(frame, target, inputs).items():
            if name not in _ERROR_CHECKS:
                continue
            where = labels - frame.index[0]
            _tag(reasons, where, name, target, spec)
        # Shards store float32: a finite float64 value beyond its range would become inf.
        value = frame[target.value].to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(over="ignore"):
            overflow = np.isfinite(value) & ~np.isfinite(value.astype(np.float32))
        finite = status_is(frame[target.status], [Status.FINITE.label]).to_numpy(dtype=bool)
        _tag(reasons, np.flatnonzero(overflow & finite), "finite_value", target, spec)
    return reasons != "", reasons


def _tag(
    reasons: np.ndarray, rows: np.ndarray, name: str, target: Target, spec: DatasetSpec
) -> None:
    """Add a failed check's name to the reasons of some rows (positions in the batch)."""
    tag = name if len(spec.targets) == 1 else f"{name}:{target.value}"
    current = reasons[rows]
    reasons[rows] = np.where(current == "", tag, current + "," + tag)


def _abort_message(part: SourceBatch, bad: np.ndarray, reasons: np.ndarray) -> str:
    rows = np.flatnonzero(bad)
    names = sorted({n for r in np.unique(reasons[rows]) for n in r.split(",")})
    first = first_positions(part.first_row + rows)
    return (
        f"{part.file}: {len(rows):,} rows of this batch fail {', '.join(names)} "
        f"(first at data rows {first}); run zpml audit on the source for the full report, "
        "fix the rows, or shard with --on-error quarantine to set them aside"
    )


def _shard_batch(
    kept: pa.RecordBatch, spec: DatasetSpec, schema: pa.Schema, row_ids: np.ndarray
) -> pa.RecordBatch:
    """The shard columns for the rows that passed: inputs, lifted targets, row ids."""
    columns: dict[str, pa.Array] = {
        f"inputs.{name}": pc.fill_null(
            kept.column(name).cast(pa.float32(), safe=False), float("nan")
        )
        for name in spec.inputs or ()
    }
    with np.errstate(over="ignore"):  # only non-finite rows can overflow: checked before
        values = np.stack(
            [
                kept.column(t.value).to_numpy(zero_copy_only=False).astype(np.float32)
                for t in spec.targets
            ],
            axis=1,
        )
    codes = np.stack([encode_status(kept.column(t.status)) for t in spec.targets], axis=1)
    columns |= target_columns(values, codes, schema)
    columns["row_id"] = pa.array(row_ids, pa.int64())
    return pa.RecordBatch.from_arrays([columns[f.name] for f in schema], schema=schema)


def _quarantine_batch(
    part: SourceBatch, bad: np.ndarray, reasons: np.ndarray, row_ids: np.ndarray
) -> pa.RecordBatch:
    rows = pa.array(np.flatnonzero(bad))
    batch = part.batch.take(rows)
    extra = {
        "row_id": pa.array(row_ids[bad], pa.int64()),
        "source_file": pa.array([part.file] * len(rows), pa.string()),
        "source_row": pa.array(part.first_row + np.flatnonzero(bad), pa.int64()),
        "check": pa.array(reasons[bad].tolist(), pa.string()),
    }
    return pa.RecordBatch.from_arrays(
        [*batch.columns, *extra.values()], names=[*batch.schema.names, *extra]
    )


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    """Make ``out_dir`` ready: create it, or clear a previous (or interrupted) shard set.

    A directory without a manifest that holds only zpml's own files is an
    interrupted run and is cleared. A complete shard set is replaced only with
    ``overwrite``; files zpml did not write are never deleted.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = sorted(out_dir.iterdir())
    foreign = [e.name for e in entries if not _OWNED.match(e.name)]
    if foreign:
        raise UsageError(
            f"{out_dir} holds files zpml did not write ({', '.join(foreign[:5])}); "
            "choose an empty or new directory"
        )
    manifest = out_dir / MANIFEST_NAME
    if manifest.exists() and not overwrite:
        raise UsageError(f"{out_dir} already holds a shard set; pass --overwrite to replace it")
    manifest.unlink(missing_ok=True)  # first: a half-cleared directory must not look complete
    for entry in entries:
        entry.unlink(missing_ok=True)


def _fingerprint(source: Source) -> list[dict[str, Any]]:
    """File names, sizes, modification times and content hashes of the source."""
    entries = []
    for name in source.names:
        path = Path(name)
        if path.is_file():
            stat = path.stat()
            entries.append(
                {
                    "file": name,
                    "bytes": stat.st_size,
                    "mtime_ns": stat.st_mtime_ns,
                    "sha256": sha256_file(path),
                }
            )
        else:  # an in-memory table: hash its Arrow IPC stream
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, source.schema) as stream:
                for part in source.batches():
                    if part.file == name:
                        stream.write_batch(part.batch)
            digest = hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()
            entries.append({"file": name, "bytes": None, "mtime_ns": None, "sha256": digest})
    return entries


def write_shards(
    source: Any,
    out_dir: str | Path,
    spec: DatasetSpec | None = None,
    *,
    rows_per_shard: int = DEFAULT_ROWS_PER_SHARD,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    on_error: str = "abort",
    seed: int | None = None,
    overwrite: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
) -> Manifest:
    """Validate, lift and write a source as verified training shards.

    Streams the source; each batch is validated with the audit's pandera
    checks, its status encoded to int8 codes and its targets lifted. Every
    source row lands in exactly one shard or in ``quarantine.parquet`` with
    the failed check's name, and the manifest says so.

    Args:
        source: Anything :func:`zpml_data.sources.open_source` opens.
        out_dir: The shard directory (created; see :func:`_prepare_out_dir`).
        spec: Targets, inputs and groups (defaults as in :func:`zpml_data.audit.audit`).
        rows_per_shard: Rows per shard file (the last may hold fewer).
        row_group_rows: Rows per Parquet row group, the unit a loader reads.
        on_error: ``"abort"`` stops at the first failing row, leaving no
            manifest; ``"quarantine"`` sets failing rows aside.
        seed: Permute the rows within each shard with this seed (``None``:
            source order). The same seed gives the same bytes.
        overwrite: Replace an existing shard set in ``out_dir``.
        batch_size: Rows per record batch read.
        progress: Show a progress bar (only on a terminal).

    Returns:
        The :class:`~zpml_data.manifest.Manifest`, also in ``out_dir/manifest.json``.

    Raises:
        UsageError: Bad options, unknown columns, a target without status labels,
            or an ``out_dir`` that is not free.
        DataError: With ``on_error="abort"``, a row failed an error-level check.
    """
    require_positive_int("rows_per_shard", rows_per_shard)
    require_positive_int("row_group_rows", row_group_rows)
    require_choice("on_error", on_error, ("abort", "quarantine"))
    opened = open_source(source)
    resolved = (spec or DatasetSpec()).resolve(opened.schema, ", ".join(opened.names))
    unlabelled = [t.value for t in resolved.targets if t.status is None]
    if unlabelled:
        raise UsageError(
            f"target {unlabelled[0]!r} has no status column; label it first "
            "(zpml convert) or name it with --status"
        )
    out = Path(out_dir)
    _prepare_out_dir(out, overwrite)
    schema = shard_schema(list(resolved.inputs or ()), len(resolved.targets))
    shards = ShardWriter(
        out, schema, rows_per_shard=rows_per_shard, row_group_rows=row_group_rows, seed=seed
    )
    offset = 0
    bar = progress_bar(opened.count_rows(), "shard", progress)
    with shards, QuarantineWriter(out) as quarantine, bar:
        for part in opened.batches(resolved.columns, batch_size):
            frame = part.batch.to_pandas()
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            bad, reasons = _failures(frame, resolved)
            row_ids = np.arange(offset, offset + len(frame), dtype=np.int64)
            if bad.any():
                if on_error == "abort":
                    raise DataError(_abort_message(part, bad, reasons))
                quarantine.add(_quarantine_batch(part, bad, reasons, row_ids))
            kept = part.batch.filter(pa.array(~bad))
            shards.add(_shard_batch(kept, resolved, schema, row_ids[~bad]))
            offset += len(frame)
            bar.update(len(frame))
    rows = sum(s.rows for s in shards.shards)
    totals = {label: sum(s.status_counts[label] for s in shards.shards) for label in STATUS_LABELS}
    manifest = Manifest(
        created_by=f"zpml {__version__}",
        spec=resolved.to_dict(),
        inputs=[f"inputs.{name}" for name in resolved.inputs or ()],
        targets=[t.value for t in resolved.targets],
        source=_fingerprint(opened),
        source_rows=offset,
        rows=rows,
        quarantined_rows=quarantine.rows,
        status_counts=totals,
        shards=shards.shards,
        quarantine=quarantine.entry,
        seed=seed,
    )
    assert manifest.rows + manifest.quarantined_rows == manifest.source_rows
    atomic_write_text(out / MANIFEST_NAME, manifest.to_json())
    return manifest
