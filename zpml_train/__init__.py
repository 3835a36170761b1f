"""zpml_train: stream zpml shards into an SCM trainer.

Names load lazily (PEP 562): ``import zpml_train`` costs nothing until a name
is used, so a DataLoader worker imports only what it reads with.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name -> the module that defines it.
_EXPORTS = {
    "Batch": "zpml_train.data.batch",
    "ShardDataset": "zpml_train.data.loader",
    "ShardLoader": "zpml_train.data.loader",
    "make_loader": "zpml_train.data.loader",
    "SCMTrainer": "zpml_train.training.trainer",
    "TrainingConfig": "zpml_train.training.config",
    "SCMTrainingLoss": "zpml_train.model.losses",
    "GradientPolicy": "zpml_train.model.policies",
    "ProjectiveMLP": "zpml_train.model.heads",
    "RationalHead": "zpml_train.model.heads",
    "decode": "zpml_train.model.heads",
    "load_model": "zpml_train.predict",
    "Predictor": "zpml_train.predict",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from zpml_train.data.batch import Batch
    from zpml_train.data.loader import ShardDataset, ShardLoader, make_loader
    from zpml_train.model.heads import ProjectiveMLP, RationalHead, decode
    from zpml_train.model.losses import SCMTrainingLoss
    from zpml_train.model.policies import GradientPolicy
    from zpml_train.predict import Predictor, load_model
    from zpml_train.training.config import TrainingConfig
    from zpml_train.training.trainer import SCMTrainer


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zpml_train' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
