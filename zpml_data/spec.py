"""DatasetSpec: which columns are inputs, targets and groups.

A spec is plain data (YAML or TOML on disk). :meth:`DatasetSpec.resolve`
checks it against a source's columns and fills in the defaults.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from zpml_data.errors import SourceError, UsageError

DEFAULT_STATUS = "status"


@dataclass(frozen=True)
class Target:
    """One regression target: its value column and its status column.

    ``status=None`` (or a default ``status`` column the source lacks) means
    the target is legacy data: NaN/±inf sentinels with no labels.
    """

    value: str = "value"
    status: str | None = DEFAULT_STATUS


@dataclass(frozen=True)
class DatasetSpec:
    """Which columns are targets, inputs and groups.

    Attributes:
        targets: The (value, status) column pairs; one or more.
        inputs: Input feature columns; ``None`` means every other numeric
            column (not a target or group column).
        groups: Columns to break the status counts down by.
        schema: Path of a user pandera YAML schema, validated beside the
            built-in rules (relative paths resolve against the spec file).
    """

    targets: tuple[Target, ...] = (Target(),)
    inputs: tuple[str, ...] | None = None
    groups: tuple[str, ...] = ()
    schema: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "spec") -> DatasetSpec:
        """Build a spec from plain data (a parsed YAML or TOML file).

        Either ``targets: [{value: ..., status: ...}, ...]`` or the single-target
        shorthand ``value: ...`` / ``status: ...`` at the top level.

        Raises:
            UsageError: Unknown keys or values of the wrong type.
        """
        known = {"targets", "value", "status", "inputs", "groups", "schema"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"{where}: unknown keys {unknown}; expected some of {sorted(known)}")
        if "targets" in data and ({"value", "status"} & set(data)):
            raise UsageError(f"{where}: give either 'targets' or 'value'/'status', not both")
        raw_targets = data.get("targets") or [
            {k: data[k] for k in ("value", "status") if k in data}
        ]
        targets = []
        for i, raw in enumerate(raw_targets):
            if not isinstance(raw, Mapping) or set(raw) - {"value", "status"}:
                raise UsageError(
                    f"{where}: targets[{i}] must map 'value' and 'status' to columns, got {raw!r}"
                )
            targets.append(Target(**raw))
        inputs = data.get("inputs")
        return cls(
            targets=tuple(targets),
            inputs=None if inputs is None else tuple(_names(inputs, f"{where}: inputs")),
            groups=tuple(_names(data.get("groups", ()), f"{where}: groups")),
            schema=data.get("schema"),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> DatasetSpec:
        """Load a spec from a ``.yaml``/``.yml`` (safe loader) or ``.toml`` file.

        Raises:
            SourceError: The file cannot be read.
            UsageError: The file is not valid YAML/TOML or not a valid spec.
        """
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as error:
            raise SourceError(f"cannot read spec file {str(path)!r}: {error.strerror}") from None
        try:
            data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
        except (yaml.YAMLError, tomllib.TOMLDecodeError) as error:
            raise UsageError(f"{path}: not valid {path.suffix[1:] or 'YAML'}: {error}") from None
        if not isinstance(data, Mapping):
            raise UsageError(f"{path}: a spec must be a mapping of keys, got {type(data).__name__}")
        spec = cls.from_mapping(data, where=str(path))
        if spec.schema is not None and not Path(spec.schema).is_absolute():
            spec = dataclasses.replace(spec, schema=str(path.parent / spec.schema))
        return spec

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data, for manifests and reports."""
        return dataclasses.asdict(self)

    def resolve(self, schema: pa.Schema, where: str) -> DatasetSpec:
        """Check the spec against a source's columns and fill in the defaults.

        Args:
            schema: The source's Arrow schema.
            where: The source's name, for messages.

        Returns:
            A spec with concrete ``inputs``, and ``status=None`` for a default
            status column the source does not have (legacy data).

        Raises:
            UsageError: A named column does not exist; the message lists those that do.
        """
        columns = list(schema.names)
        # A default status column the source lacks means legacy (unlabelled) data.
        targets = tuple(
            Target(t.value, None) if t.status == DEFAULT_STATUS and t.status not in columns else t
            for t in self.targets
        )
        named = [t.value for t in targets] + [t.status for t in targets if t.status]
        named += list(self.groups) + list(self.inputs or ())
        missing = [name for name in dict.fromkeys(named) if name not in columns]
        if missing:
            raise UsageError(
                f"{where}: no column {', '.join(map(repr, missing))}; "
                f"the columns are {', '.join(map(repr, columns))}"
            )
        for target in targets:
            kind = schema.field(target.value).type
            if not (_numeric(kind) or pa.types.is_null(kind)):
                raise UsageError(
                    f"{where}: value column {target.value!r} holds {kind}, not numbers; "
                    "text such as '<0.006' or 'ND' needs zpml convert first"
                )
        inputs = self.inputs
        if inputs is None:
            taken = set(named)
            inputs = tuple(f.name for f in schema if f.name not in taken and _numeric(f.type))
        text = [name for name in inputs if not _numeric(schema.field(name).type)]
        if text:
            raise UsageError(
                f"{where}: input column(s) {', '.join(map(repr, text))} are not numbers; "
                "inputs are float features: encode them first or leave them out of --inputs"
            )
        return dataclasses.replace(self, targets=targets, inputs=inputs)

    @property
    def columns(self) -> list[str]:
        """Every column the spec names, in a stable order without repeats."""
        names: list[str] = []
        for target in self.targets:
            names += [target.value] + ([target.status] if target.status else [])
        return list(dict.fromkeys(names + list(self.inputs or ()) + list(self.groups)))


def _numeric(kind: pa.DataType) -> bool:
    return bool(pa.types.is_floating(kind) or pa.types.is_integer(kind))


def _names(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where} must be a list of column names, got {value!r}")
    return list(value)
