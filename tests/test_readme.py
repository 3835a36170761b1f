"""The README's tour runs, and its CLI reference names every verb."""

import re
from pathlib import Path

import numpy as np

from zpml_data.cli.main import build_parser

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_the_tour_runs_and_its_comments_are_true():
    tour = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    namespace: dict = {}
    exec(tour, namespace)  # our own README
    targets = namespace["targets"]
    np.testing.assert_array_equal(targets.Y_n, [2.5, -1, 1, 1])
    np.testing.assert_array_equal(targets.Y_d, [1, 0, 0, 0])
    np.testing.assert_array_equal(targets.bottom_kind, [0, 2, 2, 1])
    np.testing.assert_array_equal(namespace["codes"], [0, 2, 3, 6])


def test_every_verb_is_in_the_cli_reference():
    verbs = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for verb in verbs:
        assert f"zpml {verb}" in README, verb
