"""Materialise SemanticTargets shards: validated, lifted, checksummed, with a manifest.

A shard directory holds ``part-00000.parquet``, ``part-00001.parquet``, ...,
an optional ``quarantine.parquet`` of the rows that failed a check, and
``manifest.json``, written last. Every file is written under a temporary name,
fsynced and renamed, so an interrupted run never leaves a directory that looks
complete. With a split, ``OUT_DIR/train/`` and ``OUT_DIR/val/`` are two such
directories. The work runs on an engine (:mod:`zpml_data.engines`) in the two
phases of :mod:`zpml_data.shards.staging`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import pyarrow as pa

from zpml_data._version import __version__
from zpml_data.checks.rules import load_user_schema
from zpml_data.engines import DEFAULT_SCHEDULER_TIMEOUT_S, Engine
from zpml_data.engines.runner import Part, Runner, open_runner
from zpml_data.errors import UsageError
from zpml_data.io import DEFAULT_BATCH_SIZE
from zpml_data.io.atomic import atomic_write_text
from zpml_data.io.guard import (
    check_output_path,
)
from zpml_data.io.sources import Source, open_source
from zpml_data.shards import DEFAULT_ROW_GROUP_ROWS, DEFAULT_ROWS_PER_SHARD, Compression, OnError
from zpml_data.shards._batches import labelled_targets
from zpml_data.shards.columns import left_out
from zpml_data.shards.directory import QuarantineWriter, claim_output, new_staging_dir
from zpml_data.shards.inputs import MAX_CATEGORIES, distinct_text
from zpml_data.shards.manifest import MANIFEST_NAME, Manifest, sha256_file
from zpml_data.shards.split import SPLIT_NAMES, Split, check_split
from zpml_data.shards.staging import (
    ShardLayout,
    Staged,
    StagePlan,
    Staging,
    plan_jobs,
    stage_part,
    staged_quarantine,
    write_job,
)
from zpml_data.spec import DatasetSpec, ResolvedSpec
from zpml_data.status import STATUS_LABELS
from zpml_data.validate import (
    MAX_BATCH_ROWS,
    MAX_SHARD_ROWS,
    require_choice,
    require_positive_int,
    require_seed,
)

if TYPE_CHECKING:
    from distributed import Client


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


def _distinct(part: Part, columns: list[str], batch_size: int) -> dict[str, set[str]]:
    """Task: the distinct values of text columns in one partition."""
    found: dict[str, set[str]] = {c: set() for c in columns}
    for batch in part.source.batches(columns, batch_size):
        for column in columns:
            found[column] |= distinct_text(batch.batch.column(column))
    return found


def _categories(
    runner: Runner, spec: ResolvedSpec, batch_size: int, where: str
) -> dict[str, tuple[str, ...]]:
    """The sorted categories of each categorical input, over the whole source.

    Raises:
        UsageError: A column with more than ``MAX_CATEGORIES`` distinct values.
    """
    columns = list(spec.categorical)
    if not columns:
        return {}
    found: dict[str, set[str]] = {c: set() for c in columns}
    for part in runner.map_parts(_distinct, columns, batch_size, label="categories"):
        for column in columns:
            found[column] |= part[column]
    for column, values in found.items():
        if len(values) > MAX_CATEGORIES:
            raise UsageError(
                f"{where}: input column {column!r} holds {len(values):,} distinct texts, more "
                f"than the {MAX_CATEGORIES:,} categories one-hot encoding takes; it looks like "
                "an identifier: leave it out of --inputs"
            )
    return {column: tuple(sorted(values)) for column, values in found.items()}


@dataclass(frozen=True)
class ShardOptions:
    """How :func:`write_shards` writes (its keyword arguments), checked with the CLI's bounds.

    Raises:
        ConfigError: A setting out of range, naming it, its value and the range.
    """

    rows_per_shard: int = DEFAULT_ROWS_PER_SHARD
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS
    on_error: OnError = "abort"
    seed: int | None = None
    overwrite: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    progress: bool = False
    compression: Compression = "snappy"

    def __post_init__(self) -> None:
        require_positive_int("rows_per_shard", self.rows_per_shard, maximum=MAX_SHARD_ROWS)
        require_positive_int("row_group_rows", self.row_group_rows, maximum=MAX_SHARD_ROWS)
        require_positive_int("batch_size", self.batch_size, maximum=MAX_BATCH_ROWS)
        require_choice("on_error", self.on_error, get_args(OnError))
        require_choice("compression", self.compression, get_args(Compression))
        if self.seed is not None:
            require_seed("seed", self.seed)


def _manifests(
    plan: StagePlan,
    source: Source,
    staged: list[Staged],
    shards: list[list[Any]],
    quarantines: list[QuarantineWriter],
    excluded: dict[str, str],
) -> list[Manifest]:
    """The manifest of each shard set of a finished run: every figure as the writers counted it."""
    manifests = []
    fingerprint = _fingerprint(source)
    for s in range(plan.splits):
        files = shards[s]
        manifest = Manifest(
            created_by=f"zpml {__version__}",
            spec=plan.spec.to_dict(),
            inputs=plan.layout.features,
            targets=[t.value for t in plan.spec.targets],
            source=fingerprint,
            source_rows=sum(p.read[s] for p in staged),
            rows=sum(f.rows for f in files),
            quarantined_rows=quarantines[s].rows,
            status_counts={
                label: sum(f.status_counts[label] for f in files) for label in STATUS_LABELS
            },
            shards=files,
            quarantine=quarantines[s].entry,
            seed=plan.layout.seed,
            categories={c: list(v) for c, v in plan.layout.categories.items()},
            excluded_columns=excluded,
            split=None if plan.split is None else plan.split.to_dict(SPLIT_NAMES[s]),
        )
        assert manifest.rows + manifest.quarantined_rows == manifest.source_rows
        manifests.append(manifest)
    return manifests


def _write_sets(
    runner: Runner, plan: StagePlan, dirs: list[Path]
) -> tuple[list[Staged], list[list[Any]], list[QuarantineWriter]]:
    """Both phases on the runner, then each set's quarantine; what each set holds."""
    with Staging(plan, dirs) as staging:
        staged = runner.map_parts(stage_part, plan, label="check")
        jobs = [plan_jobs(plan, staged, s) for s in range(len(dirs))]
        flat = [job for split in jobs for job in split]
        written = runner.map(
            write_job, flat, plan.layout, rows=[j.rows for j in flat], label="shard"
        )
        shards, at = [], 0
        for s, split in enumerate(jobs):
            shards.append(written[at : at + len(split)])
            staging.move_shards(s, shards[-1])
            at += len(split)
        quarantines = []
        for s, directory in enumerate(dirs):
            with QuarantineWriter(directory) as quarantine:
                for batch in staged_quarantine(plan, staged, s):
                    quarantine.add(batch)
            quarantines.append(quarantine)
    return staged, shards, quarantines


