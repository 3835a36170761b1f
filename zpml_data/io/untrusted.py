"""Reading untrusted configuration and metadata files: specs, reason maps, schemas, manifests.

One place caps what such a file may cost before it is parsed: it must be a
regular file (not a FIFO, not a link to ``/dev/zero``), at most
``max_bytes`` long, UTF-8, nested at most :data:`MAX_DEPTH` deep, and a YAML
file may not use anchors and aliases (a "billion laughs" expands a few
hundred bytes into gigabytes). Mapping keys in YAML stay the text that was
written: ``on: missing`` means the key ``"on"``, not ``True`` (YAML 1.1).
Every refusal is one line naming the file.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

import yaml

from zpml_data.errors import SourceError, ZpmlError

# A spec, reason map or schema is a few kilobytes; a manifest grows with the shards.
MAX_CONFIG_BYTES = 1 << 20
MAX_MANIFEST_BYTES = 64 << 20
MAX_DEPTH = 64


def read_untrusted_text(
    path: str | Path, what: str, error: type[ZpmlError], max_bytes: int = MAX_CONFIG_BYTES
) -> str:
    """The text of a small regular file, read with bounded memory and time.

    Args:
        path: The file.
        what: What the file is, for messages (``"spec file"``).
        error: The error class to raise (a usage or an integrity error).
        max_bytes: The largest size accepted.

    Raises:
        SourceError: The file cannot be opened.
        error: The file is not a regular file, too large or not UTF-8.
    """
    name = str(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as problem:
        raise SourceError(f"cannot read {what} {name!r}: {problem.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise error(f"{what} {name!r} is not a regular file; name a file")
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(f"{what} {name!r} is larger than {max_bytes:,} bytes; that is not a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as problem:
        raise error(
            f"{what} {name!r} is not UTF-8 text (byte {problem.start}); save it as UTF-8"
        ) from None


class _UntrustedLoader(yaml.SafeLoader):
    """The safe loader without aliases, with a depth limit, and with keys kept as text."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases are not allowed", event.start_mark
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):  # `on:`, `yes:`, `1:` are the text written
                key.tag = "tag:yaml.org,2002:str"
        return dict(super().construct_mapping(node, deep=deep))


_UntrustedLoader.add_constructor("tag:yaml.org,2002:map", _UntrustedLoader.construct_mapping)


def _depth(value: Any) -> int:
    """Nesting depth of parsed data, without recursion (TOML and JSON are checked after parsing)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack += [(v, level + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, level + 1) for v in item]
    return deepest


def parse_untrusted(
    path: str | Path,
    what: str,
    error: type[ZpmlError],
    *,
    max_bytes: int = MAX_CONFIG_BYTES,
    fmt: str | None = None,
) -> Any:
    """Read and parse an untrusted YAML, JSON or TOML file within the caps.

    Args:
        path: The file.
        what: What the file is, for messages.
        error: The error class to raise.
        max_bytes: The largest size accepted.
        fmt: ``"yaml"``, ``"json"`` or ``"toml"``; default TOML for a
            ``.toml`` file, else YAML (which reads JSON too).

    Returns:
        The parsed data.

    Raises:
        error: Any of :func:`read_untrusted_text`'s refusals, a syntax error,
            aliases, or nesting deeper than :data:`MAX_DEPTH`.
    """
    text = read_untrusted_text(path, what, error, max_bytes)
    suffix = Path(path).suffix.lower()
    fmt = fmt or ("toml" if suffix == ".toml" else "yaml")
    try:
        if fmt == "toml":
            data = tomllib.loads(text)
        elif fmt == "json":
            data = json.loads(text)
        else:
            data = yaml.load(text, Loader=_UntrustedLoader)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError) as problem:
        detail = " ".join(str(problem).split())
        raise error(f"{what} {str(path)!r} is not valid {fmt}: {detail}") from None
    except RecursionError:
        raise error(f"{what} {str(path)!r} is nested too deeply") from None
    if _depth(data) > MAX_DEPTH:
        raise error(f"{what} {str(path)!r} is nested deeper than {MAX_DEPTH} levels")
    return data
