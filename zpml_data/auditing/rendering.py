"""Render an AuditReport for a terminal or as a self-contained HTML page."""

from __future__ import annotations

from html import escape
from typing import Any

from zpml_data._text import status_mix_table, text_table
from zpml_data.auditing.details import detail_lines, histogram_svgs
from zpml_data.auditing.report import AuditReport, CheckResult, TargetReport
from zpml_data.status import STATUS_LABELS

# One colour per label (and one for invalid statuses), used by the HTML charts.
COLOURS = dict(
    zip(
        [*STATUS_LABELS, "invalid"],
        ["#4c78a8", "#b279a2", "#72b7b2", "#54a24b", "#eeca3b", "#bab0ac", "#e45756", "#000000"],
        strict=True,
    )
)


def _breakdown_rows(breakdown: dict[str, dict[str, int]]) -> list[list[str]]:
    return [
        [key, *(f"{counts[label]:,}" for label in (*STATUS_LABELS, "invalid"))]
        for key, counts in breakdown.items()
    ]


def render_text(report: AuditReport) -> str:
    """The report as a terminal summary: tables, checks and the verdict."""
    out = [f"sources: {', '.join(report.sources)}"]
    for target in report.targets:
        out += _target_text(target)
    for check in report.schema_checks:
        out += _check_text(check, "your schema")
    if report.comparison is not None:
        comparison = report.comparison
        out.append(f"\ncompared with: {', '.join(comparison.other_sources)}")
        for value, entries in comparison.targets.items():
            rows = [
                [e.label, f"{e.share:.2%}", f"{e.other_share:.2%}", f"{e.change_pp:+.1f} pp"]
                + (["SKEW"] if abs(e.change_pp) > comparison.threshold_pp else [""])
                for e in entries
            ]
            out += [
                f"target {value!r}:",
                *text_table(["status", "this", "other", "change", ""], rows),
            ]
    out.append(f"\nverdict: {report.verdict}")
    return "\n".join(out)


def _target_text(target: TargetReport) -> list[str]:
    status = f"status column {target.status!r}" if target.status else "no status column (legacy)"
    out = [f"\ntarget {target.value!r}, {status}: {target.rows:,} rows"]
    out += status_mix_table(target.status_counts)
    if target.invalid_status:
        out.append(f"  invalid (null or unknown): {target.invalid_status:,}")
    for label, info in target.unknown_labels.items():
        hint = f" — did you mean {info['did_you_mean']!r}?" if info["did_you_mean"] else ""
        out.append(f"  unknown label {label!r}: {info['count']:,} rows{hint}")
    for side, info in target.censored.items():
        if info["count"]:
            out.append(
                f"  censored {side}: {info['count']:,} rows, bounds {info['min']} .. {info['max']}"
            )
    header = ["", *STATUS_LABELS, "invalid"]
    for column, breakdown in target.groups.items():
        out += [f"  by {column}:", *text_table([column, *header[1:]], _breakdown_rows(breakdown))]
    if len(target.files) > 1:
        out += ["  by file:", *text_table(["file", *header[1:]], _breakdown_rows(target.files))]
    for check in target.checks:
        out += _check_text(check, target.value)
    return out


def _check_text(check: CheckResult, where: str) -> list[str]:
    if not check.failed:
        return []
    first = check.examples[0] if check.examples else {}
    at = f" (first: {first.get('file')} row {first.get('row')})" if first else ""
    line = f"  {check.level.upper()} {check.name} [{where}]: {check.failed:,} rows{at}"
    return [line, *(f"    {detail}" for detail in detail_lines(check))]


def render_html(report: AuditReport) -> str:
    """The report as one self-contained HTML page (no scripts, no outside resources).

    Everything that comes from the data is escaped.
    """
    body = [
        f"<h1>zpml audit: <span class='verdict {report.verdict}'>{report.verdict}</span></h1>",
        f"<p>sources: {escape(', '.join(report.sources))}</p>",
        _legend(),
    ]
    for target in report.targets:
        body += _target_html(target)
    if report.schema_checks:
        body += ["<h2>Your schema's checks</h2>", _checks_html(report.schema_checks)]
    if report.comparison is not None:
        body += _comparison_html(report)
    return _PAGE.format(body="\n".join(body))


def _legend() -> str:
    items = "".join(
        f"<span class='key'><i style='background:{c}'></i>{escape(label)}</span>"
        for label, c in COLOURS.items()
    )
    return f"<p class='legend'>{items}</p>"


def _bar(counts: dict[str, int]) -> str:
    """A stacked horizontal bar of the status mix, as inline SVG."""
    total = sum(counts.values()) or 1
    x, parts = 0.0, []
    for label, n in counts.items():
        width = 100.0 * n / total
        if n:
            parts.append(
                f"<rect x='{x:.3f}%' width='{width:.3f}%' height='18' fill='{COLOURS[label]}'>"
                f"<title>{escape(label)}: {n:,} ({n / total:.1%})</title></rect>"
            )
        x += width
    return f"<svg class='bar' width='100%' height='18' role='img'>{''.join(parts)}</svg>"


