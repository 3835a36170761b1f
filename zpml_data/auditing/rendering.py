"""Render an AuditReport for a terminal or as a self-contained HTML page (:mod:`._page`)."""

from __future__ import annotations

from zpml_data._text import status_mix_table, text_table
from zpml_data.auditing.details import censoring_lines, detail_lines
from zpml_data.auditing.report import AuditReport, CheckResult, TargetReport
from zpml_data.status import STATUS_LABELS


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
        out.append(f"compared sources' own verdict: {comparison.other_verdict}")
        for where, check in comparison.other_failures():
            out += _check_text(check, f"{where or 'your schema'}, compared")
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
    out += censoring_lines(target)
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

    The page is built with the report kit (:mod:`zpml_data._html`): the same
    look and the same colour per label as the training report. Everything
    that comes from the data is escaped.
    """
    from zpml_data.auditing._page import render_page

    return render_page(report)
