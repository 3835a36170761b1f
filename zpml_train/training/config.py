"""TrainingConfig: the trainer's settings, checked at construction, loadable from TOML or YAML."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from zpml_data.errors import ConfigError
from zpml_data.io.untrusted import parse_untrusted
from zpml_data.validate import require_choice, require_float, require_positive_int, require_seed
from zpml_train.model.losses import require_loss_weight
from zpml_train.model.policies import GradientPolicy

FLOAT32_TINY = 1.1754943508222875e-38  # the smallest normal float32
FLOAT32_MAX = 3.4028234663852886e38  # the largest finite float32
AmpDtype = Literal["auto", "float16", "bfloat16"]
AMP_DTYPES: tuple[AmpDtype, ...] = ("auto", "float16", "bfloat16")

# Fields that hold live objects: set in code, never read from a file nor serialised.
RUNTIME_FIELDS = frozenset({"log_hook", "val_loader", "loss_curriculum"})


@runtime_checkable
class LossCurriculum(Protocol):
    """Per-epoch loss weights (the reference's ``LossWeightsCurriculum`` fits)."""

    def weights(self, epoch: int, base: Mapping[str, float] | None = None) -> Mapping[str, float]:
        """The loss weights for ``epoch``, starting from ``base``."""
        ...


@dataclasses.dataclass
class TrainingConfig:
    """Settings of :class:`~zpml_train.training.trainer.SCMTrainer` (the training guide's fields).

    Every value is checked when the config is built; a bad one raises
    :class:`~zpml_data.errors.ConfigError` naming the field, the value and
    the valid range. ``to_dict``/``from_dict`` round-trip the plain fields.
    """

    max_epochs: int = 1
    # Micro-batches per optimizer step; a trailing partial group still steps.
    gradient_accumulation_steps: int = 1
    mixed_precision: bool = False
    # Alias of mixed_precision (the reference's name); when set, it wins.
    use_amp: bool | None = None
    # "auto": float16 with a grad scaler on CUDA, bfloat16 elsewhere.
    amp_dtype: AmpDtype = "auto"
    # Each training step draws its threshold uniformly from [tau_train_min, tau_train_max].
    tau_train_min: float = 1e-4
    tau_train_max: float = 1e-4
    # The strict decoding threshold: |Q| < tau_infer is ⊥; <= tau_train_min.
    tau_infer: float = 1e-6
    # Stop when validation coverage stays below the threshold this many epochs in a
    # row; None: never (coverage below 1 is what data with ⊥ targets should give).
    coverage_threshold: float | None = None
    coverage_patience: int = 3
    log_hook: Callable[[dict[str, Any]], None] | None = None
    val_loader: Iterable[Any] | None = None
    gradient_policy: GradientPolicy | None = None
    # Train a head that cannot emit ⊥ on data with bottoms anyway: only when
    # those labels are intentional noise or outside the task.
    allow_bottom_unreachable: bool = False
    loss_weights: dict[str, float] | None = None
    loss_curriculum: LossCurriculum | None = None
    # A torch device string ("cpu", "cuda", "cuda:1"); None picks cpu.
    device: str | None = None
    # The host reads the running metrics every this many steps (and at epoch end).
    log_every_n_steps: int = 50
    # Seeds the generator of the per-step thresholds.
    seed: int = 0

    def __post_init__(self) -> None:
        if self.use_amp is not None:
            self.mixed_precision = _require_bool("use_amp", self.use_amp)
            self.use_amp = None  # folded in, so to_dict/from_dict round-trip
        self.mixed_precision = _require_bool("mixed_precision", self.mixed_precision)
        self.allow_bottom_unreachable = _require_bool(
            "allow_bottom_unreachable", self.allow_bottom_unreachable
        )
        self.max_epochs = require_positive_int("max_epochs", self.max_epochs)
        self.gradient_accumulation_steps = require_positive_int(
            "gradient_accumulation_steps", self.gradient_accumulation_steps
        )
        self.amp_dtype = require_choice("amp_dtype", _dtype_name(self.amp_dtype), AMP_DTYPES)
        self._check_thresholds()
        if self.coverage_threshold is not None:
            self.coverage_threshold = require_float(
                "coverage_threshold", self.coverage_threshold, minimum=0.0, maximum=1.0
            )
        self.coverage_patience = require_positive_int("coverage_patience", self.coverage_patience)
        self.log_every_n_steps = require_positive_int("log_every_n_steps", self.log_every_n_steps)
        self.seed = require_seed("seed", self.seed)
        if self.gradient_policy is not None:
            self.gradient_policy = GradientPolicy.parse(self.gradient_policy)
        if self.loss_weights is not None:
            self.loss_weights = _check_weights(self.loss_weights)
        self._check_runtime_objects()
        if self.device is not None:
            self.device = check_device(self.device)

    def _check_thresholds(self) -> None:
        # Q is decoded in float32 (or bfloat16, of the same range): a smaller
        # threshold rounds to 0 there, and is refused before training, not after.
        self.tau_infer = require_float(
            "tau_infer", self.tau_infer, minimum=0.0, strict_minimum=True
        )
        if self.tau_infer < FLOAT32_TINY:
            raise ConfigError(
                f"tau_infer={self.tau_infer!r} rounds to 0 in float32; choose tau_infer >= "
                f"{FLOAT32_TINY!r}"
            )
        # Training thresholds are drawn in float32: beyond its range they cannot be.
        self.tau_train_min = require_float("tau_train_min", self.tau_train_min, maximum=FLOAT32_MAX)
        self.tau_train_max = require_float("tau_train_max", self.tau_train_max, maximum=FLOAT32_MAX)
        if not self.tau_infer <= self.tau_train_min <= self.tau_train_max:
            raise ConfigError(
                "thresholds must satisfy tau_infer <= tau_train_min <= tau_train_max, got "
                f"tau_infer={self.tau_infer!r}, tau_train_min={self.tau_train_min!r}, "
                f"tau_train_max={self.tau_train_max!r}; a training threshold below tau_infer "
                "would train outputs as finite that decode as ⊥"
            )

    def _check_runtime_objects(self) -> None:
        if self.log_hook is not None and not callable(self.log_hook):
            raise ConfigError(f"log_hook must be callable, got {self.log_hook!r}")
        if self.val_loader is not None and not isinstance(self.val_loader, Iterable):
            raise ConfigError(f"val_loader must be iterable, got {self.val_loader!r}")
        if self.loss_curriculum is not None and not isinstance(
            self.loss_curriculum, LossCurriculum
        ):
            raise ConfigError(
                f"loss_curriculum must have a weights(epoch, base) method, "
                f"got {self.loss_curriculum!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The plain fields as JSON-ready values (runtime objects left out)."""
        plain = {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name not in RUNTIME_FIELDS and field.name != "use_amp"
        }
        if self.gradient_policy is not None:
            plain["gradient_policy"] = self.gradient_policy.value
        return plain

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], **runtime: Any) -> TrainingConfig:
        """A config from plain values (as read from a file), plus runtime objects.

        Args:
            values: Field name to value; ``use_amp`` is accepted as an alias.
            **runtime: ``log_hook``, ``val_loader`` or ``loss_curriculum``.

        Raises:
            ConfigError: An unknown key (named, with the known ones), a runtime
                field in ``values``, or a bad value.
        """
        known = {field.name for field in dataclasses.fields(cls)} - RUNTIME_FIELDS
        runtime_hint = sorted(set(values) & RUNTIME_FIELDS)
        refuse_unknown_keys(
            values,
            known,
            "training config",
            hint=f" ({', '.join(runtime_hint)} must be set in code, not in a file)"
            if runtime_hint
            else "",
        )
        bad_runtime = sorted(set(runtime) - RUNTIME_FIELDS)
        if bad_runtime:
            raise ConfigError(f"{', '.join(bad_runtime)} are not runtime fields of TrainingConfig")
        return cls(**dict(values), **runtime)

    @classmethod
    def from_file(cls, path: str | Path, **runtime: Any) -> TrainingConfig:
        """A config from a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file.

        The file holds the fields at its top level, or under a ``[training]``
        table (``training:`` mapping).

        Raises:
            SourceError: The file cannot be read.
            ConfigError: An unknown suffix, a parse error, unknown keys or bad values.
        """
        values: Mapping[str, Any] = read_settings(path)
        if set(values) == {"training"} and isinstance(values["training"], Mapping):
            values = values["training"]
        try:
            return cls.from_dict(values, **runtime)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None


