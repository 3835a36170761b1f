"""Verify a shard directory against its manifest, and summarise it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from zpml_data._text import status_mix_table
from zpml_data.errors import IntegrityError
from zpml_data.lift import lift_semantic_targets
from zpml_data.shards.columns import describe_inputs
from zpml_data.shards.format import (
    bad_status_codes,
    column_2d,
    null_problems,
    open_shard,
    shard_schema,
    status_counts,
)
from zpml_data.shards.manifest import Manifest, ShardFile, check_file, read_manifest
from zpml_data.status import STATUS_LABELS

_LIFTED = ("Y_n", "Y_d", "mask_finite", "mask_bottom", "orientation_label", "bottom_kind")


def _check_shard(directory: Path, entry: ShardFile, schema: pa.Schema) -> list[str]:
    """Everything wrong with one shard file, each problem naming the file."""
    try:
        path = check_file(directory, entry.file, entry.bytes, entry.sha256, hash_file=True)
        file = open_shard(path, entry, schema, verified=True)
    except IntegrityError as error:
        return [str(error)]
    try:
        table = file.read()
    except (pa.ArrowInvalid, OSError) as error:
        return [f"{entry.file}: not a readable Parquet file: {error}"]
    finally:
        file.close()
    groups = [file.metadata.row_group(i).num_rows for i in range(file.num_row_groups)]
    nulls = null_problems(entry, table)
    if nulls:  # nothing else can be counted or lifted
        return nulls
    codes = column_2d(table, "status")
    bad = bad_status_codes(codes)
    if bad.size:  # nothing else can be counted or lifted
        return [
            f"{entry.file}: {bad.size:,} status codes outside 0..{len(STATUS_LABELS) - 1} "
            f"(first at cell {bad[0]:,}, code {int(codes.ravel()[bad[0]])})"
        ]
    return _count_problems(entry, table, groups) + _lift_problems(entry, table)


def _count_problems(entry: ShardFile, table: pa.Table, groups: list[int]) -> list[str]:
    """Rows, row-group layout and status counts (per shard and per row group) against the entry."""
    problems = []
    if table.num_rows != entry.rows:
        problems.append(f"{entry.file}: {table.num_rows:,} rows, the manifest says {entry.rows:,}")
    codes = column_2d(table, "status")
    if status_counts(codes) != entry.status_counts:
        problems.append(f"{entry.file}: status counts differ from the manifest")
    starts = [sum(groups[:i]) for i in range(len(groups))]
    if (groups, starts) != (
        [g.rows for g in entry.row_groups],
        [g.first_row for g in entry.row_groups],
    ):
        problems.append(f"{entry.file}: row groups of {groups} rows, the manifest says otherwise")
        return problems  # the per-group counts below need the stated layout
    problems += [
        f"{entry.file}: row group {i} (rows {g.first_row:,}..): status counts differ from "
        "the manifest"
        for i, g in enumerate(entry.row_groups)
        if status_counts(codes[g.first_row : g.first_row + g.rows]) != g.status_counts
    ]
    return problems


def _lift_problems(entry: ShardFile, table: pa.Table) -> list[str]:
    """The stored lifted columns against a fresh lift of ``(values, status)``."""
    fresh = lift_semantic_targets(column_2d(table, "values"), column_2d(table, "status"))
    problems = []
    for name in _LIFTED:
        stored = column_2d(table, name)
        expected = np.asarray(getattr(fresh, name)).astype(stored.dtype)
        if stored.tobytes() != expected.tobytes():
            problems.append(
                f"{entry.file}: stored {name} differs from a fresh lift of (values, status)"
            )
    return problems


def verify_shards(directory: str | Path) -> Manifest:
    """Check a shard directory file by file against its manifest.

    Checks each shard's size and sha256, its schema, row and row-group counts,
    status counts (of the shard and of each row group), and that the stored
    lifted columns equal a fresh lift of ``(values, status)``; the quarantine
    file's size and sha256; and that ``rows + quarantined_rows == source_rows``.

    Returns:
        The manifest, when everything checks out.

    Raises:
        IntegrityError: Listing every problem found, each naming its file.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    schema = shard_schema(manifest.inputs, len(manifest.targets))
    problems = [p for entry in manifest.shards for p in _check_shard(directory, entry, schema)]
    if manifest.quarantine is not None:
        entry = manifest.quarantine
        try:
            check_file(directory, entry["file"], entry["bytes"], entry["sha256"], hash_file=True)
        except IntegrityError as error:
            problems.append(str(error))
    if sum(s.rows for s in manifest.shards) != manifest.rows:
        problems.append(
            f"manifest.json: shard rows add up to {sum(s.rows for s in manifest.shards):,}, "
            f"not {manifest.rows:,}"
        )
    if manifest.rows + manifest.quarantined_rows != manifest.source_rows:
        problems.append("manifest.json: rows + quarantined_rows != source_rows (rows were lost)")
    if problems:
        raise IntegrityError(
            f"{directory}: {len(problems)} problem{'s' if len(problems) > 1 else ''}:\n  "
            + "\n  ".join(problems)
        )
    return manifest


def describe_shards(manifest: Manifest, directory: str | Path) -> str:
    """A readable summary of a manifest: rows, shards, status mix, provenance."""
    lines = [
        f"{directory}: {manifest.format} v{manifest.version}, written by {manifest.created_by}",
        f"  rows: {manifest.rows:,} in {len(manifest.shards)} shard(s); quarantined: "
        f"{manifest.quarantined_rows:,}; source rows: {manifest.source_rows:,}",
        f"  targets: {', '.join(manifest.targets)}; inputs: {len(manifest.inputs)} feature(s)",
    ]
    if manifest.split is not None:
        split = manifest.split
        by = f", groups of {split['by']!r} kept whole" if split["by"] else ""
        lines.append(
            f"  split: the {split['name']} set of a split with {split['fraction']:g} to "
            f"validation (seed {split['seed']}{by})"
        )
    sources = manifest.spec.get("inputs", manifest.inputs)
    lines += describe_inputs(list(sources), manifest.categories, manifest.excluded_columns)
    lines += status_mix_table(manifest.status_counts, unit="cells")
    lines += [
        f"  {s.file}: {s.rows:,} rows, {len(s.row_groups)} row groups, {s.bytes:,} bytes"
        for s in manifest.shards
    ]
    lines += [f"  source: {src['file']} ({src['sha256'][:12]}…)" for src in manifest.source]
    return "\n".join(lines)
