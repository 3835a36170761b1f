"""The audit as one self-contained HTML page, built with the report kit.

The header gives the verdict and the figures a reader looks for first; then a
card per target (its status mix, by group and by file), its checks (what each
found, example rows folded away), the finite values' histograms, your
schema's checks and a comparison. Everything that comes from the data is
escaped.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from zpml_data._html import INVALID, Tile, card, dot, esc, mix_rows, page, share, status_mix
from zpml_data.auditing._histogram import histogram_figures
from zpml_data.auditing.details import censoring_lines, detail_lines
from zpml_data.auditing.report import AuditReport, CheckResult, TargetReport
from zpml_data.status import BOTTOM_STATUSES, Status


def render_page(report: AuditReport) -> str:
    """The report as one HTML page (no scripts, no outside resources)."""
    sections = []
    for index, target in enumerate(report.targets):
        sections += _target_cards(index, target)
    if report.schema_checks:
        sections.append(card("Your schema's checks", _checks_table(report.schema_checks)))
    if report.comparison is not None:
        sections.append(_comparison(report))
    names = [PurePath(source).name or source for source in report.sources]
    return page(
        ", ".join(names) or "no source",
        kicker="zpml audit",
        sub=f"verdict {report.verdict}: {_verdict_reason(report)}. "
        f"Sources: {', '.join(report.sources)}",
        tiles=_tiles(report),
        sections=sections,
    )


def _failed(report: AuditReport, level: str) -> list[CheckResult]:
    checks = [c for t in report.targets for c in t.checks] + report.schema_checks
    return [c for c in checks if c.failed and c.level == level]


def _verdict_reason(report: AuditReport) -> str:
    errors, warnings = _failed(report, "error"), _failed(report, "warning")
    if not errors and not warnings:
        return "every check passed"
    failed = [
        f"{len(found)} {level} check{'s' * (len(found) != 1)}"
        for level, found in (("error", errors), ("warning", warnings))
        if found
    ]
    return f"{' and '.join(failed)} failed ({', '.join(c.name for c in errors + warnings)})"


def _tiles(report: AuditReport) -> list[Tile]:
    """Verdict, rows, the finite and ⊥ shares (all targets), failed checks by level."""
    counts: dict[str, int] = {}
    for target in report.targets:
        for label, n in target.status_counts.items():
            counts[label] = counts.get(label, 0) + n
    cells = sum(counts.values()) + sum(t.invalid_status for t in report.targets)
    bottom = sum(counts.get(s.label, 0) for s in BOTTOM_STATUSES)
    rows = report.targets[0].rows if report.targets else 0
    errors, warnings = len(_failed(report, "error")), len(_failed(report, "warning"))
    return [
        Tile(str(report.verdict).upper(), "verdict", tone=str(report.verdict)),
        Tile(f"{rows:,}", "rows" if len(report.targets) < 2 else f"rows × {len(report.targets)}"),
        Tile(share(counts.get(Status.FINITE.label, 0), cells), "finite"),
        Tile(share(bottom, cells), "⊥ (bottom, censored, domain_invalid, fault)"),
        Tile(f"{errors}", "error checks failed", tone="fail" if errors else ""),
        Tile(f"{warnings}", "warnings", tone="warn" if warnings else ""),
    ]


def _target_cards(index: int, target: TargetReport) -> list[str]:
    status = f"status column {target.status!r}" if target.status else "no status column (legacy)"
    counts: dict[str, int] = dict(target.status_counts)
    if target.invalid_status:
        counts[INVALID] = target.invalid_status
    body = [
        status_mix([("rows", counts)], f"status-mix-{index}", bar_prefix=f"mix-{index}"),
        *_invalid_and_censored(target),
    ]
    for column, breakdown in target.groups.items():
        body += [f"<h3>by {esc(column)}</h3>", mix_rows(list(breakdown.items()), f"by-{index}")]
    body += ["<h3>by file</h3>", mix_rows(list(target.files.items()), f"file-{index}")]
    cards = [
        card(
            f"Target {target.value}",
            "".join(body),
            sub=f"{status}; {target.rows:,} rows; verdict {target.verdict}",
        ),
        card(f"Checks on {target.value}", _checks_table(target.checks)),
    ]
    figures = histogram_figures(target)
    if figures:
        cards.append(
            card(
                f"Finite values of {target.value}",
                f'<div class="charts wide">{"".join(figures)}</div>',
                sub="per group; limits dashed, flagged values (heaps, sentinels) in red",
            )
        )
    return cards


def _invalid_and_censored(target: TargetReport) -> list[str]:
    out = []
    if target.invalid_status:
        unknown = ", ".join(
            f"{esc(repr(label))} ({info['count']:,}"
            + (
                f"; did you mean {esc(repr(info['did_you_mean']))}?)"
                if info["did_you_mean"]
                else ")"
            )
            for label, info in target.unknown_labels.items()
        )
        out.append(
            f'<p class="finding">invalid status (null or unknown): {target.invalid_status:,} rows. '
            f"Unknown labels: {unknown or 'none'}</p>"
        )
    for side, info in target.censored.items():
        if info["count"]:
            out.append(
                f'<p class="finding">censored {side}: {info["count"]:,} rows, bounds '
                f"{esc(info['min'])} .. {esc(info['max'])}</p>"
            )
    out += [f'<p class="finding">{esc(line.strip())}</p>' for line in censoring_lines(target)]
    return out


def _checks_table(checks: list[CheckResult]) -> str:
    rows = []
    for check in sorted(checks, key=lambda c: (not c.failed, c.level != "error")):
        state = check.level if check.failed else "ok"
        found = "".join(f'<p class="finding">{esc(line)}</p>' for line in detail_lines(check))
        if check.examples:
            examples = "\n".join(_example_text(e) for e in check.examples)
            found += (
                f"<details><summary>{len(check.examples)} example rows</summary>"
                f'<pre class="examples">{esc(examples)}</pre></details>'
            )
        rows.append(
            f'<tr class="{"failed " if check.failed else ""}{check.level}">'
            f'<td><span class="pill {state}">{"failed" if check.failed else "ok"}</span></td>'
            f'<td class="name">{esc(check.name)}</td><td>{check.level}</td>'
            f'<td class="num">{check.failed:,}</td><td>{found}</td></tr>'
        )
    header = (
        '<thead><tr><th></th><th>check</th><th>level</th><th class="num">failed rows</th>'
        "<th>what it found</th></tr></thead>"
    )
    return f'<table class="checks">{header}<tbody>{"".join(rows)}</tbody></table>'


def _example_text(example: dict[str, Any]) -> str:
    rest = ", ".join(f"{k}={v!r}" for k, v in example.items() if k not in ("file", "row"))
    return f"{example['file']} row {example['row']}: {rest}"


def _comparison(report: AuditReport) -> str:
    assert report.comparison is not None
    comparison = report.comparison
    body = []
    for value, entries in comparison.targets.items():
        rows = "".join(
            f'<tr class="{"skew" if abs(e.change_pp) > comparison.threshold_pp else ""}">'
            f'<td>{dot(e.label)}</td><td class="num">{e.share:.2%}</td>'
            f'<td class="num">{e.other_share:.2%}</td>'
            f'<td class="num">{e.change_pp:+.1f} pp</td></tr>'
            for e in entries
        )
        body.append(
            f"<h3>{esc(value)}</h3><table><thead><tr><th>status</th><th class='num'>this</th>"
            f"<th class='num'>other</th><th class='num'>change</th></tr></thead>{rows}</table>"
        )
    failures = comparison.other_failures()
    body.append(
        f"<h3>Their own verdict: {comparison.other_verdict}</h3>"
        + (_checks_table([check for _, check in failures]) if failures else "")
    )
    return card(
        f"Compared with {', '.join(comparison.other_sources)}",
        "".join(body),
        sub=f"highlighted: a share that moved more than {comparison.threshold_pp:g} pp",
    )
