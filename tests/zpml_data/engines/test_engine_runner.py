"""The engine contract: tasks over partitions in order, and a deadline on every Dask wait."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from zpml_data.auditing.engine import audit
from zpml_data.cli.main import main
from zpml_data.engines.runner import Part, open_runner
from zpml_data.errors import ConfigError, SourceError
from zpml_data.io.sources import open_source
from zpml_data.shards.writer import write_shards


def rows_and_first(part: Part, batch_size: int) -> tuple[int, int, int]:
    """A task: the partition's index, first source row and rows read."""
    rows = sum(b.batch.num_rows for b in part.source.batches(None, batch_size))
    return part.index, part.source_row, rows


def test_the_local_engine_runs_one_partition_the_whole_source():
    table = pa.table({"value": np.arange(10.0), "status": ["finite"] * 10})
    with open_runner(open_source(table), batch_size=4) as runner:
        assert runner.map_parts(rows_and_first, 4) == [(0, 0, 10)]
        assert runner.map(divmod, [7, 9], 4) == [(1, 3), (2, 1)]


def test_the_dask_engine_maps_partitions_in_order(tmp_path):
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"value": np.arange(100.0)}), path, row_group_size=10)
    with (
        LocalCluster(n_workers=2, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
        open_runner(open_source(path), "dask", batch_size=10, scheduler=client) as runner,
    ):
        results = runner.map_parts(rows_and_first, 10)
        assert runner.map(divmod, [7, 9], 4) == [(1, 3), (2, 1)]
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
        open_runner(open_source(path), "dask", batch_size=10, scheduler=client,
                    scheduler_timeout=0.3) as runner,
        pytest.raises(SourceError, match=r"finished no task within 0.3 s .*--scheduler-timeout"),
    ):  # fmt: skip
        runner.map(time.sleep, [3.0])
    assert [r[0] for r in results] == list(range(len(results))) and len(results) > 1
    assert [r[1] for r in results] == list(np.cumsum([0] + [r[2] for r in results])[:-1])
    assert sum(r[2] for r in results) == 100


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_a_timeout_that_is_not_positive_is_refused(bad):
    with (
        pytest.raises(ConfigError, match="scheduler_timeout must be"),
        open_runner(open_source(pa.table({"value": [1.0]})), batch_size=1, scheduler_timeout=bad),
    ):
        pass


@pytest.fixture
def silent_scheduler():
    """An address that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for connection in held:
        connection.close()


@pytest.fixture
def parquet(tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"value": [1.0, 2.0], "status": ["finite", "finite"]}), path)
    return path


def test_a_scheduler_that_never_answers_is_refused_within_the_deadline(
    silent_scheduler, parquet, tmp_path
):
    pytest.importorskip("distributed")
    started = time.monotonic()
    with pytest.raises(SourceError) as error:
        write_shards(
            parquet, tmp_path / "out", engine="dask", scheduler=silent_scheduler,
            scheduler_timeout=1.0,
        )  # fmt: skip
    assert time.monotonic() - started < 20
    message = str(error.value)
    assert silent_scheduler in message and "--scheduler-timeout" in message
    assert "did not answer within 1 s" in message
    assert not (tmp_path / "out").exists()
    with pytest.raises(SourceError, match="did not answer"):
        audit(parquet, engine="dask", scheduler=silent_scheduler, scheduler_timeout=1.0)


def test_zpml_audit_on_a_silent_scheduler_exits_2_in_one_line(silent_scheduler, parquet, capsys):
    pytest.importorskip("distributed")
    argv = ["audit", str(parquet), "--engine", "dask", "--scheduler", silent_scheduler]
    assert main([*argv, "--scheduler-timeout", "0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert silent_scheduler in err and "--scheduler-timeout SECONDS" in err


def test_an_address_with_nothing_listening_is_refused_naming_it(tmp_path, parquet):
    pytest.importorskip("distributed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    address = f"tcp://127.0.0.1:{port}"
    with pytest.raises(SourceError, match=f"cannot connect to the Dask scheduler '{address}'"):
        audit(parquet, engine="dask", scheduler=address, scheduler_timeout=0.5)
