"""What a group-level check found, in words (the histograms that mark it: :mod:`._histogram`)."""

from __future__ import annotations

from typing import Any

from zpml_data.auditing.report import CheckResult, TargetReport

_CENSORING = {
    "limit": "detection limits (a few bounds, each shared by many rows)",
    "per_row": "per row (each row its own bound, as survival times): no limit to be "
    "beyond, so finite_beyond_limit does not apply",
}


def _where(detail: dict[str, Any]) -> str:
    column = detail.get("column")
    return "all rows" if column is None else f"{column}={detail['group']}"


def censoring_lines(target: TargetReport) -> list[str]:
    """How the target's censored rows are censored, as found (or as the spec declares)."""
    if target.censoring not in _CENSORING:
        return []
    return [f"  censoring: {_CENSORING[target.censoring]}"]


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
        elif check.name == "input_leak":
            lines.append(_leak_line(d))
        elif check.name == "status_skew_by_group":
            lines.append(
                f"{_where(d)}: {d['label']} {d['share']:.1%} of {d['group_rows']:,} rows vs "
                f"{d['rest_share']:.1%} elsewhere ({d['change_pp']:+.1f} pp, "
                f"p = {d['p_value']:.2g}, Holm-adjusted)"
            )
    return lines


def _leak_line(d: dict[str, Any]) -> str:
    """What an input gives away and the evidence, and the way out."""
    if d["evidence"] == "restates the status":
        mapping = ", ".join(f"{level} = {label}" for level, label in d["mapping"].items())
        evidence = f"restates the status ({mapping}) on {d['rows']:,} of {d['of']:,} rows"
    elif d["evidence"] == "equals the target":
        evidence = f"equals the target on {d['rows']:,} of {d['of']:,} finite rows"
    else:
        evidence = (
            f"predicts the finite value (Spearman {d['spearman']:+.4f} on a sample of "
            f"{d['sample']:,} finite rows)"
        )
    return f"{d['column']}: {evidence}; leave it out of the inputs (--inputs or the spec)"
