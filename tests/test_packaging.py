"""The distribution builds with what pyproject.toml asks for and ships every module."""

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_a_license_expression_asks_for_a_setuptools_that_reads_it():
    assert isinstance(PYPROJECT["project"]["license"], str)  # PEP 639: "MIT"
    [requirement] = [r for r in PYPROJECT["build-system"]["requires"] if "setuptools" in r]
    minimum = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", requirement)
    assert minimum is not None and int(minimum.group(1)) >= 77


def test_the_wheel_ships_every_module_and_schema(tmp_path):
    source = tmp_path / "src"  # a copy: building writes build/ and *.egg-info beside the source
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("zpml_data", "zpml_train"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__py*"))
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run(
        [*build, "-w", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
    )
    [wheel] = (tmp_path / "dist").glob("zpml-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        str(path.relative_to(source))
        for package in ("zpml_data", "zpml_train")
        for path in (source / package).rglob("*")
        if path.is_file()
    }
    assert expected <= shipped, sorted(expected - shipped)
    assert "zpml_data/shards/manifest.py" in shipped
    assert "zpml_data/schemas/manifest.schema.json" in shipped
