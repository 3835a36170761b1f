"""Reading untrusted configuration and metadata files: specs, reason maps, schemas, manifests.

One place caps what such a file may cost before it is parsed: it must be a
regular file (not a FIFO, not a link to ``/dev/zero``), at most
``max_bytes`` long, UTF-8, nested at most :data:`MAX_DEPTH` deep, and a YAML
file may not use anchors and aliases (a "billion laughs" expands a few
hundred bytes into gigabytes). Mapping keys in YAML stay the text that was
written: ``on: missing`` means the key ``"on"``, not ``True`` (YAML 1.1); a
key written twice is refused in YAML and JSON, as TOML refuses it; numbers
follow YAML 1.2 (``1e-3`` is a number, where PyYAML's YAML 1.1 reads text).
Every refusal is one line naming the file.
"""

from __future__ import annotations

import json
import os
import re
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
    # Checked before the descriptor becomes a file object: a directory opens
    # with O_RDONLY, and only reading it fails, with the descriptor for a name.
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        kind = "a directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "not a regular file"
        os.close(fd)
        raise error(f"{what} {name!r} is {kind}; a {what} must be a file")
    with os.fdopen(fd, "rb") as file:
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
        seen: set[str] = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):  # `on:`, `yes:`, `1:` are the text written
                key.tag = "tag:yaml.org,2002:str"
                if key.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key.value!r} is given twice", key.start_mark
                    )
                seen.add(key.value)
        return dict(super().construct_mapping(node, deep=deep))


_UntrustedLoader.add_constructor("tag:yaml.org,2002:map", _UntrustedLoader.construct_mapping)
# YAML 1.2's floats: an exponent without a decimal point (1e-3, 5E+2) is a
# number. PyYAML resolves by YAML 1.1, where those are text.
_UntrustedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


def refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when a key is given twice (``json`` keeps the last silently)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"key {key!r} is given twice")
        data[key] = value
    return data


def _detail(problem: Exception) -> str:
    """A parser's complaint on one line, with the line and column where YAML has them."""
    mark = getattr(problem, "problem_mark", None)
    if isinstance(problem, yaml.MarkedYAMLError) and mark is not None:
        what = " ".join(filter(None, [problem.context, problem.problem]))
        return f"{what} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(problem).split())


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
            data = json.loads(text, object_pairs_hook=refuse_duplicate_keys)
        else:
            data = yaml.load(text, Loader=_UntrustedLoader)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, ValueError) as problem:
        raise error(f"{what} {str(path)!r} is not valid {fmt}: {_detail(problem)}") from None
    except RecursionError:
        raise error(f"{what} {str(path)!r} is nested too deeply") from None
    if _depth(data) > MAX_DEPTH:
        raise error(f"{what} {str(path)!r} is nested deeper than {MAX_DEPTH} levels")
    return data