def _shard(
    source: Any,
    out_dir: str | Path,
    spec: DatasetSpec | None,
    split: Split | None,
    options: ShardOptions,
    engine: dict[str, Any],
) -> list[Manifest]:
    """Write one shard set, or a split's two; their manifests (see :func:`write_shards`)."""
    opened = open_source(source)
    where = ", ".join(opened.names)
    resolved = (spec or DatasetSpec()).resolve(opened.schema, where)
    targets = labelled_targets(resolved)
    if split is not None:
        check_split(split, opened, resolved, where)
    load_user_schema(resolved.schema)  # a bad schema file is refused before any work
    out = check_output_path(out_dir, directory=True)
    subdirs = SPLIT_NAMES if split is not None else ()
    size = options.batch_size
    with open_runner(opened, batch_size=size, progress=options.progress, **engine) as runner:
        layout = ShardLayout(
            resolved.inputs,
            _categories(runner, resolved, size, where),
            len(targets),
            options.rows_per_shard,
            options.row_group_rows,
            options.seed,
            options.compression,
        )
        sources = [*opened.names, *filter(None, [resolved.schema])]
        with claim_output(out, sources, options.overwrite, subdirs):
            staging_dir = str(new_staging_dir(out))
            plan = StagePlan(resolved, layout, options.on_error, size, split, staging_dir)
            dirs = [out / name for name in subdirs] or [out]
            staged, shards, quarantines = _write_sets(runner, plan, dirs)
            excluded = left_out(opened.schema, resolved, split)
            manifests = _manifests(plan, opened, staged, shards, quarantines, excluded)
            for directory, manifest in zip(reversed(dirs), reversed(manifests), strict=True):
                atomic_write_text(directory / MANIFEST_NAME, manifest.to_json())
    return manifests


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
    scheduler_timeout: float = DEFAULT_SCHEDULER_TIMEOUT_S,
) -> Manifest:
    """Validate, lift and write a source as verified training shards.

    Streams the source; each batch is checked exactly as the audit checks it
    (the built-in pandera checks and the spec's own schema; ``input_finite``
    refuses a row here, where the audit only warns), its status encoded to
    int8 codes, its targets lifted and its text inputs one-hot encoded. Every
    source row lands in exactly one shard or in ``quarantine.parquet`` with
    the failed checks' names, and the manifest says so.

    Args:
        source: Anything :func:`zpml_data.io.sources.open_source` opens.
        out_dir: The shard directory (created; it must be empty, or hold a
            shard set of zpml's to replace with ``overwrite``).
        spec: Targets, inputs and groups (defaults as in :func:`zpml_data.audit`).
            A text or dictionary column named in ``inputs`` is one-hot encoded
            (its categories, in order, are in the manifest).
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
        scheduler_timeout: With ``engine="dask"``: the longest wait in seconds
            for the scheduler to answer (connecting, and between finished tasks).

    Returns:
        The :class:`~zpml_data.shards.manifest.Manifest`, also in ``out_dir/manifest.json``.

    Raises:
        ConfigError: A setting out of range (the command line's bounds).
        UsageError: Unknown columns, a target without status labels, or an
            ``out_dir`` that is not free: it holds an input or files zpml did
            not write, or another zpml run is writing it. With the dask
            engine: Dask is not installed, or the source is not Parquet files.
        SourceError: With the dask engine, the scheduler does not answer in time.
        DataError: With ``on_error="abort"``, a row failed a check.
    """
    options = ShardOptions(
        rows_per_shard, row_group_rows, on_error, seed, overwrite, batch_size, progress, compression
    )
    engine_options = {
        "engine": engine,
        "scheduler": scheduler,
        "scheduler_timeout": scheduler_timeout,
    }
    return _shard(source, out_dir, spec, None, options, engine_options)[0]


