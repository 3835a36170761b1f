"""A group's finite values as a histogram (inline SVG): its limits dashed, flagged values in red."""

from __future__ import annotations

from typing import Any

from zpml_data._html import esc, status_class
from zpml_data.auditing.report import CheckResult, TargetReport

_WIDTH, _HEIGHT, _PAD = 560, 130, 16
_FINITE = status_class("finite")  # the bars are finite readings: the finite colour


def histogram_figures(target: TargetReport) -> list[str]:
    """Per grouping and group: a captioned histogram with its limits and flagged values marked.

    Every text that comes from the data is escaped.
    """
    checks = {c.name: c for c in target.checks}
    out = []
    for entry in target.histograms:
        where = (entry["column"], entry["group"])
        title = "all rows" if entry["column"] is None else f"{entry['column']} = {entry['group']}"
        outside = [f"{entry[side]:,} {side}" for side in ("below", "above") if entry[side]]
        beyond = f"<p>outside the range drawn: {', '.join(outside)}</p>" if outside else ""
        out.append(
            f'<figure class="chart"><figcaption><h3>{esc(title)}</h3>{beyond}</figcaption>'
            f"{_svg(entry, _marks(checks, where))}</figure>"
        )
    return out


def _marks(checks: dict[str, CheckResult], where: tuple[Any, str]) -> list[tuple[float, str, str]]:
    """(value, kind, label) of the limits, heaps and sentinels to draw on one group's histogram."""
    marks: list[tuple[float, str, str]] = []
    matching = [
        d for c in checks.values() for d in c.details if (d.get("column"), d.get("group")) == where
    ]
    for d in matching:
        if "lower" in d:
            marks += [
                (v, "limit", f"limit {v:g}") for v in (d["lower"], d["upper"]) if v is not None
            ]
        elif "expected" in d:
            marks.append((d["value"], "flag", f"heap {d['value']:g} ×{d['count']:,}"))
    sentinels = checks.get("sentinel_number")
    if sentinels and where == (None, "all"):
        marks += [
            (d["value"], "flag", f"sentinel {d['value']:g} ×{d['count']:,}")
            for d in sentinels.details
        ]
    return marks


def _svg(entry: dict[str, Any], marks: list[tuple[float, str, str]]) -> str:
    counts, low, high = entry["counts"], entry["low"], entry["high"]
    top = max(counts, default=0) or 1
    plot = _WIDTH - 2 * _PAD
    step = plot / max(len(counts), 1)
    tall = _HEIGHT - 2 * _PAD - 10
    base = _HEIGHT - _PAD
    parts = [
        f'<rect class="{_FINITE}" x="{_PAD + i * step:.1f}" y="{base - n / top * tall:.1f}" '
        f'width="{max(step - 1, 1):.1f}" height="{n / top * tall:.1f}">'
        f"<title>{low + i * (high - low) / len(counts):.4g} ..: {n:,}</title></rect>"
        for i, n in enumerate(counts)
    ]
    span = (high - low) or 1.0
    for k, (value, kind, label) in enumerate(marks):
        x = _PAD + min(max((value - low) / span, 0.0), 1.0) * plot
        label = f"← {label}" if value < low else f"{label} →" if value > high else label
        anchor = "end" if x > _WIDTH * 0.7 else "start"
        dx = -3 if anchor == "end" else 3
        parts.append(
            f'<line class="{kind}" x1="{x:.1f}" x2="{x:.1f}" y1="{_PAD}" y2="{base}">'
            f"<title>{esc(label)}</title></line>"
            f'<text class="{kind}" x="{x + dx:.1f}" y="{_PAD + 10 + 11 * (k % 4)}" '
            f'text-anchor="{anchor}">{esc(label)}</text>'
        )
    axis = (
        f'<text x="{_PAD}" y="{_HEIGHT - 2}">{low:.4g}</text>'
        f'<text x="{_WIDTH - _PAD}" y="{_HEIGHT - 2}" text-anchor="end">{high:.4g}</text>'
    )
    return (
        f"<svg class='hist' viewBox='0 0 {_WIDTH} {_HEIGHT}' role='img'>"
        f"{''.join(parts)}{axis}</svg>"
    )