def _chart(title: str, breakdown: dict[str, dict[str, int]]) -> list[str]:
    rows = "".join(
        f"<tr><th>{escape(key)}</th><td>{sum(c.values()):,}</td>"
        f"<td class='chart'>{_bar(c)}</td></tr>"
        for key, c in breakdown.items()
    )
    return [f"<h3>{escape(title)}</h3>", f"<table class='mix'>{rows}</table>"]


def _target_html(target: TargetReport) -> list[str]:
    status = (
        f"status column {escape(target.status)}" if target.status else "no status column (legacy)"
    )
    shares = target.status_shares
    rows = "".join(
        f"<tr><th>{escape(label)}</th><td>{n:,}</td><td>{shares[label]:.2%}</td></tr>"
        for label, n in target.status_counts.items()
    )
    out = [
        f"<h2>Target {escape(target.value)} <small>({status}; {target.rows:,} rows; "
        f"verdict {target.verdict})</small></h2>",
        _bar(target.status_counts),
        f"<table><tr><th>status</th><th>rows</th><th>share</th></tr>{rows}</table>",
    ]
    if target.invalid_status:
        unknown = ", ".join(
            f"{escape(repr(label))} ({info['count']:,}"
            + (f"; did you mean {info['did_you_mean']!r}?)" if info["did_you_mean"] else ")")
            for label, info in target.unknown_labels.items()
        )
        out.append(
            f"<p>invalid status: {target.invalid_status:,} rows. "
            f"Unknown labels: {unknown or 'none'}</p>"
        )
    for side, info in target.censored.items():
        if info["count"]:
            out.append(
                f"<p>censored {side}: {info['count']:,} rows, bounds "
                f"{escape(str(info['min']))} .. {escape(str(info['max']))}</p>"
            )
    for column, breakdown in target.groups.items():
        out += _chart(f"by {column}", breakdown)
    out += _chart("by file", target.files)
    out += ["<h3>Checks</h3>", _checks_html(target.checks)]
    histograms = histogram_svgs(target)
    if histograms:
        out += ["<h3>Finite values, with limits and flagged values</h3>", *histograms]
    return out


def _checks_html(checks: list[CheckResult]) -> str:
    rows = []
    for check in checks:
        found = "".join(f"<p>{escape(line)}</p>" for line in detail_lines(check))
        examples = found + "<br>".join(escape(_example_text(e)) for e in check.examples)
        state = "failed" if check.failed else "ok"
        rows.append(
            f"<tr class='{state} {check.level}'><th>{escape(check.name)}</th><td>{check.level}</td>"
            f"<td>{check.failed:,}</td><td class='examples'>{examples}</td></tr>"
        )
    header = "<tr><th>check</th><th>level</th><th>failed rows</th><th>examples</th></tr>"
    return f"<table class='checks'>{header}{''.join(rows)}</table>"


def _example_text(example: dict[str, Any]) -> str:
    rest = ", ".join(f"{k}={v!r}" for k, v in example.items() if k not in ("file", "row"))
    return f"{example['file']} row {example['row']}: {rest}"


def _comparison_html(report: AuditReport) -> list[str]:
    assert report.comparison is not None
    comparison = report.comparison
    out = [f"<h2>Compared with {escape(', '.join(comparison.other_sources))}</h2>"]
    for value, entries in comparison.targets.items():
        rows = "".join(
            f"<tr class='{'skew' if abs(e.change_pp) > comparison.threshold_pp else ''}'>"
            f"<th>{escape(e.label)}</th><td>{e.share:.2%}</td><td>{e.other_share:.2%}</td>"
            f"<td>{e.change_pp:+.1f} pp</td></tr>"
            for e in entries
        )
        out += [
            f"<h3>{escape(value)}</h3>",
            f"<table><tr><th>status</th><th>this</th><th>other</th><th>change</th></tr>{rows}</table>",
        ]
    return out


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>zpml audit</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; max-width: 70em; }}
table {{ border-collapse: collapse; margin: .5em 0 1em; }}
th, td {{ padding: .2em .6em; border-bottom: 1px solid #ddd; text-align: right; }}
th {{ text-align: left; }}
table.mix {{ width: 100%; }} td.chart {{ width: 70%; }}
.verdict.pass {{ color: #2a7a2a; }}
.verdict.warn {{ color: #b07800; }}
.verdict.fail, tr.failed.error th {{ color: #c0392b; }}
tr.failed.warning th {{ color: #b07800; }}
tr.skew {{ background: #fff3cd; }}
td.examples {{ text-align: left; font-family: monospace; font-size: 12px; }}
.legend .key {{ margin-right: 1em; }}
.legend i {{ display: inline-block; width: 1em; height: 1em; margin-right: .3em; }}
td.examples p {{ margin: 0 0 .3em; font-family: system-ui, sans-serif; }}
figure {{ display: inline-block; margin: .3em 1em .3em 0; }}
figcaption {{ font-size: 12px; }}
svg.hist {{ background: #fafafa; border: 1px solid #eee; }}
</style></head><body>
{body}
</body></html>
"""
