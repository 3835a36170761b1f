"""`zpml_data.cli.main`: errors mapped to exit codes, Ctrl-C, and verbs from plugins."""

import re
from importlib.metadata import EntryPoint

import pytest

from zpml_data.cli import main as cli
from zpml_data.errors import DataError, UsageError


def run_raising(monkeypatch, error, *argv):
    """Run ``zpml inspect X`` with its run function replaced by one raising ``error``."""

    def register(subparsers):
        subparsers.add_parser("inspect").set_defaults(run=lambda args: (_ for _ in ()).throw(error))

    monkeypatch.setattr(cli.inspect, "register", register)
    return cli.main([*argv, "inspect"])


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (DataError("3 rows fail finite_value"), 1, "zpml inspect: error: 3 rows fail finite_value"),
        (UsageError("no column 'y'"), 2, "zpml inspect: error: no column 'y'"),
        (FileNotFoundError(2, "No such file", "x.csv"), 2, "zpml inspect: error: [Errno 2]"),
        (ZeroDivisionError("oops"), 2, "internal error: ZeroDivisionError: oops; rerun with"),
        (KeyboardInterrupt(), 130, "zpml inspect: interrupted"),
    ],
)
def test_errors_become_one_line_and_an_exit_code(monkeypatch, capsys, error, code, line):
    assert run_raising(monkeypatch, error) == code
    err = capsys.readouterr().err
    assert line in err and err.count("\n") == 1


@pytest.mark.parametrize("error", [DataError("bad"), KeyboardInterrupt()])
def test_debug_shows_the_traceback(monkeypatch, error):
    with pytest.raises(type(error)):
        run_raising(monkeypatch, error, "--debug")


def plugin(name, value):
    return EntryPoint(name=name, value=value, group=cli.PLUGIN_GROUP)


def register_hello(subparsers):
    subparsers.add_parser("hello").set_defaults(run=lambda args: 7)


def test_plugins_register_their_verbs(monkeypatch):
    monkeypatch.setattr(
        cli, "entry_points", lambda group: [plugin("hello", f"{__name__}:register_hello")]
    )
    assert cli.main(["hello"]) == 7


def test_a_plugin_that_fails_to_load_is_named_and_the_other_verbs_still_work(monkeypatch, capsys):
    monkeypatch.setattr(
        cli, "entry_points", lambda group: [plugin("broken", "no_such_module_xyz:register")]
    )
    parser = cli.build_parser()
    assert (
        "'broken' command (no_such_module_xyz:register) failed to load" in capsys.readouterr().err
    )
    verbs = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(verbs) == {"audit", "convert", "shard", "verify", "inspect", "demo"}


def test_positive_int_options_use_require_positive_int(capsys):
    with pytest.raises(SystemExit):
        cli.main(["shard", "a.csv", "out", "--rows-per-shard", "0"])
    assert (
        "argument --rows-per-shard: the value must be between 1 and 2147483647, got 0"
        in capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        cli.main(["audit", "a.csv", "--batch-size", "many"])
    assert "expected a whole number, got 'many'" in capsys.readouterr().err


@pytest.mark.parametrize("verb", [["audit", "a.csv"], ["shard", "a.csv", "out"]])
def test_the_engines_are_local_and_dask(verb, capsys):
    with pytest.raises(SystemExit):
        cli.main([*verb, "--engine", "spark"])
    # Python 3.12.8 stopped quoting the choices.
    expected = r"argument --engine: invalid choice: 'spark' \(choose from '?local'?, '?dask'?\)"
    assert re.search(expected, capsys.readouterr().err)


def test_every_verb_runs_through_a_run_function():
    verbs = cli.build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for verb, parser in verbs.items():
        assert callable(parser.get_default("run")), verb
