"""The audit: pandera checks, the streaming engine, the report model and its renderings.

The package is ``auditing``, not ``audit``: ``zpml_data.audit`` is the public
function, and a subpackage of the same name would replace it as an attribute
of ``zpml_data`` as soon as any of its modules was imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zpml_data._lazy import lazy_exports

_EXPORTS = {
    "CHECK_LEVELS": "zpml_data.checks.rules",
    "Level": "zpml_data.checks.levels",
    "builtin_schema": "zpml_data.checks.rules",
    "audit": "zpml_data.auditing.engine",
    "load_user_schema": "zpml_data.checks.rules",
    "AuditReport": "zpml_data.auditing.report",
    "CheckResult": "zpml_data.auditing.report",
    "Verdict": "zpml_data.auditing.report",
    "Comparison": "zpml_data.auditing.report",
    "TargetReport": "zpml_data.auditing.report",
    "compare_reports": "zpml_data.auditing.report",
    "render_html": "zpml_data.auditing.rendering",
    "render_text": "zpml_data.auditing.rendering",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from zpml_data.auditing.engine import audit
    from zpml_data.auditing.rendering import render_html, render_text
    from zpml_data.auditing.report import (
        AuditReport,
        CheckResult,
        Comparison,
        Level,
        TargetReport,
        Verdict,
        compare_reports,
    )
    from zpml_data.checks.rules import CHECK_LEVELS, builtin_schema, load_user_schema
