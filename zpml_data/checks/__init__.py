"""The checks every row passes: pandera registrations, the built-in schema, check_batch, Level.

The audit and the shard writer both stand on this package; it imports neither.
"""

from __future__ import annotations

from zpml_data._lazy import lazy_exports

_EXPORTS = {
    "CHECK_LEVELS": "zpml_data.checks.rules",
    "Level": "zpml_data.checks.levels",
    "builtin_schema": "zpml_data.checks.rules",
    "check_batch": "zpml_data.checks.rules",
    "load_user_schema": "zpml_data.checks.rules",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
