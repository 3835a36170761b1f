"""Startup stays light: `zpml --help` and a shard reader import no pandas, pandera or torch."""

import subprocess
import sys

import pytest

HEAVY = ("pandas", "pandera", "torch", "dask", "distributed")


def imported_after(code: str, modules=HEAVY) -> list[str]:
    """Run ``code`` in a fresh interpreter; which of ``modules`` it left in ``sys.modules``."""
    report = f"import sys; print('loaded:' + ','.join(m for m in {modules!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"], capture_output=True, text=True, check=True
    )
    loaded = result.stdout.rsplit("loaded:", 1)[1].strip()
    return [name for name in loaded.split(",") if name]


@pytest.mark.parametrize(
    "argv", [["--help"], ["--version"], ["shard", "--help"], ["audit", "--help"]]
)
def test_zpml_help_and_version_import_no_heavy_module(argv):
    code = (
        "from zpml_data.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
    )
    assert imported_after(code) == []


READERS = [
    "zpml_data",
    "zpml_data.shards.manifest",
    "zpml_data.shards.format",
    "zpml_data.lift",
]


@pytest.mark.parametrize("module", READERS)
def test_a_shard_reader_imports_no_heavy_module(module):
    assert imported_after(f"import {module}") == []


def test_the_vocabulary_imports_no_array_library():
    assert imported_after("import zpml_data.status", ("numpy", "pyarrow", "pandas")) == []


def test_the_check_sees_a_heavy_import():
    assert imported_after("import zpml_data.shards.writer") == ["pandas", "pandera"]
