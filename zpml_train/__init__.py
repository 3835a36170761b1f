"""zpml_train: stream zpml shards into an SCM trainer.

The loader and trainer land with the shard format; this package already
exists so the distribution's layout is stable.
"""

__all__: list[str] = []
