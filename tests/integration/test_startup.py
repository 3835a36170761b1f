"""Startup stays light: `zpml --help` and a shard reader import no pandas, pandera or torch."""

import subprocess
import sys

import pytest

HEAVY = ("pandas", "pandera", "torch")

# Prints which of HEAVY the snippet before it imported.
REPORT = "import sys; print('heavy:' + ','.join(m for m in {heavy!r} if m in sys.modules))"


def heavy_modules_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; the heavy modules it left in ``sys.modules``."""
    script = f"{code}\n{REPORT.format(heavy=HEAVY)}"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    report = result.stdout.rsplit("heavy:", 1)[1].strip()
    return [name for name in report.split(",") if name]


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["shard", "--help"]])
def test_zpml_help_and_version_import_no_heavy_module(argv):
    code = (
        "from zpml_data.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
    )
    assert heavy_modules_after(code) == []


READER_MODULES = [
    "zpml_data",
    "zpml_data.shards.manifest",
    "zpml_data.shards.format",
    "zpml_data.lift",
]


@pytest.mark.parametrize("module", READER_MODULES)
def test_a_shard_reader_imports_no_heavy_module(module):
    assert heavy_modules_after(f"import {module}") == []


def test_the_check_sees_a_heavy_import():
    assert heavy_modules_after("import zpml_data.shards.writer") == ["pandas", "pandera"]
