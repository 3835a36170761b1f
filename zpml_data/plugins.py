"""The plugin loader: verbs and hooks that other packages register under ``zpml.commands``.

Each entry point of the group names a ``register(subparsers)`` function that
adds a verb to the ``zpml`` command. The module holding it may offer library
hooks beside it, found by name with :func:`plugin_hook`: the demo trains
through the ``train`` plugin's ``train_shards`` this way, so zpml_data never
imports zpml_train. Only the standard library is imported here.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

PLUGIN_GROUP = "zpml.commands"


@dataclass(frozen=True)
class Plugin:
    """A loaded plugin: its name, what its entry point names, and the module holding it."""

    name: str
    value: str
    register: Callable[[Any], None]
    module: ModuleType


def _warn(line: str) -> None:
    print(f"zpml: warning: {line}", file=sys.stderr)


def _entry_points() -> Iterable[EntryPoint]:
    return entry_points(group=PLUGIN_GROUP)


def load_plugins(warn: Callable[[str], None] = _warn) -> list[Plugin]:
    """Every plugin that loads, by name; one that fails is named through ``warn`` and skipped.

    A broken plugin must not take the other verbs down.
    """
    plugins = []
    for point in sorted(_entry_points(), key=lambda ep: ep.name):
        try:
            register = point.load()
            module = importlib.import_module(point.module)
        except Exception as error:
            warn(
                f"the {point.name!r} command ({point.value}) failed to load: "
                f"{type(error).__name__}: {error}"
            )
            continue
        plugins.append(Plugin(point.name, point.value, register, module))
    return plugins


def plugin_hook(plugin: str, hook: str) -> tuple[Callable[..., Any] | None, str]:
    """The function ``hook`` of the plugin named ``plugin``, or ``None`` and why not.

    Returns:
        ``(function, "")``, or ``(None, reason)`` where the reason is one line:
        the plugin is not installed, fails to load, or has no such hook.
    """
    problems: list[str] = []
    found = [p for p in load_plugins(problems.append) if p.name == plugin]
    if not found:
        named = [p for p in problems if f"the {plugin!r} command" in p]
        return None, (
            named[0]
            if named
            else f"no {plugin!r} command is installed (an entry point in {PLUGIN_GROUP})"
        )
    function = getattr(found[0].module, hook, None)
    if not callable(function):
        return None, f"the {plugin!r} command ({found[0].value}) offers no {hook}()"
    return function, ""
