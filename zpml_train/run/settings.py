"""What a run sets beyond :class:`TrainingConfig`, and reading both from one config file."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from zpml_data.errors import ConfigError
from zpml_data.validate import (
    MAX_SEED,
    require_choice,
    require_float,
    require_int,
    require_positive_int,
)
from zpml_train.model.heads import Q_PARAMS, HeadName, QParam
from zpml_train.training.config import read_settings, refuse_unknown_keys

MAX_LR = 10.0
Balance = Literal["none", "status"]
BALANCES: tuple[Balance, ...] = ("none", "status")
HeadChoice = Literal["auto", "rational", "gated"]
LrSchedule = Literal["cosine", "constant"]
LR_SCHEDULES: tuple[LrSchedule, ...] = ("cosine", "constant")
HEAD_CHOICES: tuple[HeadChoice, ...] = ("auto", "rational", "gated")


@dataclasses.dataclass(frozen=True)
class HeadDefaults:
    """How a run trains a head where its settings do not say.

    Attributes:
        batch_size: Rows per batch.
        lr: Adam's learning rate (falling to 0 along a cosine by default).
        epochs: ``max_epochs`` where the training settings name none
            (TrainingConfig's own default, 1, suits a library loop that calls
            fit repeatedly, not a whole run).
        batches: More epochs than ``epochs`` on a small table: enough for at
            least this many batches in all.
    """

    batch_size: int
    lr: float
    epochs: int
    batches: int = 0

    def max_epochs(self, batches_per_epoch: int) -> int:
        """``epochs``, or enough epochs of ``batches_per_epoch`` to make ``batches``."""
        return max(self.epochs, math.ceil(self.batches / max(batches_per_epoch, 1)))


# Measured with bench_quality (3 seeds): each head reaches its quality goals at these.
HEAD_DEFAULTS: Mapping[HeadName, HeadDefaults] = MappingProxyType(
    {
        # Poles are learned in many small steps: on the rational-poles data batch 128 at
        # 3e-3 for 60 epochs reaches ⊥ precision / recall 0.95 / 0.92; batch 1024 at 1e-2
        # for 60 epochs 0.93 / 0.90, at 3e-2 for 40 epochs 0.75 / 0.96.
        "rational": HeadDefaults(batch_size=128, lr=3e-3, epochs=60),
        # The gated head learns the assay (16,000 rows) in 128 large steps: latent RMSE
        # 14.4, censored rows ⊥ on their side 0.86, in 1.4x a plain MLP's training time
        # (batch 128 at 3e-3 for 60 epochs: 14.4 and 0.88 in 30x). The survival table
        # (302 rows, one batch an epoch) trains until --patience stops it: C-index 0.63.
        "gated": HeadDefaults(batch_size=1024, lr=3e-2, epochs=8, batches=128),
    }
)


@dataclasses.dataclass
class RunSettings:
    """What a run sets beyond :class:`TrainingConfig`: the model, optimizer, loader and stop."""

    # None: the head's (HEAD_DEFAULTS).
    batch_size: int | None = None
    lr: float | None = None
    # "cosine": lr falls from lr to 0 along half a cosine over max_epochs (measured on
    # the assay: latent RMSE 14.38 ± 0.02 over 3 seeds against 14.65 ± 0.17 constant).
    lr_schedule: LrSchedule = "cosine"
    seed: int = 0
    hidden: tuple[int, ...] = (64, 64)
    # "auto": the gated head when the data hold censored, domain_invalid or fault
    # rows, else the rational head (see zpml_train.run.head_choice).
    head: HeadChoice = "auto"
    # Rational head only. "none": Q free to reach 0; "softplus": Q >= q_min
    # (cannot emit ⊥ when q_min >= tau_infer).
    q_param: QParam = "none"
    q_min: float = 0.0
    balance: Balance = "none"
    num_workers: int = 0
    # Stop after this many epochs without a lower validation loss (training loss
    # without validation data); None: never. The neural models here overfit after
    # 10-30 epochs on small tables; best.pt keeps the best epoch either way.
    patience: int | None = 10

    def __post_init__(self) -> None:
        if self.batch_size is not None:
            self.batch_size = require_positive_int("batch_size", self.batch_size)
        if self.lr is not None:
            # Adam moves each weight by about lr per step: above MAX_LR a single step
            # overflows float32 weights or leaps across every input's scale.
            self.lr = require_float("lr", self.lr, minimum=0.0, maximum=MAX_LR, strict_minimum=True)
        self.seed = require_int("seed", self.seed, minimum=0, maximum=MAX_SEED)
        if not isinstance(self.hidden, list | tuple):
            raise ConfigError(f"hidden must be a list of layer widths, got {self.hidden!r}")
        self.hidden = tuple(require_positive_int("hidden[]", h) for h in self.hidden)
        self.head = require_choice("head", self.head, HEAD_CHOICES)
        self.lr_schedule = require_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        self.q_param = require_choice("q_param", self.q_param, Q_PARAMS)
        self.q_min = require_float("q_min", self.q_min, minimum=0.0)
        self.balance = require_choice("balance", self.balance, BALANCES)
        self.num_workers = require_int("num_workers", self.num_workers, minimum=0, maximum=64)
        if self.patience is not None:
            self.patience = require_positive_int("patience", self.patience)

    def for_head(self, head: HeadName) -> tuple[RunSettings, HeadDefaults]:
        """These settings and the head's defaults, each with the batch size and learning
        rate these settings name, else the head's."""
        defaults = HEAD_DEFAULTS[head]
        batch_size = defaults.batch_size if self.batch_size is None else self.batch_size
        lr = defaults.lr if self.lr is None else self.lr
        return (
            dataclasses.replace(self, batch_size=batch_size, lr=lr),
            dataclasses.replace(defaults, batch_size=batch_size, lr=lr),
        )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], where: str = "run settings") -> RunSettings:
        """Settings from plain data, unknown keys refused by name.

        Raises:
            ConfigError: An unknown key or a bad value, prefixed by ``where``.
        """
        try:
            refuse_unknown_keys(values, (f.name for f in dataclasses.fields(cls)), "run settings")
            return cls(**dict(values))
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None


def load_run_config(path: str | Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``training`` and ``run`` tables of a config file (TOML or YAML).

    Without a ``run`` or ``training`` table the whole file is training settings.

    Raises:
        SourceError: The file cannot be read.
        ConfigError: Other top-level keys beside the two tables, or a table
            that is not a mapping.
    """
    if path is None:
        return {}, {}
    values = read_settings(path)
    if not set(values) & {"training", "run"}:
        return dict(values), {}
    tables = {name: values.get(name) or {} for name in ("training", "run")}
    try:
        refuse_unknown_keys(values, tables, "top-level", hint=" (settings go in the tables)")
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"{path}: the table {name!r} must be a mapping, got {table!r}")
    return dict(tables["training"]), dict(tables["run"])
