"""DatasetSpec (what the user wrote) and ResolvedSpec (checked against the data).

A spec is plain data (YAML or TOML on disk). :meth:`DatasetSpec.resolve`
checks it against a source's columns, fills in the defaults and returns a
:class:`ResolvedSpec`, whose targets say by their type whether they carry
status labels (:class:`LabelledTarget`) or legacy sentinels (:class:`LegacyTarget`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import pyarrow as pa

from zpml_data.encode import plain_type
from zpml_data.errors import UsageError

DEFAULT_STATUS = "status"

# How censored rows are censored: detection limits (a few bounds each shared by
# many rows), per-row censoring (each row its own bound, as survival times), or
# "auto": the audit tells them apart from the bounds.
CensoringMode = Literal["auto", "limit", "per_row"]
CENSORING_MODES: tuple[str, ...] = get_args(CensoringMode)


@dataclass(frozen=True)
class Target:
    """One regression target as the user names it: its value and status columns.

    Attributes:
        value: The value column.
        status: The status column. ``None`` (not named) takes a column called
            ``status`` if the source has one; without it the target is legacy
            data (NaN/±inf sentinels, no labels). A named column the source
            lacks is an error.
        censoring: ``limit``, ``per_row`` or ``auto`` (see :data:`CensoringMode`).
    """

    value: str = "value"
    status: str | None = None
    censoring: CensoringMode = "auto"


@dataclass(frozen=True)
class LabelledTarget:
    """A target whose status column is in the data."""

    value: str
    status: str
    censoring: CensoringMode = "auto"

    @property
    def columns(self) -> tuple[str, ...]:
        """The source columns of this target."""
        return (self.value, self.status)


@dataclass(frozen=True)
class LegacyTarget:
    """A target without status labels: NaN and ±inf in its values are legacy sentinels."""

    value: str

    @property
    def columns(self) -> tuple[str, ...]:
        """The source columns of this target."""
        return (self.value,)


ResolvedTarget = LabelledTarget | LegacyTarget


@dataclass(frozen=True)
class ResolvedSpec:
    """A spec checked against a source's columns: every column exists and has a usable type.

    Attributes:
        targets: Each target, labelled or legacy.
        inputs: The numeric input columns, in order.
        groups: Columns to break the status counts down by.
        schema: Path of the user's pandera YAML schema, if any.
        categorical: The inputs that hold text (named in ``inputs``): one-hot
            encoded in shards, left out of the numeric input checks.
    """

    targets: tuple[ResolvedTarget, ...]
    inputs: tuple[str, ...]
    groups: tuple[str, ...]
    schema: str | None
    categorical: tuple[str, ...] = ()

    @property
    def numeric_inputs(self) -> tuple[str, ...]:
        """The inputs that hold numbers."""
        return tuple(name for name in self.inputs if name not in self.categorical)

    @property
    def columns(self) -> list[str]:
        """Every column the spec names, in a stable order without repeats."""
        names = [c for target in self.targets for c in target.columns]
        return list(dict.fromkeys([*names, *self.inputs, *self.groups]))

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data, for manifests and reports (legacy targets: ``status`` null)."""
        return {
            "targets": [_target_dict(t) for t in self.targets],
            "inputs": list(self.inputs),
            "groups": list(self.groups),
            "schema": self.schema,
        }


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
        sentinels: ``VALUE=LABEL`` items, numbers that stand for a status in
            legacy data (``-999=missing``), for ``zpml convert``; in a file, a
            mapping ``sentinels: {-999: missing}``.
    """

    targets: tuple[Target, ...] = (Target(),)
    inputs: tuple[str, ...] | None = None
    groups: tuple[str, ...] = ()
    schema: str | None = None
    sentinels: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "spec") -> DatasetSpec:
        """Build a spec from plain data (a parsed YAML or TOML file).

        Either ``targets: [{value: ..., status: ...}, ...]`` or the single-target
        shorthand ``value: ...`` / ``status: ...`` at the top level. A target
        may declare ``censoring: limit | per_row`` (a top-level ``censoring``
        applies to every target); the default ``auto`` lets the audit decide.

        Raises:
            UsageError: Unknown keys or values of the wrong type.
        """
        known = {"targets", "value", "status", "censoring", "inputs", "groups"}
        known |= {"schema", "sentinels"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"{where}: unknown keys {unknown}; expected some of {sorted(known)}")
        if "targets" in data and ({"value", "status"} & set(data)):
            raise UsageError(f"{where}: give either 'targets' or 'value'/'status', not both")
        raw_targets = data.get("targets") or [
            {k: data[k] for k in ("value", "status") if k in data}
        ]
        if not isinstance(raw_targets, list):
            raise UsageError(f"{where}: targets must be a list of {{value, status}} mappings")
        targets = []
        for i, raw in enumerate(raw_targets):
            if not isinstance(raw, Mapping) or set(raw) - {"value", "status", "censoring"}:
                raise UsageError(
                    f"{where}: targets[{i}] must map 'value' and 'status' to columns, got {raw!r}"
                )
            columns = {key: column for key, column in raw.items() if key != "censoring"}
            censoring = raw.get("censoring", data.get("censoring", "auto"))
            _check_censoring(censoring, f"{where}: targets[{i}].censoring")
            for key, column in columns.items():
                if not isinstance(column, str) or not column:
                    raise UsageError(
                        f"{where}: targets[{i}].{key} must be a column name, got {column!r}"
                    )
            targets.append(Target(**columns, censoring=censoring))
        schema = data.get("schema")
        if schema is not None and (not isinstance(schema, str) or not schema):
            raise UsageError(f"{where}: schema must be the path of a YAML file, got {schema!r}")
        inputs = data.get("inputs")
        sentinels = data.get("sentinels", {})
        if not isinstance(sentinels, Mapping):
            raise UsageError(
                f"{where}: sentinels must map numbers to labels (-999: missing), got {sentinels!r}"
            )
        return cls(
            targets=tuple(targets),
            inputs=None if inputs is None else tuple(_names(inputs, f"{where}: inputs")),
            groups=tuple(_names(data.get("groups", ()), f"{where}: groups")),
            schema=schema,
            sentinels=tuple(f"{number}={label}" for number, label in sentinels.items()),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> DatasetSpec:
        """Load a spec from a ``.yaml``/``.yml`` (safe loader) or ``.toml`` file.

        The file is untrusted input: see :mod:`zpml_data.io.untrusted` for its limits.

        Raises:
            SourceError: The file cannot be opened.
            UsageError: The file is not valid YAML/TOML or not a valid spec.
        """
        from zpml_data.io.untrusted import parse_untrusted

        path = Path(path)
        data = parse_untrusted(path, "spec file", UsageError)
        if not isinstance(data, Mapping):
            raise UsageError(f"{path}: a spec must be a mapping of keys, got {type(data).__name__}")
        spec = cls.from_mapping(data, where=str(path))
        if spec.schema is not None and not Path(spec.schema).is_absolute():
            spec = dataclasses.replace(spec, schema=str(path.parent / spec.schema))
        return spec

    def resolve(self, schema: pa.Schema, where: str) -> ResolvedSpec:
        """Check the spec against a source's columns and fill in the defaults.

        Args:
            schema: The source's Arrow schema.
            where: The source's name, for messages.

        Returns:
            The :class:`ResolvedSpec`: a target with no status column named is
            labelled by a ``status`` column if the source has one, else legacy;
            inputs default to every other numeric column.

        Raises:
            UsageError: A named column does not exist (the message lists those
                that do), or a value or input column does not hold numbers.
        """
        columns = list(schema.names)
        targets = tuple(_resolve_target(target, columns) for target in self.targets)
        named = [c for target in targets for c in target.columns]
        named += [*self.groups, *(self.inputs or ())]
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
            if not isinstance(target, LabelledTarget):
                continue
            status = schema.field(target.status).type
            if pa.types.is_nested(plain_type(status)):
                raise UsageError(
                    f"{where}: status column {target.status!r} holds {status}; a status is "
                    "one label (text) or code (integer) per row: flatten the column first"
                )
        inputs = self.inputs
        if inputs is None:
            taken = set(named)
            inputs = tuple(f.name for f in schema if f.name not in taken and _numeric(f.type))
        targeted = [c for t in targets for c in t.columns if c in inputs]
        if targeted:
            raise UsageError(
                f"{where}: column {targeted[0]!r} is both a target and an input; "
                "a model must not see its own target: leave it out of --inputs"
            )
        nested = [g for g in self.groups if pa.types.is_nested(plain_type(schema.field(g).type))]
        if nested:
            raise UsageError(
                f"{where}: group column {nested[0]!r} holds {schema.field(nested[0]).type}; "
                "--group-by needs a column of single values (text, numbers, dates)"
            )
        from zpml_data.shards.inputs import is_categorical

        categorical = tuple(n for n in inputs if is_categorical(schema.field(n).type))
        text = [n for n in inputs if not _numeric(schema.field(n).type) and n not in categorical]
        if text:
            raise UsageError(
                f"{where}: input column(s) {', '.join(map(repr, text))} are not numbers or "
                "text; inputs are float features (text is one-hot encoded): encode them "
                "first or leave them out of --inputs"
            )
        return ResolvedSpec(targets, tuple(inputs), self.groups, self.schema, categorical)


def _resolve_target(target: Target, columns: list[str]) -> ResolvedTarget:
    """Labelled if the status column is named or the default one exists; else legacy."""
    if target.status is not None:  # checked with the other columns
        return LabelledTarget(target.value, target.status, target.censoring)
    if DEFAULT_STATUS in columns:
        return LabelledTarget(target.value, DEFAULT_STATUS, target.censoring)
    return LegacyTarget(target.value)


def _target_dict(target: ResolvedTarget) -> dict[str, Any]:
    """A resolved target as plain data; ``censoring`` only where the spec declares it."""
    if isinstance(target, LegacyTarget):
        return {"value": target.value, "status": None}
    declared = {} if target.censoring == "auto" else {"censoring": target.censoring}
    return {"value": target.value, "status": target.status} | declared


def _check_censoring(value: Any, where: str) -> None:
    if value not in CENSORING_MODES:
        raise UsageError(
            f"{where} must be one of {', '.join(CENSORING_MODES)} (limit: detection limits; "
            f"per_row: each row its own bound, as survival times), got {value!r}"
        )


def _numeric(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind)
    )


def _names(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) and v for v in value):
        raise UsageError(f"{where} must be a list of column names, got {value!r}")
    return list(value)
