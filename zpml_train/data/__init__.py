"""Shards into batches: the typed Batch, the epoch plan, the window reader, the loader."""
