"""What a trained model is, as plain data: its spec (to rebuild it) and its record.

A checkpoint stores the weights (``state_dict``, under ``"model"``) and, beside
them, the model's record under :data:`RECORD_KEY` (``"model_record"``):
``ModelRecord(...).to_dict()``, JSON-able plain values only, so
``torch.load(weights_only=True)`` reads it. The record says how to rebuild
the module and how to feed it:

* ``spec``: :func:`model_spec` of the module (architecture, sizes, head,
  ``q_param``, ``q_min``); :func:`build_model` rebuilds it.
* ``inputs``: the model's input features, in the order of its input tensor
  (the manifest's ``inputs``); ``targets``: the target names, in output order.
* ``tau_infer``: the threshold predictions decode at (the calibrated one where
  there is one), with ``tau_infer_configured`` and ``tau_infer_calibrated``.
* ``categories``: per categorical source column, its categories in one-hot
  order (from the manifest); empty when every input is numeric.
* ``format`` and ``version``: readers refuse what they do not know.

Input standardisation is not in the record: it lives in the module's buffers
(``input_shift``, ``input_scale``), so the weights carry it.

A checkpoint is untrusted input: :func:`build_model` and
:meth:`ModelRecord.from_dict` check every key, type and size, and refuse a
model too large to allocate before allocating it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from torch import nn

from zpml_data.errors import ConfigError
from zpml_data.validate import require_choice, require_float, require_int
from zpml_train.model.size import check_model_size

RECORD_KEY = "model_record"
RECORD_FORMAT = "zpml-model"
# Bumped when a key changes meaning; readers refuse versions they do not know.
RECORD_VERSION = 1

ARCHITECTURES = ("ProjectiveMLP",)
HEADS = ("rational", "gated")
SPEC_KEYS = ("architecture", "input_dim", "output_dim", "hidden", "head", "q_param", "q_min")
# Bounds on an untrusted spec: far above any model zpml trains, far below what
# would exhaust memory. The parameter count is checked before anything is built.
MAX_INPUT_DIM = 1 << 20
MAX_OUTPUT_DIM = 1 << 16
MAX_WIDTH = 1 << 16
MAX_DEPTH = 64
MAX_NAMES = MAX_INPUT_DIM
MAX_NAME_CHARS = 1024


def model_spec(model: nn.Module) -> dict[str, Any]:
    """The plain, JSON-able description :func:`build_model` rebuilds ``model`` from.

    Args:
        model: A :class:`~zpml_train.model.heads.ProjectiveMLP` (unwrapped from
            DDP or not).

    Returns:
        ``{"architecture", "input_dim", "output_dim", "hidden", "head",
        "q_param", "q_min"}``.

    Raises:
        ConfigError: A model zpml does not know how to rebuild.
    """
    from zpml_train.model.heads import ProjectiveMLP, RationalHead

    model = getattr(model, "module", model)  # DistributedDataParallel
    if not isinstance(model, ProjectiveMLP):
        raise ConfigError(
            f"cannot describe a {type(model).__name__}: zpml rebuilds "
            f"{', '.join(ARCHITECTURES)} models only"
        )
    hidden = [layer.out_features for layer in model.backbone if isinstance(layer, nn.Linear)]
    head = model.head
    name = "rational" if isinstance(head, RationalHead) else _head_name(head)
    if getattr(head, "power", 2) != 2:  # ProjectiveMLP builds the gated head with power 2
        raise ConfigError(
            f"cannot describe a gated head of power {head.power!r}: zpml rebuilds power 2"
        )
    return {
        "architecture": "ProjectiveMLP",
        "input_dim": int(model.input_dim),
        "output_dim": int(model.output_dim),
        "hidden": hidden,
        "head": name,
        "q_param": str(getattr(head, "q_param", "none")),
        "q_min": float(getattr(head, "q_min", 0.0)),
    }


def _head_name(head: nn.Module) -> str:
    kind = type(head).__name__.removesuffix("Head").lower()
    if kind not in HEADS:
        raise ConfigError(f"cannot describe a model with a {type(head).__name__} head")
    return kind


def check_spec(spec: Any, where: str = "model spec") -> dict[str, Any]:
    """An untrusted spec checked: known keys only, known kinds, sizes within bounds.

    Args:
        spec: What a checkpoint holds under ``spec``.
        where: Named in messages (the checkpoint file).

    Returns:
        The spec with its values normalised (``hidden`` a list of ints).

    Raises:
        ConfigError: Not a mapping, unknown or missing keys, an unknown
            architecture or head, a size out of bounds, or a model with more
            than :data:`zpml_train.model.size.MAX_PARAMETERS` parameters.
    """
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(spec).__name__}")
    _require_keys(spec, SPEC_KEYS, SPEC_KEYS, where)
    try:
        require_choice("architecture", spec["architecture"], ARCHITECTURES)
        head = require_choice("head", spec["head"], HEADS)
        q_param = require_choice("q_param", spec["q_param"], ("none", "softplus"))
        q_min = require_float("q_min", spec["q_min"], minimum=0.0)
        input_dim = require_int("input_dim", spec["input_dim"], minimum=1, maximum=MAX_INPUT_DIM)
        output_dim = require_int(
            "output_dim", spec["output_dim"], minimum=1, maximum=MAX_OUTPUT_DIM
        )
        hidden = spec["hidden"]
        if not isinstance(hidden, list | tuple) or len(hidden) > MAX_DEPTH:
            raise ConfigError(
                f"hidden must be a list of at most {MAX_DEPTH} widths, got {hidden!r}"
            )
        widths = [require_int("hidden[]", h, minimum=1, maximum=MAX_WIDTH) for h in hidden]
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None
    check_model_size(input_dim, output_dim, widths, where)
    return {
        "architecture": "ProjectiveMLP",
        "input_dim": input_dim,
        "output_dim": output_dim,
        "hidden": widths,
        "head": head,
        "q_param": q_param,
        "q_min": q_min,
    }


def build_model(spec: Any, where: str = "model spec") -> nn.Module:
    """The module ``spec`` describes, freshly initialised (load the weights next).

    Args:
        spec: From :func:`model_spec`, possibly from an untrusted file.
        where: Named in messages.

    Raises:
        ConfigError: See :func:`check_spec`.
    """
    from zpml_train.model.heads import ProjectiveMLP

    checked = check_spec(spec, where)
    keywords: dict[str, Any] = {"q_param": checked["q_param"], "q_min": checked["q_min"]}
    if checked["head"] != "rational":
        keywords["head"] = checked["head"]
    return ProjectiveMLP(
        checked["input_dim"], checked["output_dim"], tuple(checked["hidden"]), **keywords
    )


@dataclasses.dataclass
class ModelRecord:
    """What a checkpoint records about its model besides the weights (see the module doc).

    Attributes:
        spec: :func:`model_spec` of the model.
        inputs: Input feature names, in the order of the model's input tensor.
        targets: Target names, in the order of the model's outputs.
        tau_infer: The threshold predictions decode at.
        tau_infer_configured: The run's configured ``tau_infer``.
        tau_infer_calibrated: The threshold calibrated on validation data, if any.
        categories: Per categorical source column, its categories in one-hot order.
        status_columns: The status column of each target in the training source
            (the manifest's spec), where ``zpml evaluate`` looks in a labelled table.
        status_counts: The training data's status counts (the manifest's); they
            say which ⊥ label a decoded ⊥ stands for when the head cannot tell.
        format: :data:`RECORD_FORMAT`.
        version: :data:`RECORD_VERSION`.
    """

    spec: dict[str, Any]
    inputs: list[str]
    targets: list[str]
    tau_infer: float
    tau_infer_configured: float
    tau_infer_calibrated: float | None = None
    categories: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    status_columns: list[str] | None = None
    status_counts: dict[str, int] | None = None
    format: str = RECORD_FORMAT
    version: int = RECORD_VERSION

    def __post_init__(self) -> None:
        where = "model record"
        self.spec = check_spec(self.spec, "spec")
        self.inputs = _names(self.inputs, "inputs", where)
        self.targets = _names(self.targets, "targets", where)
        if (
            len(self.inputs) != self.spec["input_dim"]
            or len(self.targets) != self.spec["output_dim"]
        ):
            raise ConfigError(
                f"{where}: {len(self.inputs)} inputs and {len(self.targets)} targets, but "
                f"the model has {self.spec['input_dim']} and {self.spec['output_dim']}"
            )
        head = self.spec["head"]
        self.tau_infer = _tau("tau_infer", self.tau_infer, head)
        self.tau_infer_configured = _tau("tau_infer_configured", self.tau_infer_configured, head)
        if self.tau_infer_calibrated is not None:
            self.tau_infer_calibrated = _tau(
                "tau_infer_calibrated", self.tau_infer_calibrated, head
            )
        if not isinstance(self.categories, Mapping):
            raise ConfigError(f"{where}: categories must be a mapping of column to categories")
        self.categories = {
            _names([column], "categories", where)[0]: _names(
                values, f"categories[{column!r}]", where
            )
            for column, values in self.categories.items()
        }

        if self.status_columns is not None:
            self.status_columns = _names(self.status_columns, "status_columns", where)
            if len(self.status_columns) != len(self.targets):
                raise ConfigError(f"{where}: one status column per target expected")
        if self.status_counts is not None:
            self.status_counts = _counts(self.status_counts, where)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-able data (what a checkpoint stores under :data:`RECORD_KEY`)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "model record") -> ModelRecord:
        """A record from untrusted plain data.

        Args:
            data: What a checkpoint holds under :data:`RECORD_KEY`.
            where: Named in messages (the checkpoint file).

        Raises:
            ConfigError: Not a zpml model record, a version this zpml does not
                read (named), unknown or missing keys, or a value of the wrong type.
        """
        if not isinstance(data, Mapping) or data.get("format") != RECORD_FORMAT:
            raise ConfigError(f"{where}: not a zpml model record")
        version = data.get("version")
        if version != RECORD_VERSION:
            raise ConfigError(
                f"{where}: model record version {version!r}; this zpml reads version "
                f"{RECORD_VERSION}: load it with the zpml that wrote it (or a newer one)"
            )
        names = tuple(field.name for field in dataclasses.fields(cls))
        required = ("spec", "inputs", "targets", "tau_infer", "tau_infer_configured")
        _require_keys(data, names, required, where)
        try:
            return cls(**dict(data))
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None


def _require_keys(
    data: Mapping[str, Any], known: tuple[str, ...], required: tuple[str, ...], where: str
) -> None:
    unknown = sorted(map(str, set(data) - set(known)))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}"
        )
    missing = [key for key in required if key not in data]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(map(repr, missing))}")


def _names(values: Any, name: str, where: str) -> list[str]:
    if not isinstance(values, list | tuple) or len(values) > MAX_NAMES:
        raise ConfigError(f"{where}: {name} must be a list of names, got {type(values).__name__}")
    bad = [v for v in values if not isinstance(v, str) or not v or len(v) > MAX_NAME_CHARS]
    if bad:
        raise ConfigError(f"{where}: {name} holds {bad[0]!r}, not a column name")
    return list(values)


def _counts(counts: Any, where: str) -> dict[str, int]:
    from zpml_data.status import STATUS_LABELS

    if not isinstance(counts, Mapping) or not set(counts) <= set(STATUS_LABELS):
        raise ConfigError(f"{where}: status_counts must map status labels to counts")
    return {
        label: require_int(f"status_counts[{label!r}]", count, minimum=0)
        for label, count in counts.items()
    }


def _tau(name: str, value: Any, head: str) -> float:
    """A recorded threshold the record's head can decode at, refused naming the field.

    The model decodes in float32, so the threshold must be a normal float32
    (a smaller one rounds towards 0, where ``Q == 0`` escapes the ⊥ mask; a
    larger one is infinite, where every row decodes ⊥); the gated head's
    capability rule also refuses 1 and above.

    Raises:
        ConfigError: ``name``: the value and the range it must be in.
    """
    import torch

    from zpml_train.model.heads import check_tau_infer

    float32 = torch.finfo(torch.float32)
    try:
        tau = check_tau_infer(value)
        if head == "gated":
            from zpml_train.model.gated import GatedHead

            # The head's own rule, on a 1x1 head built without moving the caller's RNG.
            with torch.random.fork_rng(devices=[]):
                GatedHead(1, 1).bottom_capability(tau)
        elif not float32.tiny <= tau <= float32.max:
            raise ConfigError(
                f"tau_infer={tau!r} is outside float32's normal range [{float32.tiny:.4g}, "
                f"{float32.max:.4g}], where the model decodes it; choose a threshold like 0.05"
            )
    except ConfigError as error:
        raise ConfigError(f"{name}: {error}") from None
    return tau
