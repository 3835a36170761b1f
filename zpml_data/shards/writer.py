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
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
import pyarrow as pa

from zpml_data._version import __version__
from zpml_data.checks.rules import check_batch, columns_to_check, load_user_schema
from zpml_data.engines import Engine
from zpml_data.errors import DataError, SourceError, UsageError, first_few
from zpml_data.io import DEFAULT_BATCH_SIZE
from zpml_data.io.atomic import atomic_path, atomic_write_text, parquet_writer
from zpml_data.io.guard import (
    RUN_MARKER,
    check_output_path,
    has_run_marker,
    output_lock,
    refuse_overlap,
    run_marker,
)
from zpml_data.io.progress import progress_bar
from zpml_data.io.sources import Source, SourceBatch, open_source
from zpml_data.shards import (
    DEFAULT_ROW_GROUP_ROWS,
    DEFAULT_ROWS_PER_SHARD,
    Compression,
    OnError,
)
from zpml_data.shards._batches import abort_message, quarantine_batch, reject_reasons, shard_batch
from zpml_data.shards.format import (
    column_2d,
    shard_name,
    shard_schema,
    status_counts,
)
from zpml_data.shards.manifest import (
    MANIFEST_NAME,
    QUARANTINE_NAME,
    Manifest,
    RowGroup,
    ShardFile,
    sha256_file,
)
from zpml_data.spec import DatasetSpec, LabelledTarget, ResolvedSpec
from zpml_data.status import STATUS_LABELS
from zpml_data.validate import require_choice, require_positive_int

if TYPE_CHECKING:
    from distributed import Client

_OWNED = re.compile(r"^(part-\d{5}\.parquet|quarantine\.parquet|manifest\.json|\..+\.tmp)$")


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
        compression: Compression = "snappy",
    ) -> None:
        self.out_dir, self.schema, self.compression = out_dir, schema, compression
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
        self.shards.append(self.write_shard(len(self.shards), shard))

    def write_shard(self, index: int, table: pa.Table) -> ShardFile:
        """Write shard ``index`` (its rows permuted with the seed and the index); its entry.

        The bytes depend only on the rows, the index and the settings, not on
        how the rows were batched, so any process can write any shard.
        """
        table = table.combine_chunks()
        if self.seed is not None:
            order = np.random.default_rng([self.seed, index]).permutation(table.num_rows)
            table = table.take(pa.array(order))
        name = shard_name(index)
        path = self.out_dir / name
        with (
            atomic_path(path) as tmp,
            parquet_writer(tmp, self.schema, self.compression) as writer,
        ):
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


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    """Make ``out_dir`` ready: clear a previous (or interrupted) shard set of zpml's.

    zpml's own files are recognised by what zpml wrote, not by their names
    alone: a manifest (a complete set, replaced only with ``overwrite``) or
    the run marker (an interrupted run, cleared). Files named like shards
    without either may be the user's: they are replaced only with
    ``overwrite``. Files of other names are never touched.

    Raises:
        UsageError: The directory holds files zpml did not write, a shard set
            without ``overwrite``, or shard-like files of unknown origin.
    """
    entries = sorted(e for e in out_dir.iterdir() if e.name != RUN_MARKER)
    foreign = [e.name for e in entries if not _OWNED.match(e.name)]
    if foreign:
        raise UsageError(
            f"{out_dir} holds files zpml did not write ({first_few(foreign)}); "
            "choose an empty or new directory"
        )
    manifest = out_dir / MANIFEST_NAME
    if manifest.exists() and not overwrite:
        raise UsageError(f"{out_dir} already holds a shard set; pass --overwrite to replace it")
    if entries and not (overwrite or has_run_marker(out_dir)):
        raise UsageError(
            f"{out_dir} holds {first_few(e.name for e in entries)} without a manifest or "
            "a run marker of zpml's, so they may be yours; pass --overwrite to replace "
            "them, or choose an empty or new directory"
        )
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
    on_error: OnError = "abort",
    seed: int | None = None,
    overwrite: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    compression: Compression = "snappy",
    engine: Engine = "local",
    scheduler: str | Client | None = None,
) -> Manifest:
    """Validate, lift and write a source as verified training shards.

    Streams the source; each batch is checked exactly as the audit checks it
    (the built-in pandera checks and the spec's own schema), its status
    encoded to int8 codes and its targets lifted. Every source row lands in
    exactly one shard or in ``quarantine.parquet`` with the failed checks'
    names, and the manifest says so.

    Args:
        source: Anything :func:`zpml_data.io.sources.open_source` opens.
        out_dir: The shard directory (created; see :func:`_prepare_out_dir`).
        spec: Targets, inputs and groups (defaults as in :func:`zpml_data.audit`).
        rows_per_shard: Rows per shard file (the last may hold fewer).
        row_group_rows: Rows per Parquet row group, the unit a loader reads.
        on_error: ``"abort"`` stops at the first failing row, leaving no
            manifest; ``"quarantine"`` sets failing rows aside.
        seed: Permute the rows within each shard with this seed (``None``:
            source order). The same seed gives the same bytes.
        overwrite: Replace an existing shard set in ``out_dir``.
        batch_size: Rows per record batch read.
        progress: Show a progress bar (only on a terminal).
        compression: The shards' Parquet codec. ``"zstd"`` makes smaller
            files that take longer to read; ``"none"`` the largest, fastest.
        engine: ``"local"`` runs here; ``"dask"`` checks and writes Parquet
            partitions on a Dask cluster, to the same bytes (the shard
            directory must be at the same path on every worker).
        scheduler: With ``engine="dask"``: a scheduler address, a
            ``distributed.Client``, or ``None`` for a local cluster of one
            worker process per core.

    Returns:
        The :class:`~zpml_data.shards.manifest.Manifest`, also in ``out_dir/manifest.json``.

    Raises:
        ConfigError: A size that is not a positive integer, or an unknown ``on_error``.
        UsageError: Unknown columns, a target without status labels, or an
            ``out_dir`` that is not free: it holds an input or files zpml did
            not write, or another zpml run is writing it. With the dask
            engine: Dask is not installed, or the source is not Parquet files.
        DataError: With ``on_error="abort"``, a row failed an error-level check.
    """
    require_positive_int("rows_per_shard", rows_per_shard)
    require_positive_int("row_group_rows", row_group_rows)
    require_choice("on_error", on_error, get_args(OnError))
    require_choice("compression", compression, get_args(Compression))
    require_choice("engine", engine, get_args(Engine))
    opened = open_source(source)
    resolved = (spec or DatasetSpec()).resolve(opened.schema, ", ".join(opened.names))
    targets = _labelled(resolved)
    if engine == "dask":
        from zpml_data.shards import dask_writer

        partitions = dask_writer.plan_for_dask(opened, batch_size)
    user_schema = load_user_schema(resolved.schema)
    out = check_output_path(out_dir, directory=True)
    refuse_overlap([*opened.names, *filter(None, [resolved.schema])], [out])
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SourceError(f"cannot create {str(out)!r}: {error.strerror}") from None
    shards = ShardWriter(
        out,
        shard_schema(resolved.inputs, len(targets)),
        rows_per_shard=rows_per_shard,
        row_group_rows=row_group_rows,
        seed=seed,
        compression=compression,
    )
    with output_lock(out):
        _prepare_out_dir(out, overwrite)
        with run_marker(out):
            if engine == "dask":
                manifest = dask_writer.write_rows_on_dask(
                    opened, partitions, resolved, shards, on_error, batch_size, progress, scheduler
                )
            else:
                manifest = _write_rows(
                    opened, resolved, user_schema, shards, on_error, batch_size, progress
                )
            atomic_write_text(out / MANIFEST_NAME, manifest.to_json())
    return manifest


