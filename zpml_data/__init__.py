"""zpml_data: audit, convert, lift and shard status-labelled regression targets.

Names load lazily (PEP 562): ``import zpml_data`` costs nothing until a name
is used, so a DataLoader worker that reads shards never imports pandas or
pandera, and ``zpml --help`` stays instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zpml_data._lazy import lazy_exports

# Public name -> the module that defines it.
_EXPORTS = {
    "STATUS_LABELS": "zpml_data.status",
    "Status": "zpml_data.status",
    "encode_status": "zpml_data.encode",
    "SemanticTargets": "zpml_data.lift",
    "lift_semantic_targets": "zpml_data.lift",
    "lift_targets": "zpml_data.lift",
    "DatasetSpec": "zpml_data.spec",
    "ResolvedSpec": "zpml_data.spec",
    "Target": "zpml_data.spec",
    "audit": "zpml_data.auditing.engine",
    "AuditReport": "zpml_data.auditing.report",
    "ConversionLedger": "zpml_data.convert.ledger",
    "convert_legacy": "zpml_data.convert.legacy",
    "Manifest": "zpml_data.shards.manifest",
    "write_shards": "zpml_data.shards.writer",
    "verify_shards": "zpml_data.shards.verify",
    "CapabilityError": "zpml_data.errors",
    "ConfigError": "zpml_data.errors",
    "DataError": "zpml_data.errors",
    "IntegrityError": "zpml_data.errors",
    "ShapeError": "zpml_data.errors",
    "SourceError": "zpml_data.errors",
    "StatusLabelError": "zpml_data.errors",
    "TargetValueError": "zpml_data.errors",
    "UsageError": "zpml_data.errors",
    "ZpmlError": "zpml_data.errors",
    "__version__": "zpml_data._version",
}
__all__ = sorted(name for name in _EXPORTS if not name.startswith("_"))
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from zpml_data._version import __version__
    from zpml_data.auditing.engine import audit
    from zpml_data.auditing.report import AuditReport
    from zpml_data.convert.ledger import ConversionLedger
    from zpml_data.convert.legacy import convert_legacy
    from zpml_data.encode import encode_status
    from zpml_data.errors import (
        CapabilityError,
        ConfigError,
        DataError,
        IntegrityError,
        ShapeError,
        SourceError,
        StatusLabelError,
        TargetValueError,
        UsageError,
        ZpmlError,
    )
    from zpml_data.lift import SemanticTargets, lift_semantic_targets, lift_targets
    from zpml_data.shards.manifest import Manifest
    from zpml_data.shards.verify import verify_shards
    from zpml_data.shards.writer import write_shards
    from zpml_data.spec import DatasetSpec, ResolvedSpec, Target
    from zpml_data.status import STATUS_LABELS, Status
