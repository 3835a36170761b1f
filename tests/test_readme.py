"""Every code block of the README runs as written and every comment in it is true.

Blocks are checked in order; a block added to the README must be added here.
"""

import ast
import re
import shlex
import tomllib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from tests.conftest import DemoRun, assert_targets_equal
from zpml_data import DatasetSpec, Target
from zpml_data.auditing.report import AuditReport
from zpml_data.cli.main import build_parser
from zpml_data.convert.ledger import ConversionLedger
from zpml_data.datasets import assay_dose_response, legacy_export
from zpml_data.errors import IntegrityError, UsageError

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, re.S)


def block(index, language):
    found, code = BLOCKS[index]
    assert found == language, (index, found)
    return code


def test_every_block_is_checked_here():
    assert [language for language, _ in BLOCKS] == [
        *("bash", "bash", "python", "python", "", "yaml", "python", "bash", "bash")
    ]


def test_install_and_demo_command_names_a_real_script_and_verb():
    assert block(0, "bash").strip() == "python -m pip install -c constraints.txt . && zpml demo"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["zpml"] == "zpml_data.cli.main:main"


def test_the_test_command_is_what_ci_runs():
    command = block(1, "bash").strip()
    assert f"({command})" in (ROOT / ".ci" / "run").read_text()


def literal_claims(code):
    """``(statement, value)`` for each statement whose trailing comment states a literal."""
    lines = code.splitlines()
    for node in ast.parse(code).body:
        comment = lines[node.end_lineno - 1].partition("#")[2]
        literal = re.search(r"[\[(].*[\])]", comment)
        if literal:
            yield node, ast.literal_eval(literal.group())


def test_the_tour_runs_and_its_comments_are_true():
    code = block(2, "python")
    namespace: dict = {}
    exec(code, namespace)  # our own README
    checked = 0
    for node, expected in literal_claims(code):
        if isinstance(node, ast.Assign):  # name = ...  # claim about name
            got = namespace[node.targets[0].id]
        else:
            got = eval(compile(ast.Expression(node.value), "README", "eval"), namespace)
        np.testing.assert_array_equal(np.asarray(got, dtype=float), np.asarray(expected))
        checked += 1
    assert checked == 5  # Y_n, Y_d, bottom_kind, codes, lift_targets
    assert namespace["codes"].dtype == np.int8  # "int8 codes"
    same = namespace["lift_semantic_targets"](namespace["values"], namespace["codes"])
    assert_targets_equal(same, namespace["targets"])  # "same result"


