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


def test_csv_types_are_inferred_over_the_whole_file_and_text_is_kept(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,x,note\n" + "007,1,NA\n" * 5 + "008,2.5,\n")
    source = open_source(path)
    assert source.schema.types == [pa.int64(), pa.float64(), pa.string()]
    batches = list(source.batches(batch_size=2))
    assert [b.first_row for b in batches] == [0, 2, 4]
    assert batches[0].batch.column("note").to_pylist() == ["NA", "NA"]
    assert batches[-1].batch.column("x").to_pylist() == [1.0, 2.5]
    [text] = list(source.batches(keep_text=["id"]))
    assert text.batch.column("id").to_pylist()[:2] == ["007", "007"]
    [named] = list(open_source(path, null_values=["NA"]).batches(["note"]))
    assert named.batch.column("note").null_count == 6


def test_multi_file_types_are_promoted_or_refused_naming_file_and_column(tmp_path):
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "1.parquet")
    pd.DataFrame({"a": [0.5]}).to_parquet(tmp_path / "2.parquet")
    source = open_source([tmp_path / "1.parquet", tmp_path / "2.parquet"])
    assert source.schema.field("a").type == pa.float64()
    assert [b.batch.column("a").to_pylist() for b in source.batches()] == [[1.0], [0.5]]
    pd.DataFrame({"a": ["x"]}).to_parquet(tmp_path / "3.parquet")
    with pytest.raises(UsageError, match=r"3\.parquet: column 'a' is .*string here but double"):
        open_source(tmp_path)
    pd.DataFrame({"a": [1], "b": [2]}).to_parquet(tmp_path / "4.parquet")
    with pytest.raises(UsageError, match=r"4\.parquet has column\(s\) \['b'\]"):
        open_source([tmp_path / "1.parquet", tmp_path / "4.parquet"])