def _write_rows(
    opened: Source,
    resolved: ResolvedSpec,
    user_schema: Any,
    shards: ShardWriter,
    on_error: OnError,
    batch_size: int,
    progress: bool,
) -> Manifest:
    """Check, lift and write every row into shards or the quarantine; the manifest to write."""
    targets = _labelled(resolved)
    read = 0
    bar = progress_bar(opened.count_rows(), "shard", progress)
    columns = columns_to_check(resolved, user_schema, opened.schema.names)
    with shards, QuarantineWriter(shards.out_dir) as quarantine, bar:
        for part in opened.batches(columns, batch_size):
            row_ids = np.arange(read, read + part.batch.num_rows, dtype=np.int64)
            bad, rejected = reject_rows(part, resolved, user_schema, on_error, row_ids)
            if rejected is not None:
                quarantine.add(rejected)
            kept = part.batch.filter(pa.array(~bad))
            shards.add(shard_batch(kept, resolved.inputs, targets, shards.schema, row_ids[~bad]))
            read += part.batch.num_rows
            bar.update(part.batch.num_rows)
    manifest = _manifest(resolved, opened, read, shards, quarantine, shards.seed)
    assert manifest.rows + manifest.quarantined_rows == manifest.source_rows
    return manifest


def reject_rows(
    part: SourceBatch,
    spec: ResolvedSpec,
    user_schema: Any,
    on_error: OnError,
    row_ids: np.ndarray,
) -> tuple[np.ndarray, pa.RecordBatch | None]:
    """Check a batch: which rows fail an error-level check, and those rows for the quarantine.

    Returns:
        A bool mask of the failing rows, and their quarantine rows (``None`` if none failed).

    Raises:
        DataError: With ``on_error="abort"``, a row failed.
    """
    targets = _labelled(spec)
    reasons = reject_reasons(part, check_batch(part, spec, user_schema), targets)
    bad = reasons != ""
    if not bad.any():
        return bad, None
    if on_error == "abort":
        raise DataError(abort_message(part, reasons))
    return bad, quarantine_batch(part, reasons, row_ids)


def _manifest(
    spec: ResolvedSpec,
    source: Source,
    source_rows: int,
    shards: ShardWriter,
    quarantine: QuarantineWriter,
    seed: int | None,
) -> Manifest:
    """The manifest of a finished run: every figure as the writers counted it."""
    return Manifest(
        created_by=f"zpml {__version__}",
        spec=spec.to_dict(),
        inputs=list(spec.inputs),
        targets=[t.value for t in spec.targets],
        source=_fingerprint(source),
        source_rows=source_rows,
        rows=sum(s.rows for s in shards.shards),
        quarantined_rows=quarantine.rows,
        status_counts={
            label: sum(s.status_counts[label] for s in shards.shards) for label in STATUS_LABELS
        },
        shards=shards.shards,
        quarantine=quarantine.entry,
        seed=seed,
    )


def _labelled(spec: ResolvedSpec) -> tuple[LabelledTarget, ...]:
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
