"""Converting legacy sentinel data to explicit labels: text markers, policies, the ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zpml_data._lazy import lazy_exports

_EXPORTS = {
    "ConversionLedger": "zpml_data.convert.ledger",
    "convert_legacy": "zpml_data.convert.legacy",
    "Kind": "zpml_data.convert.markers",
    "parse_text": "zpml_data.convert.markers",
    "load_reason_map": "zpml_data.convert.policies",
    "sentinel_policy": "zpml_data.convert.policies",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from zpml_data.convert.ledger import ConversionLedger
    from zpml_data.convert.legacy import convert_legacy
    from zpml_data.convert.markers import Kind, parse_text
    from zpml_data.convert.policies import load_reason_map, sentinel_policy
