"""What a group-level check found, in words (the histograms that mark it: :mod:`._histogram`)."""

from __future__ import annotations

from typing import Any

from zpml_data.auditing.report import CheckResult


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
