"""zpml_data: audit, convert, lift and shard status-labelled regression targets."""

from importlib.metadata import version

# Set before the imports below: shards.py reads it while the package initialises.
__version__ = version("zpml")

from zpml_data.audit import audit
from zpml_data.errors import (
    DataError,
    IntegrityError,
    ShapeError,
    SourceError,
    StatusLabelError,
    TargetValueError,
    UsageError,
    ZpmlError,
)
from zpml_data.legacy import ConversionLedger, convert_legacy
from zpml_data.lift import SemanticTargets, lift_semantic_targets, lift_targets
from zpml_data.manifest import Manifest
from zpml_data.report import AuditReport
from zpml_data.schema import DatasetSpec, Target
from zpml_data.shards import write_shards
from zpml_data.status import STATUS_LABELS, Status, encode_status
from zpml_data.verify import verify_shards

__all__ = [
    "STATUS_LABELS",
    "AuditReport",
    "ConversionLedger",
    "DataError",
    "DatasetSpec",
    "IntegrityError",
    "Manifest",
    "SemanticTargets",
    "ShapeError",
    "SourceError",
    "Status",
    "StatusLabelError",
    "Target",
    "TargetValueError",
    "UsageError",
    "ZpmlError",
    "audit",
    "convert_legacy",
    "encode_status",
    "lift_semantic_targets",
    "lift_targets",
    "verify_shards",
    "write_shards",
]
