"""Training shards: the file format, the writer, the manifest and verification.

A shard directory holds ``part-00000.parquet``, ``part-00001.parquet``, ...,
an optional ``quarantine.parquet`` of the rows that failed a check, and
``manifest.json``, written last. A reader needs only :mod:`.format` and
:mod:`.manifest` (pyarrow, numpy, jsonschema); the writer brings pandera.
Names load lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from zpml_data._lazy import lazy_exports

DEFAULT_ROWS_PER_SHARD = 1 << 20
# A shuffling loader reads one row group at a time: 16k rows is ~1 MB for ten
# features, small enough to shuffle finely, big enough to read at full speed.
DEFAULT_ROW_GROUP_ROWS = 1 << 14
# What write_shards does with a row that fails an error-level check.
OnError = Literal["abort", "quarantine"]
# Parquet codecs for shards.
Compression = Literal["snappy", "zstd", "lz4", "gzip", "none"]

_EXPORTS = {
    "MANIFEST_NAME": "zpml_data.shards.manifest",
    "Manifest": "zpml_data.shards.manifest",
    "RowGroup": "zpml_data.shards.manifest",
    "ShardFile": "zpml_data.shards.manifest",
    "read_manifest": "zpml_data.shards.manifest",
    "sha256_file": "zpml_data.shards.manifest",
    "column_2d": "zpml_data.shards.format",
    "shard_name": "zpml_data.shards.format",
    "shard_schema": "zpml_data.shards.format",
    "status_counts": "zpml_data.shards.format",
    "QuarantineWriter": "zpml_data.shards.directory",
    "write_shards": "zpml_data.shards.writer",
    "write_split_shards": "zpml_data.shards.writer",
    "Split": "zpml_data.shards.split",
    "split_dirs": "zpml_data.shards.split",
    "encode_inputs": "zpml_data.shards.inputs",
    "one_hot": "zpml_data.shards.inputs",
    "feature_names": "zpml_data.shards.inputs",
    "describe_shards": "zpml_data.shards.verify",
    "verify_shards": "zpml_data.shards.verify",
}
__all__ = [
    "DEFAULT_ROWS_PER_SHARD",
    "DEFAULT_ROW_GROUP_ROWS",
    "Compression",
    "OnError",
    *sorted(_EXPORTS),
]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from zpml_data.shards.directory import QuarantineWriter
    from zpml_data.shards.format import column_2d, shard_name, shard_schema, status_counts
    from zpml_data.shards.inputs import encode_inputs, feature_names, one_hot
    from zpml_data.shards.manifest import (
        MANIFEST_NAME,
        Manifest,
        RowGroup,
        ShardFile,
        read_manifest,
        sha256_file,
    )
    from zpml_data.shards.split import Split, split_dirs
    from zpml_data.shards.verify import describe_shards, verify_shards
    from zpml_data.shards.writer import write_shards, write_split_shards
