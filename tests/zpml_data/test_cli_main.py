"""`zpml_data.cli.main`: errors mapped to exit codes, Ctrl-C, and verbs from plugins."""

import re
from importlib.metadata import EntryPoint

import pytest

from zpml_data import plugins
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
    return EntryPoint(name=name, value=value, group=plugins.PLUGIN_GROUP)


def register_hello(subparsers):
    subparsers.add_parser("hello").set_defaults(run=lambda args: 7)


def hello_hook(name):
    return f"hello {name}"


def installed(monkeypatch, *points):
    monkeypatch.setattr(plugins, "_entry_points", lambda: list(points))


def test_plugins_register_their_verbs(monkeypatch):
    installed(monkeypatch, plugin("hello", f"{__name__}:register_hello"))
    assert cli.main(["hello"]) == 7


def test_a_plugins_module_offers_hooks_by_name(monkeypatch):
    installed(monkeypatch, plugin("hello", f"{__name__}:register_hello"))
    function, reason = plugins.plugin_hook("hello", "hello_hook")
    assert function is not None and function("demo") == "hello demo" and reason == ""
    assert plugins.plugin_hook("hello", "no_such_hook") == (
        None,
        f"the 'hello' command ({__name__}:register_hello) offers no no_such_hook()",
    )
    assert plugins.plugin_hook("train", "train_shards") == (
        None,
        "no 'train' command is installed (an entry point in zpml.commands)",
    )


def test_a_plugin_that_fails_to_load_is_named_and_the_other_verbs_still_work(monkeypatch, capsys):
    installed(monkeypatch, plugin("broken", "no_such_module_xyz:register"))
    function, reason = plugins.plugin_hook("broken", "register")
    assert function is None and "'broken' command (no_such_module_xyz:register) failed" in reason
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
