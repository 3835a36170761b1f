"""Encoding status labels from every container to int8 codes, and naming bad labels."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from zpml_data.encode import encode_status, suggest_label
from zpml_data.errors import DataError, StatusLabelError

LABELS = ["finite", "bottom", "censored_below", "censored_above", "domain_invalid", "missing"]
LABELS += ["fault"]
CODES = np.arange(7, dtype=np.int8)


@pytest.mark.parametrize(
    "labels",
    [
        LABELS,
        tuple(LABELS),
        np.array(LABELS),
        np.array(LABELS, dtype=object),
        pd.Series(LABELS),
        pd.Series(LABELS, dtype="string"),
        pd.Series(LABELS, dtype="category"),
        pd.Categorical(LABELS, categories=list(reversed(LABELS))),
        pd.Index(LABELS),
        pa.array(LABELS),
        pa.array(LABELS, type=pa.large_string()),
        pa.array(LABELS).dictionary_encode(),
        pa.chunked_array([LABELS[:3], LABELS[3:]]),
        pa.chunked_array(
            [pa.array(LABELS[:4]).dictionary_encode(), pa.array(LABELS[4:]).dictionary_encode()]
        ),
        CODES,
        CODES.astype(np.int64),
        list(range(7)),
        torch.arange(7),
        pa.array(CODES),
        pd.Series(CODES),
    ],
    ids=lambda labels: type(labels).__name__,
)
def test_encode_every_input_kind(labels):
    codes = encode_status(labels)
    assert codes.dtype == np.int8
    np.testing.assert_array_equal(codes, CODES)


def test_encode_keeps_shape():
    assert encode_status("fault").shape == ()
    assert int(encode_status("fault")) == 6
    nested = [["finite", "bottom"], ["fault", "missing"]]
    np.testing.assert_array_equal(encode_status(nested), [[0, 1], [6, 5]])
    np.testing.assert_array_equal(encode_status(np.array(nested)), [[0, 1], [6, 5]])
    assert encode_status([]).shape == (0,)
    assert encode_status(pa.chunked_array([], type=pa.string())).shape == (0,)


def test_unknown_labels_are_named_with_counts_positions_and_hints():
    labels = ["finite", "Finite", None, "censored-above", "zz", "Finite", "finite"]
    with pytest.raises(StatusLabelError, match="unknown status labels: ") as info:
        encode_status(labels)
    message = str(info.value)
    assert "'Finite' (2 rows, first at 1, 5) — did you mean 'finite'?" in message
    assert "'censored-above' (1 row, first at 3) — did you mean 'censored_above'?" in message
    assert "null (1 row, first at 2)" in message
    assert "'zz' (1 row, first at 4)." in message
    assert "'finite' (" not in message  # valid labels are not reported


def test_label_errors_are_value_and_data_errors():
    with pytest.raises(ValueError, match="unknown status labels"):
        encode_status(["nope"])
    with pytest.raises(DataError, match="unknown status labels: 'nope'"):
        encode_status(["nope"])


@pytest.mark.parametrize(
    "labels",
    [
        pa.array(["finite", None, "bad"]),
        pa.array(["finite", None, "bad"]).dictionary_encode(),
        pd.Series(["finite", None, "bad"], dtype="category"),
        np.array(["finite", None, "bad"], dtype=object),
    ],
    ids=["arrow", "arrow-dict", "categorical", "object"],
)
def test_nulls_and_unknowns_in_every_container(labels):
    with pytest.raises(StatusLabelError, match=r"null \(1 row, first at 1\).*'bad' \(1 row"):
        encode_status(labels)


def test_positions_count_across_arrow_chunks():
    labels = pa.chunked_array([["finite"] * 3, ["finite", "oops"]])
    with pytest.raises(StatusLabelError, match=r"'oops' \(1 row, first at 4\)"):
        encode_status(labels)


def test_out_of_range_codes():
    with pytest.raises(
        StatusLabelError, match=r"unknown status codes: -1 \(1 row, first at 2\); 9"
    ):
        encode_status(np.array([0, 9, -1, 9], dtype=np.int8))


def test_ragged_nested_labels():
    with pytest.raises(StatusLabelError, match="ragged"):
        encode_status([["finite"], ["finite", "fault"]])


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        ("Finite", "finite"),
        (" FAULT ", "fault"),
        ("censored-above", "censored_above"),
        ("censored above", "censored_above"),
        ("domain_invalidd", "domain_invalid"),
        ("xyz", None),
        (3, None),
    ],
)
def test_suggest_label(bad, hint):
    assert suggest_label(bad) == hint


@settings(max_examples=60, deadline=None)
@given(
    order=st.permutations(range(7)).flatmap(lambda p: st.integers(1, 7).map(lambda n: p[:n])),
    picks=st.lists(st.integers(0, 6), max_size=40),
    null_at=st.one_of(st.none(), st.integers(0, 39)),
)
def test_arrow_dictionaries_in_any_order_encode_each_rows_label(order, picks, null_at):
    # Whether the dictionary lists the labels in code order (the indices are then
    # the codes) or in any other order, each row gets its own label's code.
    indices = [i % len(order) for i in picks]
    if null_at is not None and null_at < len(indices):
        indices[null_at] = None
    array = pa.DictionaryArray.from_arrays(
        pa.array(indices, pa.int32()), pa.array([LABELS[c] for c in order])
    )
    if None in indices:
        with pytest.raises(StatusLabelError, match=rf"null \(1 row, first at {null_at}\)"):
            encode_status(array)
        return
    np.testing.assert_array_equal(encode_status(array), [order[i] for i in indices])
