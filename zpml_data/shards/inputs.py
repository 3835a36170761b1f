"""Input features: numeric columns cast to float32, categorical columns one-hot encoded.

A shard's ``inputs`` block holds, per source input column in order, one
float32 feature for a numeric column, or one per category for a categorical
(text or dictionary) column: 1.0 in the row's category, 0.0 elsewhere. The
categories and their order are recorded in the manifest, so whoever encodes
new rows (``zpml predict``) encodes them the same way with
:func:`encode_inputs`. A value that is not among the categories (or null)
encodes as all zeros, and is counted. Needs pyarrow and numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# More categories than this in one input column is an identifier, not a category.
MAX_CATEGORIES = 1000


def is_categorical(kind: pa.DataType) -> bool:
    """Whether a column of this type is one-hot encoded when named as an input."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def feature_names(inputs: Sequence[str], categories: Mapping[str, Sequence[str]]) -> list[str]:
    """The shard's feature names: a numeric input's own name, ``column=category`` per category."""
    names: list[str] = []
    for column in inputs:
        if column in categories:
            names += [f"{column}={category}" for category in categories[column]]
        else:
            names.append(column)
    return names


def _text(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column.cast(pa.string())


def one_hot(
    column: pa.Array | pa.ChunkedArray, categories: Sequence[str]
) -> tuple[np.ndarray, int]:
    """One-hot encode a text or dictionary column against the manifest's categories.

    Args:
        column: The values (text or dictionary of text).
        categories: The categories, in the manifest's order.

    Returns:
        A ``[rows, len(categories)]`` float32 array (all zeros for a value that
        is not a category, or null), and how many such rows there were.
    """
    index = pc.index_in(_text(column), value_set=pa.array(list(categories), pa.string()))
    if isinstance(index, pa.ChunkedArray):
        index = index.combine_chunks()
    positions = index.to_numpy(zero_copy_only=False)  # float with NaN where not found
    found = ~np.isnan(positions.astype(np.float64))
    encoded = np.zeros((len(positions), len(categories)), np.float32)
    encoded[np.flatnonzero(found), positions[found].astype(np.intp)] = 1.0
    return encoded, int((~found).sum())


def encode_inputs(
    batch: pa.RecordBatch | pa.Table,
    inputs: Sequence[str],
    categories: Mapping[str, Sequence[str]],
) -> tuple[np.ndarray, dict[str, int]]:
    """The ``[rows, F]`` float32 input block of a batch, as shards store it.

    Args:
        batch: Rows holding every input column.
        inputs: The source input columns, in order (the manifest's ``spec.inputs``).
        categories: The categories of each categorical input (the manifest's ``categories``).

    Returns:
        The features (nulls in a numeric column become NaN; numbers beyond
        float32's range become ±inf), and per categorical column the rows
        whose value is not one of its categories.
    """
    width = len(feature_names(inputs, categories))
    features = np.empty((batch.num_rows, width), np.float32)
    unseen: dict[str, int] = {}
    at = 0
    for name in inputs:
        column = batch.column(name)
        if name in categories:
            block, unseen[name] = one_hot(column, categories[name])
            features[:, at : at + block.shape[1]] = block
            at += block.shape[1]
            continue
        cast = pc.fill_null(column.cast(pa.float32(), safe=False), float("nan"))
        features[:, at] = cast.to_numpy(zero_copy_only=False)
        at += 1
    return features, unseen


def distinct_text(column: pa.Array | pa.ChunkedArray) -> set[str]:
    """The distinct non-null values of a text or dictionary column."""
    return {str(v) for v in pc.unique(_text(column)).drop_null().to_pylist()}
