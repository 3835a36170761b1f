import pandas as pd
import pyarrow as pa
import pytest

from zpml_data.errors import ConfigError, SourceError, UsageError
from zpml_data.io.sources import open_source


def test_glob_and_directory_stream_every_row_with_file_and_row(tmp_path):
    for i in range(3):
        pd.DataFrame({"v": range(i * 10, i * 10 + 10)}).to_parquet(tmp_path / f"p{i}.parquet")
    source = open_source(str(tmp_path / "p*.parquet"))
    assert source.count_rows() == 30
    batches = list(source.batches(["v"], batch_size=4))
    files = [b.file.rsplit("/", 1)[-1] for b in batches]
    assert files == ["p0.parquet"] * 3 + ["p1.parquet"] * 3 + ["p2.parquet"] * 3
    assert [b.first_row for b in batches[:3]] == [0, 4, 8]
    assert sum(b.batch.num_rows for b in batches) == 30
    assert open_source(tmp_path).names == source.names


def test_csv_empty_cells_are_null(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("value,status\n1.0,finite\n,\n")
    [part] = list(open_source(path).batches())
    assert part.batch.column("status").null_count == 1
    assert open_source(path).count_rows() is None  # not cheap for CSV


def test_in_memory_sources():
    frame = pd.DataFrame({"a": [1, 2, 3]})
    assert open_source(frame).names == ["<DataFrame>"]
    assert open_source(pa.Table.from_pandas(frame)).count_rows() == 3


def test_errors(tmp_path):
    with pytest.raises(SourceError, match="no such file or directory"):
        open_source(tmp_path / "absent.csv")
    with pytest.raises(SourceError, match="matches no file"):
        open_source(str(tmp_path / "*.parquet"))
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(UsageError, match=r"unknown file type '\.json'"):
        open_source(tmp_path / "x.json")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "a.parquet")
    pd.DataFrame({"b": [1]}).to_parquet(tmp_path / "b.parquet")
    with pytest.raises(UsageError, match=r"lacks column\(s\) \['a'\]"):
        open_source([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(SourceError, match="cannot open as parquet"):
        open_source(tmp_path / "bad.parquet")


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_batch_size_must_be_a_positive_integer(batch_size):
    source = open_source(pd.DataFrame({"v": [1, 2]}))
    with pytest.raises(ConfigError, match=f"batch_size must be .*got {batch_size!r}"):
        next(source.batches(batch_size=batch_size))
