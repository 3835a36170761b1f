"""Differential tests against the reference implementation (zeroproofml 0.6.1, test-only)."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch

# A dev-extra dependency: the oracle must be there, so its absence fails these tests.
import zeroproof.training.targets as reference
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.conftest import assert_targets_equal
from zpml_data import encode_status, lift_semantic_targets, lift_targets
from zpml_data.status import STATUS_LABELS

LABEL_KINDS = {
    "list": lambda labels: labels,
    "tuple": tuple,
    "numpy": lambda labels: np.array(labels),
    "object": lambda labels: np.array(labels, dtype=object),
    "series": pd.Series,
    "categorical": lambda labels: pd.Series(labels, dtype="category"),
    "arrow": pa.array,
    "large_string": lambda labels: pa.array(labels, type=pa.large_string()),
    "dictionary": lambda labels: pa.array(labels).dictionary_encode(),
    "chunked": lambda labels: pa.chunked_array(
        [labels[: len(labels) // 2], labels[len(labels) // 2 :]], type=pa.string()
    ),
    "codes": lambda labels: encode_status(labels),
    "torch_codes": lambda labels: torch.from_numpy(encode_status(labels)),
}


def edge_values(dtype):
    info = np.finfo(dtype)
    return np.array(
        [
            -0.0,
            0.0,
            info.smallest_subnormal,
            -info.smallest_subnormal,
            info.max,
            -info.max,
            info.tiny,
            1.0,
            -1.0,
            np.inf,
            -np.inf,
            np.nan,
        ],
        dtype=dtype,
    )


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("kind", sorted(LABEL_KINDS))
def test_edge_values_every_label_every_kind(dtype, kind):
    base = edge_values(dtype)
    values = np.repeat(base, len(STATUS_LABELS))
    labels = [STATUS_LABELS[i % 7] for i in range(values.size)]
    # Non-finite values cannot be labelled finite; the reference refuses those too.
    labels = [
        "bottom" if lab == "finite" and not np.isfinite(v) else lab
        for lab, v in zip(labels, values, strict=True)
    ]
    expected = reference.lift_semantic_targets(values, labels)
    assert_targets_equal(lift_semantic_targets(values, LABEL_KINDS[kind](labels)), expected)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_torch_matches_reference(dtype):
    values = torch.tensor([-0.0, 3.0, float("inf"), float("nan"), 1e-40, -2.0, 5.0], dtype=dtype)
    labels = [
        "finite",
        "finite",
        "censored_above",
        "fault",
        "missing",
        "censored_below",
        "domain_invalid",
    ]
    assert_targets_equal(
        lift_semantic_targets(values, labels), reference.lift_semantic_targets(values, labels)
    )


@st.composite
def random_case(draw):
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64]))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5))
    values = draw(hnp.arrays(dtype, shape, elements=st.floats(width=np.finfo(dtype).bits)))
    codes = draw(hnp.arrays(np.int8, shape, elements=st.integers(0, 6)))
    codes = np.where((codes == 0) & ~np.isfinite(values), 5, codes)
    labels = np.array(STATUS_LABELS)[codes]
    return values, labels


@given(random_case())
def test_random_inputs_match_reference(case):
    values, labels = case
    nested = labels.tolist()  # what the reference accepts; a bare str for 0-d
    assert_targets_equal(
        lift_semantic_targets(values, nested), reference.lift_semantic_targets(values, nested)
    )
    assert_targets_equal(
        lift_semantic_targets(values, labels), reference.lift_semantic_targets(values, nested)
    )


@given(
    st.sampled_from([np.float16, np.float32, np.float64]).flatmap(
        lambda dt: hnp.arrays(dt, st.integers(0, 50), elements=st.floats(width=np.finfo(dt).bits))
    )
)
def test_lift_targets_matches_reference(values):
    for mine, theirs in zip(lift_targets(values), reference.lift_targets(values), strict=True):
        assert mine.dtype == theirs.dtype
        assert mine.tobytes() == theirs.tobytes()
