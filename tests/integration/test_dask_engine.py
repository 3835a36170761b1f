"""The dask engine gives the local engine's result: the same report, the same shard bytes."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from distributed import Client, LocalCluster

from zpml_data.auditing.engine import audit
from zpml_data.cli.main import main
from zpml_data.engines.partitions import plan_partitions
from zpml_data.errors import DataError, UsageError
from zpml_data.io.sources import open_source
from zpml_data.shards.writer import write_shards

LABELS = ["finite", "bottom", "censored_below", "censored_above", "domain_invalid", "missing"]
BATCH = 250  # rows per batch; a partition is at least four batches
FILE_ROWS = (2600, 1500, 900)  # the first file splits into three partitions


def write_dataset(root, files=FILE_ROWS, seed=0):
    """Parquet files with row groups of BATCH rows and planted errors in every file."""
    rng = np.random.default_rng(seed)
    root.mkdir()
    for i, n in enumerate(files):
        status = np.array(LABELS, dtype=object)[rng.integers(0, len(LABELS), n)]
        value = rng.normal(size=n)
        inputs = rng.normal(size=(n, 2))
        status[[5, 17, 40]] = ["Finite", None, "censored-above"]  # bad labels
        status[[60, 61, 70]] = "finite"
        value[60] = np.nan  # a finite row without a finite value
        value[61] = 1e39  # finite in float64, not in float32
        inputs[70, 1] = np.inf  # an audit warning; shards set the row aside
        value[status == "censored_below"], value[status == "censored_above"] = -2.0, 2.5
        status[100:140], value[100:140] = "finite", -2.0  # a heap at the detection limit
        status[200:230], value[200:230] = "finite", 9999.0  # a number standing for a status
        s2 = np.arange(n) % 3 == 2
        status[s2 & (np.arange(n) >= 300) & (np.arange(n) < 900)] = "fault"  # s2 skews to faults
        table = pa.table(
            {
                "value": value,
                "status": pa.array(status.tolist(), pa.string()),
                "x0": inputs[:, 0],
                "x1": inputs[:, 1],
                "site": [f"s{j % 3}" for j in range(n)],
            }
        )
        if i == len(files) - 1:  # read as float64, the type of the files before it
            table = table.set_column(2, "x0", pa.array(np.round(inputs[:, 0] * 100), pa.int64()))
        pq.write_table(table, root / f"part{i}.parquet", row_group_size=BATCH)
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("dask") / "data")


@pytest.fixture(scope="module")
def client():
    """Two in-process workers: quick to start; one test below uses worker processes."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


SHARDS = dict(rows_per_shard=700, row_group_rows=128, on_error="quarantine", batch_size=BATCH)


def manifest_json(manifest):
    return json.loads(manifest.to_json())


def test_the_dataset_splits_within_files_and_shards_span_partitions(dataset):
    partitions = plan_partitions(open_source(dataset), BATCH, 4 * BATCH)
    assert [(p.first_row, p.rows) for p in partitions[:3]] == [(0, 1000), (1000, 1000), (2000, 600)]
    assert [p.source_row for p in partitions] == [0, 1000, 2000, 2600, 3600, 4100]
    assert 700 % 1000 and len(partitions) == 6  # 700-row shards straddle partition ends


def report_json(report):
    return json.loads(report.to_json())


def test_dask_audit_gives_the_local_report(dataset, client):
    local = audit(dataset, group_by=["site"], batch_size=BATCH)
    dask = audit(dataset, group_by=["site"], batch_size=BATCH, engine="dask", scheduler=client)
    assert report_json(dask) == report_json(local)
    failed = {c.name: c.failed for c in local.targets[0].checks}
    planted = {"status_present": 3, "status_known": 6, "finite_value": 6, "input_finite": 3}
    assert {name: failed[name] for name in planted} == planted
    # The group-level checks merge across partitions too: each found something here.
    for name in ("finite_beyond_limit", "heaping_at_limit", "sentinel_number"):
        assert failed[name] > 0
    assert failed["status_skew_by_group"] > 0
    assert set(local.targets[0].files) == {str(p) for p in sorted(dataset.iterdir())}


def test_dask_audit_with_compare(dataset, client, tmp_path):
    other = write_dataset(tmp_path / "other", files=(1200,), seed=1)
    local = audit(dataset, compare=other, batch_size=BATCH)
    dask = audit(dataset, compare=other, batch_size=BATCH, engine="dask", scheduler=client)
    assert local.comparison is not None
    assert report_json(dask) == report_json(local)


def test_dask_audit_on_worker_processes_of_a_default_cluster(dataset):
    local = audit(dataset, group_by=["site"], batch_size=BATCH)
    dask = audit(dataset, group_by=["site"], batch_size=BATCH, engine="dask")
    assert report_json(dask) == report_json(local)


def test_zpml_audit_engine_dask_prints_the_local_json(dataset, client, capsys):
    argv = ["audit", str(dataset), "--group-by", "site", "--json", "-", "--batch-size", "250"]
    assert main(argv) == 1  # bad labels fail the audit on both engines
    local = capsys.readouterr().out
    assert main([*argv, "--engine", "dask", "--scheduler", client.scheduler.address]) == 1
    assert json.loads(capsys.readouterr().out) == json.loads(local)


