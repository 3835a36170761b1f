"""What a group-level check found, in words and as marks on a histogram (inline SVG)."""

from __future__ import annotations

from html import escape
from typing import Any

from zpml_data.auditing.report import CheckResult, TargetReport


def _where(detail: dict[str, Any]) -> str:
    column = detail.get("column")
    return "all rows" if column is None else f"{column}={detail['group']}"


def detail_lines(check: CheckResult) -> list[str]:
    """One line per finding of a failed group-level check (none for a row-level check)."""
    if not check.failed:
        return []
    lines = []
    for d in check.details:
        if check.name == "finite_beyond_limit" and (d["below"] or d["above"]):
            lines.append(
                f"{_where(d)}: limits {d['lower']} .. {d['upper']}; "
                f"{d['below']:,} finite rows below, {d['above']:,} above"
            )
        elif check.name == "heaping_at_limit":
            lines.append(
                f"{_where(d)}: {d['count']:,} finite rows at the bound {d['value']:g} "
                f"(~{d['expected']:g} expected from the neighbouring values)"
            )
        elif check.name == "sentinel_number":
            lines.append(
                f"{d['value']:g}: {d['count']:,} rows (~{d['expected']:g} expected from the "
                f"neighbouring values; median {d['median']:.4g}, MAD {d['mad']:.4g}); "
                f"convert it: {d['convert']}"
            )
        elif check.name == "status_skew_by_group":
            lines.append(
                f"{_where(d)}: {d['label']} {d['share']:.1%} of {d['group_rows']:,} rows vs "
                f"{d['rest_share']:.1%} elsewhere ({d['change_pp']:+.1f} pp, "
                f"p = {d['p_value']:.2g}, Holm-adjusted)"
            )
    return lines


_WIDTH, _HEIGHT, _PAD = 560, 120, 16


def histogram_svgs(target: TargetReport) -> list[str]:
    """Per grouping and group: the finite values' histogram, limits drawn, flagged values marked.

    Every text that comes from the data is escaped.
    """
    checks = {c.name: c for c in target.checks}
    out = []
    for entry in target.histograms:
        where = (entry["column"], entry["group"])
        title = "all rows" if entry["column"] is None else f"{entry['column']} = {entry['group']}"
        marks = _marks(checks, where)
        out.append(f"<figure><figcaption>{escape(title)}</figcaption>{_svg(entry, marks)}</figure>")
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
    step = plot / len(counts)
    tall = _HEIGHT - 2 * _PAD
    parts = [
        f"<rect x='{_PAD + i * step:.1f}' y='{_HEIGHT - _PAD - n / top * tall:.1f}' "
        f"width='{max(step - 1, 1):.1f}' height='{n / top * tall:.1f}' fill='#4c78a8'>"
        f"<title>{low + i * (high - low) / len(counts):.4g} ..: {n:,}</title></rect>"
        for i, n in enumerate(counts)
    ]
    for side, n, x in (("below", entry["below"], 2), ("above", entry["above"], _WIDTH - 2)):
        if n:
            anchor = "start" if side == "below" else "end"
            parts.append(f"<text x='{x}' y='12' text-anchor='{anchor}'>{n:,} {side} range</text>")
    for k, (value, kind, label) in enumerate(marks):
        x = _PAD + min(max((value - low) / (high - low), 0.0), 1.0) * plot
        label = f"← {label}" if value < low else f"{label} →" if value > high else label
        colour = "#e45756" if kind == "flag" else "#333"
        dash = "" if kind == "flag" else " stroke-dasharray='4 3'"
        parts.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{_PAD}' y2='{_HEIGHT - _PAD}' "
            f"stroke='{colour}' stroke-width='2'{dash}><title>{escape(label)}</title></line>"
            f"<text x='{x + 3:.1f}' y='{_PAD + 10 + 11 * (k % 4)}' fill='{colour}'>"
            f"{escape(label)}</text>"
        )
    axis = (
        f"<text x='{_PAD}' y='{_HEIGHT - 2}'>{low:.4g}</text>"
        f"<text x='{_WIDTH - _PAD}' y='{_HEIGHT - 2}' text-anchor='end'>{high:.4g}</text>"
    )
    return (
        f"<svg class='hist' width='{_WIDTH}' height='{_HEIGHT}' role='img' "
        f"font-size='10'>{''.join(parts)}{axis}</svg>"
    )
