"""Plain-text tables for terminal output, written once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from zpml_data.status import STATUS_LABELS


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Table lines, indented by two: the first column left-aligned, the rest right-aligned."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [str(cells[0]).ljust(widths[0])]
        padded += [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  " + "  ".join(padded)

    return [line(header), *map(line, rows)]


def status_mix_table(counts: Mapping[str, int], unit: str = "rows") -> list[str]:
    """The count and share of each of the seven labels, in code order, as table lines.

    Args:
        counts: Label -> count (labels not present count as 0).
        unit: What is counted, for the header: ``"rows"``, or ``"cells"`` for T targets.
    """
    total = sum(counts.get(label, 0) for label in STATUS_LABELS)
    rows = [
        [label, f"{counts.get(label, 0):,}", f"{counts.get(label, 0) / max(total, 1):.2%}"]
        for label in STATUS_LABELS
    ]
    return text_table(["status", unit, "share"], rows)
