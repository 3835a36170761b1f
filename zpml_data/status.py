"""The status vocabulary: the seven labels, their codes, semantics and groups.

This module is the only place the labels are spelled. Codes are stable: they
are written into shards and manifests. Everything else (lifting tables, group
sets, report columns) is derived from :data:`SEMANTICS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Status(IntEnum):
    """Status codes, in the stable code order."""

    FINITE = 0
    BOTTOM = 1
    CENSORED_BELOW = 2
    CENSORED_ABOVE = 3
    DOMAIN_INVALID = 4
    MISSING = 5
    FAULT = 6

    @property
    def label(self) -> str:
        """The label as written in data files, e.g. ``"censored_below"``."""
        return self.name.lower()


class Orientation(IntEnum):
    """Which side of a limit a censored target lies on."""

    BELOW = -1
    NONE = 0
    ABOVE = 1


class BottomKind(IntEnum):
    """Why a target is bottom (⊥)."""

    NONE = 0
    FAULT = 1
    SEMANTIC = 2


@dataclass(frozen=True)
class Semantics:
    """How one status lifts to a projective pair and what it means for training.

    ``y_n`` is ``None`` for ``finite``: the numerator is the value itself.
    """

    y_n: float | None
    y_d: float
    orientation: Orientation
    bottom_kind: BottomKind


SEMANTICS: dict[Status, Semantics] = {
    Status.FINITE: Semantics(None, 1.0, Orientation.NONE, BottomKind.NONE),
    Status.BOTTOM: Semantics(1.0, 0.0, Orientation.NONE, BottomKind.SEMANTIC),
    Status.CENSORED_BELOW: Semantics(-1.0, 0.0, Orientation.BELOW, BottomKind.SEMANTIC),
    Status.CENSORED_ABOVE: Semantics(1.0, 0.0, Orientation.ABOVE, BottomKind.SEMANTIC),
    Status.DOMAIN_INVALID: Semantics(1.0, 0.0, Orientation.NONE, BottomKind.SEMANTIC),
    # Missing lifts to (0, 1) but is masked out of both the finite and the bottom loss.
    Status.MISSING: Semantics(0.0, 1.0, Orientation.NONE, BottomKind.NONE),
    Status.FAULT: Semantics(1.0, 0.0, Orientation.NONE, BottomKind.FAULT),
}

STATUS_LABELS: tuple[str, ...] = tuple(status.label for status in Status)
LABEL_TO_CODE: dict[str, int] = {label: code for code, label in enumerate(STATUS_LABELS)}

BOTTOM_STATUSES = frozenset(s for s, sem in SEMANTICS.items() if sem.y_d == 0.0)
SEMANTIC_BOTTOM_STATUSES = frozenset(
    s for s, sem in SEMANTICS.items() if sem.bottom_kind is BottomKind.SEMANTIC
)
FAULT_BOTTOM_STATUSES = frozenset(
    s for s, sem in SEMANTICS.items() if sem.bottom_kind is BottomKind.FAULT
)
UNTRAINED_STATUSES = frozenset(Status) - BOTTOM_STATUSES - {Status.FINITE}

# Legacy sentinels and the labels the default conversion gives them. Lifting
# these labels reproduces the legacy lift_targets pairs bit for bit.
DEFAULT_SENTINEL_POLICY: dict[str, Status] = {
    "nan": Status.BOTTOM,
    "posinf": Status.CENSORED_ABOVE,
    "neginf": Status.CENSORED_BELOW,
}
