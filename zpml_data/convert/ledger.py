"""The conversion ledger: every row accounted for, and every change of meaning."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class ConversionLedger:
    """What a conversion did: every row accounted for, and every change of meaning."""

    sources: list[str]
    dest: str
    value: str
    status_column: str
    policy: dict[str, str]
    rows_in: int = 0  # counted from the values read
    rows_out: int = 0  # counted back from the file written
    # kind of legacy value -> label -> rows
    counts: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    # "kind -> label" -> {"rows": n, "first_rows": [{"file", "row"}, ...]}, for changed lifts
    changed: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def lift_preserving(self) -> bool:
        """True when every row lifts to the same ``(Y_n, Y_d)`` as the legacy ``lift_targets``."""
        return not self.changed

    def to_dict(self) -> dict[str, Any]:
        """The ledger as JSON-ready data."""
        return dataclasses.asdict(self) | {"lift_preserving": self.lift_preserving}

    def render_text(self) -> str:
        """The ledger as a terminal table."""
        lines = [
            f"converted {', '.join(self.sources)} -> {self.dest}",
            f"  rows in: {self.rows_in:,}  rows out: {self.rows_out:,}",
            "  original value        -> status          rows",
        ]
        for kind, labels in self.counts.items():
            lines += [f"  {kind:<21} -> {label:<14} {n:>8,}" for label, n in labels.items()]
        verdict = "yes" if self.lift_preserving else "no: meaning changed for"
        lines.append(f"  lift-preserving (same (Y_n, Y_d) as legacy lift_targets): {verdict}")
        for rule, info in self.changed.items():
            first = ", ".join(f"{r['file']}:{r['row']}" for r in info["first_rows"])
            lines.append(f"    {rule}: {info['rows']:,} rows (first: {first})")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)