def test_dask_shards_equal_local_shards_byte_for_byte(dataset, client, tmp_path):
    local = write_shards(dataset, tmp_path / "local", seed=7, **SHARDS)
    dask = write_shards(
        dataset, tmp_path / "dask", seed=7, engine="dask", scheduler=client, **SHARDS
    )
    assert local.quarantined_rows == 6 * len(FILE_ROWS)  # with the input that is not finite
    assert len(local.shards) == 8 and local.quarantine is not None
    assert manifest_json(dask) == manifest_json(local)
    for name in [s.file for s in local.shards] + ["quarantine.parquet", "manifest.json"]:
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_dask_shards_on_worker_processes_of_a_default_cluster(dataset, tmp_path):
    local = write_shards(dataset, tmp_path / "local", **SHARDS)
    dask = write_shards(dataset, tmp_path / "dask", engine="dask", **SHARDS)
    assert manifest_json(dask) == manifest_json(local)


def test_abort_names_the_first_bad_batch_as_the_local_engine_does(dataset, client, tmp_path):
    with pytest.raises(DataError) as local:
        write_shards(dataset, tmp_path / "local", batch_size=BATCH)
    with pytest.raises(DataError) as dask:
        write_shards(dataset, tmp_path / "dask", batch_size=BATCH, engine="dask", scheduler=client)
    assert str(dask.value) == str(local.value)
    assert "part0.parquet" in str(dask.value)
    assert list((tmp_path / "dask").iterdir()) == []


def test_the_dask_engine_reads_parquet_only(tmp_path, client):
    csv = tmp_path / "data.csv"
    csv.write_text("value,status\n1.0,finite\n")
    with pytest.raises(UsageError, match=r"data.csv: the dask engine reads Parquet files"):
        write_shards(csv, tmp_path / "out", engine="dask", scheduler=client)
    assert not (tmp_path / "out").exists()


def test_zpml_shard_engine_dask_on_a_scheduler_address(dataset, client, tmp_path, capsys):
    args = ["--rows-per-shard", "700", "--on-error", "quarantine", "--seed", "3"]
    assert main(["shard", str(dataset), str(tmp_path / "local"), *args]) == 0
    address = ["--engine", "dask", "--scheduler", client.scheduler.address]
    assert main(["shard", str(dataset), str(tmp_path / "dask"), *args, *address]) == 0
    local = (tmp_path / "local" / "manifest.json").read_text()
    assert (tmp_path / "dask" / "manifest.json").read_text() == local


def test_scheduler_without_the_dask_engine_is_a_usage_error(dataset, tmp_path, capsys):
    assert main(["shard", str(dataset), str(tmp_path), "--scheduler", "tcp://h:8786"]) == 2
    assert "--scheduler names a Dask scheduler; add --engine dask" in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["audit", "shard"])
def test_engine_dask_without_dask_exits_2_naming_the_extra(dataset, tmp_path, verb):
    argv = [verb, str(dataset), *([str(tmp_path / "out")] if verb == "shard" else [])]
    code = (
        "import sys\n"
        "sys.modules['dask'] = None\n"
        "from zpml_data.cli.main import main\n"
        f"sys.exit(main({[*argv, '--engine', 'dask']!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert 'install the extra (pip install "zpml[dask]")' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_dask_splits_and_one_hot_inputs_equal_the_local_ones(dataset, client, tmp_path):
    from zpml_data.shards.split import Split
    from zpml_data.shards.writer import write_split_shards
    from zpml_data.spec import DatasetSpec

    spec = DatasetSpec(inputs=("x0", "x1", "site"))
    split = Split(0.3, seed=4, by="site")
    options = dict(SHARDS, seed=2)
    local = write_split_shards(dataset, tmp_path / "local", split, spec, **options)
    dask = write_split_shards(
        dataset, tmp_path / "dask", split, spec, engine="dask", scheduler=client, **options
    )
    assert local["train"].categories == {"site": ["s0", "s1", "s2"]}
    assert {name: manifest_json(m) for name, m in dask.items()} == {
        name: manifest_json(m) for name, m in local.items()
    }
    for name in ("train", "val"):
        files = sorted(p.name for p in (tmp_path / "local" / name).iterdir())
        assert files == sorted(p.name for p in (tmp_path / "dask" / name).iterdir())
        for file in files:
            local_bytes = (tmp_path / "local" / name / file).read_bytes()
            assert (tmp_path / "dask" / name / file).read_bytes() == local_bytes


def _executing(dask_worker) -> int:
    return dask_worker.state.executing_count


def test_a_task_that_outlives_an_abort_leaves_nothing_behind(client, tmp_path):
    # A bad row fails the small file's partition at once, while the other worker is
    # still checking the large file's first batch. Dask cannot stop that task: it
    # goes on to stage its rows after the run has cleared up and raised.
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for name, rows in (("a", 200_000), ("b", 1_000_000)):
        status = np.full(rows, "finite", dtype=object)
        status[3] = "Finite" if name == "a" else "finite"
        table = pa.table(
            {"value": rng.normal(size=rows), "status": status, "x": rng.normal(size=rows)}
        )
        pq.write_table(table, data / f"{name}.parquet")
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"a\.parquet"):
        write_shards(data, out, batch_size=1_000_000, engine="dask", scheduler=client)
    for _ in range(600):  # until the task that ran on has ended; a deadline of a minute
        if not any(client.run(_executing).values()):
            break
        time.sleep(0.1)
    else:
        pytest.fail("a cancelled task still ran a minute after the abort")
    assert list(out.iterdir()) == []  # what a new run into it takes without --overwrite
