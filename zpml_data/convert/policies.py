"""Which status label each legacy value becomes: the sentinel policy and reason maps."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from zpml_data.encode import parse_label
from zpml_data.errors import SourceError, UsageError
from zpml_data.status import DEFAULT_SENTINEL_POLICY, Status


def sentinel_policy(
    nan: str | None = None, posinf: str | None = None, neginf: str | None = None
) -> dict[str, Status]:
    """The sentinel policy with some labels overridden (``None`` keeps the default).

    Raises:
        UsageError: An unknown label, or ``finite`` for a non-finite sentinel.
    """
    policy = dict(DEFAULT_SENTINEL_POLICY)
    for name, label in (("nan", nan), ("posinf", posinf), ("neginf", neginf)):
        if label is not None:
            status = parse_label(label, f"--{name}")
            if status is Status.FINITE:
                raise UsageError(
                    f"--{name}: a non-finite value cannot be labelled {Status.FINITE.label!r}"
                )
            policy[name] = status
    return policy


def load_reason_map(path: str | Path) -> dict[str, Status]:
    """Read a reason map (YAML or JSON, safe loader): ``{reason: label}``.

    Raises:
        SourceError: The file cannot be read.
        UsageError: Not a mapping of strings to status labels.
    """
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as error:
        raise SourceError(f"cannot read reason map {str(path)!r}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise UsageError(f"{path}: not valid YAML or JSON: {error}") from None
    if not isinstance(data, Mapping) or not data:
        raise UsageError(f"{path}: a reason map is a mapping of reason -> status label")
    return {
        str(reason): parse_label(str(label), f"{path}: reason {reason!r}")
        for reason, label in data.items()
    }
