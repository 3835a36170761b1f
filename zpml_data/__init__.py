"""zpml_data: audit, convert, lift and shard status-labelled regression targets."""

from importlib.metadata import version

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
from zpml_data.lift import SemanticTargets, lift_semantic_targets, lift_targets
from zpml_data.status import STATUS_LABELS, Status, encode_status

__version__ = version("zpml")

__all__ = [
    "STATUS_LABELS",
    "DataError",
    "IntegrityError",
    "SemanticTargets",
    "ShapeError",
    "SourceError",
    "Status",
    "StatusLabelError",
    "TargetValueError",
    "UsageError",
    "ZpmlError",
    "encode_status",
    "lift_semantic_targets",
    "lift_targets",
]
