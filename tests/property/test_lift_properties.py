"""Invariants of encoding and lifting, for any labels, dtype and shape."""

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.conftest import assert_bitwise_equal
from zpml_data import encode_status, lift_semantic_targets, lift_targets
from zpml_data.status import STATUS_LABELS

# ARCHITECTURE.md's semantics table, spelled here independently of zpml_data.status.
Y_N = {1: 1.0, 2: -1.0, 3: 1.0, 4: 1.0, 5: 0.0, 6: 1.0}
Y_D = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
BOTTOM = [False, True, True, True, True, False, True]
ORIENTATION = [0, 0, -1, 1, 0, 0, 0]
BOTTOM_KIND = [0, 2, 2, 2, 2, 0, 1]

dtypes = st.sampled_from([np.float16, np.float32, np.float64])
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)


@st.composite
def labelled_values(draw):
    dtype, shape = draw(dtypes), draw(shapes)
    values = draw(hnp.arrays(dtype, shape, elements=st.floats(width=np.finfo(dtype).bits)))
    codes = draw(hnp.arrays(np.int8, shape, elements=st.integers(0, 6)))
    # A non-finite value cannot be labelled finite: relabel those as bottom.
    codes = np.where((codes == 0) & ~np.isfinite(values), 1, codes).astype(np.int8)
    return values, codes


@given(labelled_values())
def test_lifting_follows_the_table(case):
    values, codes = case
    targets = lift_semantic_targets(values, codes)
    table_y_n = np.array([0.0] + [Y_N[c] for c in range(1, 7)], dtype=values.dtype)
    expected_y_n = np.where(codes == 0, values, table_y_n[codes])
    assert_bitwise_equal(targets.Y_n, np.asarray(expected_y_n, dtype=values.dtype))
    assert_bitwise_equal(targets.Y_d, np.array(Y_D, dtype=values.dtype)[codes])
    assert_bitwise_equal(targets.mask_finite, codes == 0)
    assert_bitwise_equal(targets.mask_bottom, np.array(BOTTOM)[codes])
    assert_bitwise_equal(targets.orientation_label, np.array(ORIENTATION, dtype=np.int64)[codes])
    assert_bitwise_equal(targets.bottom_kind, np.array(BOTTOM_KIND, dtype=np.int64)[codes])


@given(labelled_values())
def test_torch_and_numpy_agree(case):
    values, codes = case
    on_numpy = lift_semantic_targets(values, codes)
    on_torch = lift_semantic_targets(torch.from_numpy(values), torch.from_numpy(codes))
    for field in ("Y_n", "Y_d", "mask_finite", "mask_bottom", "orientation_label", "bottom_kind"):
        assert_bitwise_equal(getattr(on_torch, field), getattr(on_numpy, field))


codes_1d = hnp.arrays(np.int8, st.integers(0, 200), elements=st.integers(0, 6))


@given(codes_1d, st.sampled_from(["list", "numpy", "object", "categorical", "arrow", "dict"]))
def test_codes_round_trip_through_labels(codes, kind):
    labels = [STATUS_LABELS[c] for c in codes]
    container = {
        "list": lambda: labels,
        "numpy": lambda: np.array(labels, dtype=str),
        "object": lambda: np.array(labels, dtype=object),
        "categorical": lambda: pd.Categorical(labels),
        "arrow": lambda: pa.array(labels, type=pa.string()),
        "dict": lambda: pa.array(labels, type=pa.string()).dictionary_encode(),
    }[kind]()
    decoded = encode_status(container)
    assert_bitwise_equal(decoded, codes)
    assert [STATUS_LABELS[c] for c in decoded] == labels


@given(
    dtypes.flatmap(lambda dt: hnp.arrays(dt, shapes, elements=st.floats(width=np.finfo(dt).bits)))
)
def test_default_legacy_policy_lifts_like_lift_targets(values):
    labels = np.select(
        [np.isnan(values), np.isposinf(values), np.isneginf(values)],
        ["bottom", "censored_above", "censored_below"],
        default="finite",
    )
    targets = lift_semantic_targets(values, labels)
    y_n, y_d = lift_targets(values)
    assert_bitwise_equal(targets.Y_n, y_n)
    assert_bitwise_equal(targets.Y_d, y_d)
