"""``zpml shard --split`` and ``zpml predict`` under hostile use, through the real command.

Each refusal: its exit code, one line naming the culprit, nothing written and
every input byte unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.conftest import labelled, zpml_fails


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A clean labelled table of 20 rows with a ``site`` column of two groups."""
    path = tmp_path / "in" / "a.parquet"
    path.parent.mkdir()
    labelled(site=["north"] * 10 + ["south"] * 10).to_parquet(path, index=False)
    return path


def test_a_second_split_is_a_usage_error_naming_both(source, tmp_path):
    out = tmp_path / "out"
    zpml_fails(2, r"--split given 2 times \('val=0.2', 'val=0.3'\)", "shard", source, out,
               "--split", "val=0.2", "--split", "val=0.3", inputs=(source,))  # fmt: skip
    zpml_fails(2, r"--split given 2 times \('val=0.2', 'test=0.1'\)", "shard", source, out,
               "--split", "val=0.2", "--split", "test=0.1", inputs=(source,))  # fmt: skip
    zpml_fails(2, r"--split takes val=F.*got 'test=0.1'", "shard", source, out, "--split",
               "test=0.1", inputs=(source,))  # fmt: skip
    assert not out.exists()
