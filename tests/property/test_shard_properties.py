"""Every source row is accounted for: in exactly one shard or in quarantine."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from hypothesis import HealthCheck, example, given, settings
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


def _row_ids(directory, manifest):
    ids = [
        r for s in manifest.shards for r in pq.read_table(directory / s.file)["row_id"].to_pylist()
    ]
    if manifest.quarantine:
        ids += pq.read_table(directory / "quarantine.parquet")["row_id"].to_pylist()
    return ids


@st.composite
def grouped_tables(draw):
    n = draw(st.integers(1, 120))
    groups = draw(
        st.lists(st.sampled_from(["a", "b", "c", "d", "e", None]), min_size=n, max_size=n)
    )
    status = draw(st.lists(st.sampled_from(["finite", "bottom", "Finite"]), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "x": np.arange(n, dtype=float),
            "site": pd.Series(groups, dtype=object),
            "value": np.linspace(-1, 1, n),
            "status": status,
        }
    )


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    grouped_tables(),
    st.floats(0.05, 0.95),
    st.integers(0, 2**63 - 1),
    st.booleans(),
    st.integers(8, 50),
)
# One row that hashes into val: the train set would be empty, refused the same way twice.
@example(
    frame=pd.DataFrame({"x": [0.0], "site": ["a"], "value": [-1.0], "status": ["finite"]}),
    fraction=0.5,
    seed=0,
    by_site=False,
    batch_size=8,
)
def test_a_split_puts_every_row_in_exactly_one_set_keeps_groups_whole_and_repeats(
    tmp_path, frame, fraction, seed, by_site, batch_size
):
    from zpml_data.errors import DataError
    from zpml_data.shards.split import Split
    from zpml_data.shards.writer import write_split_shards

    split = Split(fraction, seed, "site" if by_site else None)
    written, refused = {}, []
    for attempt, size in (("one", batch_size), ("two", 64)):  # another batching, same sets
        out = tmp_path / attempt
        try:
            manifests = write_split_shards(
                frame, out, split, on_error="quarantine", batch_size=size, rows_per_shard=30,
                overwrite=True,
            )  # fmt: skip
        except DataError as error:  # every row hashed into val: no training set to write
            assert "the train split would be empty" in str(error)
            refused.append(attempt)
            continue
        written[attempt] = {name: sorted(_row_ids(out / name, m)) for name, m in manifests.items()}
        total = sum(m.source_rows for m in manifests.values())
        assert total == len(frame)
        for name, m in manifests.items():
            assert m.split == {"name": name, "fraction": fraction, "seed": seed, "by": split.by}
            assert m.rows + m.quarantined_rows == m.source_rows
    if refused:
        assert refused == ["one", "two"]  # the same refusal, whatever the batching
        return
    ids = written["one"]
    assert sorted(ids["train"] + ids["val"]) == list(range(len(frame)))  # exactly once
    assert written["one"] == written["two"]  # deterministic, whatever the batch size
    if by_site:
        site = frame["site"].fillna("<null>")
        train, val = set(site.iloc[ids["train"]]), set(site.iloc[ids["val"]])
        assert not train & val  # no group in both
    for name in ("train", "val"):  # shard bytes depend on the rows alone, not on the batches
        shards = sorted((tmp_path / "one" / name).glob("part-*.parquet"))
        for file in shards:
            assert file.read_bytes() == (tmp_path / "two" / name / file.name).read_bytes()
        assert len(shards) == len(list((tmp_path / "two" / name).glob("part-*.parquet")))