def refuse_unknown_keys(
    values: Mapping[str, Any], known: Iterable[str], what: str, *, hint: str = ""
) -> None:
    """Refuse keys of ``values`` outside ``known``, naming them and the known ones.

    The one check for every table of a config file (``training``, ``run``).

    Args:
        values: The table as read.
        known: The keys it may hold.
        what: The table, for the message (``"training config"``, ``"run settings"``).
        hint: Appended after the unknown keys.

    Raises:
        ConfigError: A key outside ``known``.
    """
    known = set(known)
    unknown = sorted(set(values) - known, key=str)
    if unknown:
        raise ConfigError(
            f"unknown {what} key(s) {', '.join(map(repr, unknown))}{hint}; "
            f"known keys: {', '.join(sorted(known))}"
        )


def read_settings(path: str | Path) -> dict[str, Any]:
    """The mapping in a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file, read as untrusted.

    The file must be a regular UTF-8 file of at most 1 MiB; YAML is read with
    the safe loader, without aliases (no "billion laughs"), nesting bounded.

    Raises:
        SourceError: The file cannot be opened.
        ConfigError: An unknown suffix, not a regular file, too large, a parse
            error, or not a mapping.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise ConfigError(f"{path}: unknown config format {suffix!r}; use .toml, .yaml or .yml")
    fmt = "toml" if suffix == ".toml" else "yaml"
    loaded = parse_untrusted(path, "training config", ConfigError, fmt=fmt)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(loaded).__name__}")
    return loaded


def _require_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value


def _dtype_name(value: Any) -> Any:
    """``torch.float16`` → ``"float16"``; anything else unchanged (checked by the caller)."""
    if type(value).__module__ == "torch" and type(value).__name__ == "dtype":
        return str(value).removeprefix("torch.")
    return value


def _check_weights(weights: Any) -> dict[str, float]:
    if not isinstance(weights, Mapping):
        raise ConfigError(f"loss_weights must be a mapping of term to weight, got {weights!r}")
    checked = {}
    for name, weight in weights.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"loss_weights keys must be non-empty strings, got {name!r}")
        checked[name] = require_loss_weight(name, weight)
    return checked


def check_device(device: Any) -> str:
    """A device string torch parses and this machine can compute on (``cuda``: see the trainer).

    Raises:
        ConfigError: Not a device, ``meta``, a device type this torch cannot
            use, or a CUDA index beyond this machine's devices.
    """
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(
            f"device must be a torch device such as 'cpu', 'cuda' or 'cuda:0', got {device!r} "
            "(not a torch device)"
        ) from None
    if parsed.type == "meta":
        raise ConfigError(f"device {device!r} holds no data to compute on; use 'cpu' or 'cuda'")
    if parsed.type not in ("cpu", "cuda"):
        try:
            torch.empty(1, device=parsed)
        except (RuntimeError, AssertionError, ValueError):
            raise ConfigError(
                f"device {device!r}: this torch {torch.__version__} cannot use "
                f"{parsed.type} devices here; use 'cpu' or 'cuda'"
            ) from None
    count = torch.cuda.device_count() if parsed.type == "cuda" else 0
    if count and parsed.index is not None and parsed.index >= count:
        raise ConfigError(
            f"device {device!r}: this machine has {count} CUDA device(s), "
            f"cuda:0 to cuda:{count - 1}"
        )
    return str(parsed)
