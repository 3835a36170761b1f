"""A group's split depends on its value alone, never on the other rows of its batch."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from zpml_data.shards.split import Split, in_validation

SPLIT = Split(0.5, seed=3, by="site")


def _val(values: list, kind: pa.DataType) -> np.ndarray:
    batch = pa.record_batch({"site": pa.array(values, kind)})
    return in_validation(batch, np.arange(len(values)), SPLIT)


@given(
    st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), min_size=1, max_size=40),
    st.sampled_from([pa.int64(), pa.int32(), pa.float64(), pa.string()]),
)
def test_each_group_goes_where_it_would_alone_whatever_its_batch_holds(values, kind):
    if pa.types.is_string(kind):
        values = [None if v is None else str(v) for v in values]
    together = _val(values, kind)
    alone = np.array([_val([v], kind)[0] for v in values])
    assert together.tolist() == alone.tolist()


def test_an_integer_group_goes_to_one_split_whether_or_not_its_batch_holds_a_null():
    # Before, the null turned the batch's integers into floats, which hash otherwise.
    sites = list(range(64))
    with_null = _val([*sites, None], pa.int64())[:-1]
    assert with_null.tolist() == _val(sites, pa.int64()).tolist()
    assert 0 < with_null.sum() < len(sites)
