"""Reading sources as streams of record batches, and writing files atomically."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zpml_data._lazy import lazy_exports

# Rows per record batch read: a few MB per column, amortises per-batch overhead.
DEFAULT_BATCH_SIZE = 262_144

_EXPORTS = {
    "Source": "zpml_data.io.sources",
    "SourceBatch": "zpml_data.io.sources",
    "open_source": "zpml_data.io.sources",
    "atomic_path": "zpml_data.io.atomic",
    "atomic_write_text": "zpml_data.io.atomic",
    "parquet_writer": "zpml_data.io.atomic",
    "progress_bar": "zpml_data.io.progress",
}
__all__ = ["DEFAULT_BATCH_SIZE", *sorted(_EXPORTS)]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from zpml_data.io.atomic import atomic_path, atomic_write_text, parquet_writer
    from zpml_data.io.progress import progress_bar
    from zpml_data.io.sources import Source, SourceBatch, open_source