def write_split_shards(
    source: Any,
    out_dir: str | Path,
    split: Split | float,
    spec: DatasetSpec | None = None,
    **options: Any,
) -> dict[str, Manifest]:
    """Write a source as two shard sets, ``out_dir/train`` and ``out_dir/val``.

    Each row lands in exactly one set (or its quarantine), chosen by a hash of
    its position (or of its ``split.by`` group) with ``split.seed``: the same
    source and seed give byte-identical sets on either engine. Each set is a
    verified shard set whose manifest records the split.

    Args:
        source: See :func:`write_shards`.
        out_dir: The directory of the two sets.
        split: The validation fraction, the seed and the column to split by
            (a bare number: that fraction, seed 0, row by row).
        spec: See :func:`write_shards`.
        **options: The keyword arguments of :func:`write_shards`.

    Returns:
        ``{"train": manifest, "val": manifest}``.

    Raises:
        UsageError: A ``split.by`` column the source lacks, and everything
            :func:`write_shards` raises.
    """
    if not isinstance(split, Split):
        split = Split(split)
    engine = {
        "engine": options.pop("engine", "local"),
        "scheduler": options.pop("scheduler", None),
        "scheduler_timeout": options.pop("scheduler_timeout", DEFAULT_SCHEDULER_TIMEOUT_S),
    }
    manifests = _shard(source, out_dir, spec, split, ShardOptions(**options), engine)
    return dict(zip(SPLIT_NAMES, manifests, strict=True))
