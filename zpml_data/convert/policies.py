"""Which status label each legacy value becomes: the sentinel policy and reason maps."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

from zpml_data.encode import parse_label
from zpml_data.errors import UsageError
from zpml_data.io.untrusted import parse_untrusted
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
        SourceError: The file cannot be opened.
        UsageError: The file exceeds the limits of :mod:`zpml_data.io.untrusted`,
            or is not a mapping of reasons to status labels.
    """
    data = parse_untrusted(path, "reason map", UsageError)
    if not isinstance(data, Mapping) or not data:
        raise UsageError(f"{path}: a reason map is a mapping of reason -> status label")
    bad = [reason for reason, label in data.items() if not isinstance(label, str)]
    if bad:
        raise UsageError(
            f"{path}: reason {bad[0]!r} maps to {data[bad[0]]!r}; each reason maps to one "
            "status label, such as 'missing'"
        )
    return {
        str(reason): parse_label(label, f"{path}: reason {reason!r}")
        for reason, label in data.items()
    }


def parse_sentinels(items: Iterable[str], where: str = "--sentinel") -> dict[float, Status]:
    """Parse ``VALUE=LABEL`` items (``-999=missing``) into ``{number: Status}``.

    Raises:
        UsageError: Not ``VALUE=LABEL``, a value that is not a finite number,
            an unknown label, ``finite`` (a sentinel stands for another status),
            or one number given two different labels.
    """
    sentinels: dict[float, Status] = {}
    for item in items:
        text, sep, label = str(item).partition("=")
        try:
            number = float(text) if sep else math.nan
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise UsageError(
                f"{where}: expected VALUE=LABEL with a finite number, such as -999=missing, "
                f"got {item!r} (NaN and ±inf have --nan, --posinf and --neginf)"
            )
        status = parse_label(label.strip(), f"{where} {item!r}")
        if status is Status.FINITE:
            raise UsageError(
                f"{where} {item!r}: a sentinel stands for a status other than "
                f"{Status.FINITE.label!r}; leave the number out to keep it a value"
            )
        if sentinels.get(number, status) is not status:
            raise UsageError(
                f"{where}: {number:g} is given as {sentinels[number].label!r} and as "
                f"{status.label!r}; give each number one label"
            )
        sentinels[number] = status
    return sentinels


def combine_sentinels(
    in_spec: Mapping[float, Status], given: Mapping[float, Status], spec: str
) -> dict[float, Status]:
    """The spec file's sentinels and the command line's together.

    Raises:
        UsageError: One number with one label in the spec and another on the
            command line (neither silently wins).
    """
    for number, status in given.items():
        if in_spec.get(number, status) is not status:
            raise UsageError(
                f"--sentinel {number:g}={status.label} contradicts {spec}, which labels "
                f"{number:g} {in_spec[number].label!r}; give each number one label"
            )
    return {**in_spec, **given}
