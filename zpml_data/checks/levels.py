"""How much a failed check matters."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    """How much a failed check matters: errors fail the audit, warnings do not."""

    ERROR = "error"
    WARNING = "warning"