def test_the_pipeline_api_runs_and_its_comments_are_true(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    frame = assay_dose_response(4000)
    frame.iloc[:2000].to_parquet("data/part-0.parquet")
    frame.iloc[2000:].to_parquet("data/part-1.parquet")
    legacy_export(frame).to_csv("legacy.csv", index=False)
    namespace: dict = {}
    exec(block(3, "python"), namespace)  # our own README
    assert isinstance(namespace["report"], AuditReport)
    assert set(namespace["report"].targets[0].groups["site"]) == set(frame["site"])
    assert isinstance(namespace["ledger"], ConversionLedger)
    assert namespace["manifest"].rows + namespace["manifest"].quarantined_rows == len(frame)
    shard = tmp_path / "shards" / "part-00000.parquet"
    shard.write_bytes(shard.read_bytes()[:-1])
    with pytest.raises(IntegrityError, match=r"part-00000\.parquet: .* bytes, the manifest says"):
        namespace["verify_shards"]("shards/")


def cli_reference():
    """Verb -> the options its lines in the README's CLI block name."""
    options: dict[str, set[str]] = {}
    verb = ""
    for line in block(4, "").splitlines():
        if line.startswith("zpml "):
            verb = line.split()[1]
            options[verb] = set()
        options[verb] |= set(re.findall(r"--[a-z][a-z-]*", line))
    return options


def parser_options():
    verbs = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    return {
        verb: {o for a in parser._actions for o in a.option_strings if o.startswith("--")}
        - {"--help"}
        for verb, parser in verbs.items()
    }


def test_the_cli_reference_names_every_verb_and_exactly_its_options():
    documented, actual = cli_reference(), parser_options()
    assert set(actual) <= set(documented)
    assert {"demo", "train", "predict", "evaluate"} <= set(actual)  # the plugins loaded too
    for verb in actual:
        assert documented[verb] == actual[verb], verb


def test_the_spec_file_example_loads_as_its_comments_say(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(block(5, "yaml"))
    spec = DatasetSpec.from_file(path)
    assert spec.targets == (Target("y", "y_status", censoring="limit"),)
    shorthand = DatasetSpec.from_mapping({"value": "y", "status": "y_status", "censoring": "limit"})
    assert shorthand.targets == spec.targets  # "or the shorthand"
    assert spec.inputs == ("dose", "temperature") and spec.groups == ("site",)
    assert spec.schema == str(tmp_path / "my-checks.yaml")  # "relative to this file"
    columns = pa.schema([("y", pa.float64()), ("dose", pa.float64()), ("site", pa.string())])
    with pytest.raises(UsageError, match="no column 'y_status', 'temperature'"):
        spec.resolve(columns, "src")  # "a status column named here must exist"
    columns = pa.schema([("value", pa.float64()), ("x", pa.float32()), ("site", pa.string())])
    assert DatasetSpec().resolve(columns, "src").inputs == ("x",)  # "every other numeric column"


def test_the_training_example_trains_and_its_comments_are_true(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.set_num_threads(1)  # tiny model: a second thread only waits
    namespace: dict = {}
    exec(block(6, "python"), namespace)  # our own README
    inputs, values, status = namespace["inputs"], namespace["values"], namespace["status"]
    assert (inputs.dtype, values.dtype, status.dtype) == (torch.float32, torch.float32, torch.int8)
    assert inputs.shape == (128, 1) and values.shape == status.shape == (128,)
    history = namespace["history"]
    assert [record["epoch"] for record in history] == list(range(5))
    assert {"loss", "coverage", "finite_rmse", "bottom_recall", "val_loss"} <= set(history[-1])
    assert history[-1]["loss"] < history[0]["loss"]
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    assert state["epoch"] == 5


def test_the_scaling_commands_name_real_options():
    parser = build_parser()
    commands = block(7, "bash").replace("\\\n", " ")
    lines = [line for line in commands.splitlines() if "zpml_data.cli" in line]
    assert len(lines) == 2
    for line in lines:
        argv = shlex.split(line.split("-m zpml_data.cli", 1)[1])
        assert parser.parse_args(argv).verb == "train"


def test_the_dask_commands_name_real_options():
    parser = build_parser()
    lines = [line for line in block(8, "bash").splitlines() if line.startswith("zpml ")]
    assert [line.split()[1] for line in lines] == ["audit", "shard"]
    for line in lines:
        args = parser.parse_args(shlex.split(line)[1:])
        assert (args.engine, args.scheduler) == ("dask", "tcp://scheduler.example:8786")


def test_the_check_table_lists_every_check_with_its_level():
    from zpml_data.checks.rules import CHECK_LEVELS, SHARD_LEVELS

    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", README, re.M)
    assert [name for name, _ in rows] == list(CHECK_LEVELS)  # every check, in report order
    for name, level in rows:
        assert level.split()[0] == CHECK_LEVELS[name].value, name
        if SHARD_LEVELS[name] != CHECK_LEVELS[name]:
            assert f"{SHARD_LEVELS[name].value} in `zpml shard`" in level, name


def test_the_demo_paragraph_names_what_the_demo_writes(demo: DemoRun):
    paragraph = README.split("`zpml demo [OUT]` runs", 1)[1].split("\n\n", 1)[0]
    named = re.findall(r"`OUT/([^`]+)`", paragraph)
    assert len(named) >= 10
    assert [path for path in named if not (demo.out / path).exists()] == []
    assert "zpml_data.demo.run_demo" in paragraph  # the library function it names


def test_every_example_is_named():
    examples = sorted(path.name for path in (ROOT / "examples").iterdir() if path.is_file())
    assert examples and [name for name in examples if name not in README] == []
