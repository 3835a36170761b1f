"""Every source row is accounted for: in exactly one shard or in quarantine."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zpml_data.shards.manifest import read_manifest
from zpml_data.shards.writer import write_shards
from zpml_data.status import STATUS_LABELS


@st.composite
def tables(draw):
    n = draw(st.integers(1, 150))
    status = draw(
        st.lists(st.sampled_from([*STATUS_LABELS, None, "Bottom"]), min_size=n, max_size=n)
    )
    values = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n))
    return pd.DataFrame(
        {"x": np.arange(n, dtype=float), "value": values, "status": pd.Series(status, dtype=object)}
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tables(), st.integers(1, 40), st.integers(1, 60))
def test_every_row_in_exactly_one_place(tmp_path, frame, batch_size, rows_per_shard):
    out = tmp_path / "s"
    manifest = write_shards(
        frame,
        out,
        on_error="quarantine",
        overwrite=True,
        batch_size=batch_size,
        rows_per_shard=rows_per_shard,
    )
    kept = [
        r for s in manifest.shards for r in pq.read_table(out / s.file).column("row_id").to_pylist()
    ]
    quarantined = (
        pq.read_table(out / "quarantine.parquet").column("row_id").to_pylist()
        if manifest.quarantine
        else []
    )
    assert sorted(kept + quarantined) == list(range(len(frame)))
    assert manifest.rows + manifest.quarantined_rows == manifest.source_rows == len(frame)
    # A finite row needs a value that is finite as float32, the shards' value type.
    with np.errstate(over="ignore"):
        fits = np.isfinite(frame["value"].to_numpy().astype(np.float32))
    valid = frame["status"].isin(STATUS_LABELS) & ~((frame["status"] == "finite") & ~fits)
    assert sorted(quarantined) == list(np.flatnonzero(~valid.to_numpy()))
    assert read_manifest(out).rows == int(valid.sum())
