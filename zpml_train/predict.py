"""Use a trained model: :func:`load_model` reads a checkpoint, :class:`Predictor` applies it.

A checkpoint is untrusted: it is read with ``torch.load(weights_only=True)``
(tensors and plain data only, never code), its format and version are
checked, and the model is rebuilt from its :class:`~zpml_train.model.spec.ModelRecord`
(:func:`~zpml_train.model.spec.build_model` bounds its size first). A
checkpoint written before runs stored a record is read with its run
directory's ``config.json`` and training manifest instead.

Each prediction is the strict SCM decode at the model's ``tau_infer``: a
value where ``|Q| >= tau_infer``, else ⊥ (the value NaN) with a status label:
``censored_below``/``censored_above`` by the sign of ``P`` where ⊥ means
censored, the kind the head reports where it has kind outputs
(``domain_invalid``, ``fault``), and ``bottom`` where it cannot say. A row
whose inputs are not all finite numbers gets no prediction: NaN and ``missing``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from torch import nn

from zpml_data.errors import ConfigError, SourceError, UsageError
from zpml_data.status import STATUS_LABELS, Status
from zpml_train.model.heads import check_tau_infer, decode
from zpml_train.model.spec import RECORD_KEY, ModelRecord, build_model
from zpml_train.model.status_decode import decoded_codes, kind_statuses
from zpml_train.predict_io import (
    input_matrix,
    record_from_run,
    refuse_missing_columns,
    source_columns,
)
from zpml_train.training._checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, load_untrusted

READABLE_CHECKPOINT_VERSIONS = (CHECKPOINT_VERSION,)
BEST_CHECKPOINT = "best.pt"
# Rows per forward pass: bounds the activations' memory whatever the table's size.
CHUNK_ROWS = 1 << 16
VALUE_TEMPLATE = "{target}_pred"
STATUS_TEMPLATE = "{target}_pred_status"


class Predicted(NamedTuple):
    """Decoded predictions as arrays, ``[N, T]`` each.

    Attributes:
        values: float32 decoded values, NaN where ⊥ (or ``missing``).
        codes: int8 status codes (:class:`~zpml_data.status.Status`).
        P: float32 numerators (only when asked for), else ``None``.
        Q: float32 denominators (only when asked for), else ``None``.
    """

    values: np.ndarray
    codes: np.ndarray
    P: np.ndarray | None = None
    Q: np.ndarray | None = None


def load_model(path: str | Path, *, device: str | torch.device = "cpu") -> Predictor:
    """Load a trained model from a run directory (its ``best.pt``) or a checkpoint file.

    Args:
        path: A ``zpml train`` run directory or a checkpoint file.
        device: Where the model runs (``"cpu"``, ``"cuda"``, ``"cuda:1"``).

    Returns:
        A :class:`Predictor`.

    Raises:
        SourceError: The path does not exist or cannot be read.
        ConfigError: Not a zpml checkpoint (empty, truncated, another format,
            a pickle that would run code), a format version this zpml does not
            read, a record that does not describe the weights, or an
            unavailable device.
    """
    file = _checkpoint_file(Path(path))
    torch_device = _device(device)
    state = _read_checkpoint(file)
    where = str(file)
    if RECORD_KEY in state:
        record = ModelRecord.from_dict(state[RECORD_KEY], where)
    else:
        record = record_from_run(file, state)
    model = build_model(record.spec, where)
    weights = state.get("model")
    if not isinstance(weights, Mapping):
        raise ConfigError(f"{where}: holds no model weights; it is not a trained zpml model")
    try:
        model.load_state_dict(weights)
    except (RuntimeError, ValueError, KeyError, TypeError) as error:
        detail = " ".join(str(error).split())[:200]
        raise ConfigError(
            f"{where}: the weights do not fit the model it records ({detail}); "
            "the checkpoint is damaged or was edited"
        ) from None
    _require_usable_weights(model, where)
    training = state.get("config")
    return Predictor(
        model,
        record,
        device=torch_device,
        training_config=dict(training) if isinstance(training, Mapping) else None,
    )


def _checkpoint_file(path: Path) -> Path:
    if path.is_dir():
        best = path / BEST_CHECKPOINT
        if not best.is_file():
            raise SourceError(
                f"{path}: no {BEST_CHECKPOINT} in this directory; name a zpml train run "
                "directory or a checkpoint file"
            )
        return best
    if not path.exists():
        raise SourceError(f"model {str(path)!r} does not exist; name a run directory or a .pt file")
    if not path.is_file():
        raise SourceError(f"model {str(path)!r} is not a file or a run directory")
    return path


def _read_checkpoint(file: Path) -> dict[str, Any]:
    """The checkpoint's contents, read as tensors and plain data only; one-line errors."""
    state = load_untrusted(file)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{file}: not a zpml checkpoint (no {CHECKPOINT_FORMAT!r} format tag)")
    version = state.get("version")
    if version not in READABLE_CHECKPOINT_VERSIONS:
        raise ConfigError(
            f"{file}: checkpoint format version {version!r}; this zpml reads version(s) "
            f"{', '.join(map(str, READABLE_CHECKPOINT_VERSIONS))}: upgrade zpml to load it"
        )
    return state


def _require_usable_weights(model: torch.nn.Module, where: str) -> None:
    """Refuse weights that would decode every row as ⊥: non-finite, or a zero input scale."""
    bad = [
        name
        for name, tensor in model.state_dict().items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    scale = getattr(model, "input_scale", None)
    if isinstance(scale, torch.Tensor) and not bool((scale > 0).all()):
        bad.append("input_scale (not positive)")
    if bad:
        raise ConfigError(
            f"{where}: the weights are not usable ({', '.join(bad[:5])} not finite or out of "
            "range); the training diverged or the checkpoint was edited: use another checkpoint"
        )


def _device(device: str | torch.device) -> torch.device:
    from zpml_train.training.config import check_device

    torch_device = torch.device(check_device(device))
    if torch_device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device {str(device)!r}: this torch sees no CUDA device; predict on 'cpu'"
        )
    return torch_device


class Predictor:
    """A trained model ready to predict: inputs by name, decoded values and statuses out.

    Args:
        model: The rebuilt module, weights loaded.
        record: What the checkpoint records about it.
        device: Where it runs.
        training_config: The run's :class:`~zpml_train.training.config.TrainingConfig`
            as plain data (the checkpoint's), for ``zpml evaluate``'s loss.

    Attributes:
        inputs: The table columns the model reads, in its order (a categorical
            column once).
        features: The model's input features, in the order of its input
            tensor: ``inputs``, with each categorical column as
            ``column=category`` per category (what a ``[N, F]`` tensor holds).
        targets: The targets it predicts.
        tau_infer: The decoding threshold.
        record: The :class:`~zpml_train.model.spec.ModelRecord`.
        model: The module, in eval mode on ``device``.
    """

    def __init__(
        self,
        model: nn.Module,
        record: ModelRecord,
        device: str | torch.device = "cpu",
        training_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.record = record
        self.training_config = training_config
        self.device = _device(device)
        self.model = model.to(self.device).eval()
        self.features: list[str] = list(record.inputs)
        self.inputs: list[str] = source_columns(self.features, record.categories)
        self.targets: list[str] = list(record.targets)
        self.tau_infer = check_tau_infer(record.tau_infer)
        self._kind_statuses = kind_statuses(record.status_counts)

    def __repr__(self) -> str:
        return (
            f"Predictor({self.record.spec['head']} head, inputs={self.inputs}, "
            f"targets={self.targets}, tau_infer={self.tau_infer!r})"
        )

    def predict(self, data: Any, *, pq: bool = False, batch_size: int = CHUNK_ROWS) -> pd.DataFrame:
        """Decoded predictions for every row of ``data``.

        Args:
            data: A pandas DataFrame, an Arrow table or record batch, a Parquet
                or CSV path (or a list of them), or a ``[N, F]`` tensor or array
                in the order of :attr:`features`. Columns are taken by name, in
                any order; other columns are ignored.
            pq: Add the raw outputs ``<target>_P`` and ``<target>_Q``.
            batch_size: Rows per forward pass.

        Returns:
            One row per input row: ``<target>_pred`` (float32, NaN where ⊥ or
            ``missing``) and ``<target>_pred_status`` (categorical over the
            seven labels) for each target, then ``P`` and ``Q`` if asked.

        Raises:
            UsageError: Missing input columns (all listed), an input column
                that is not numeric, or a tensor of the wrong width.
            SourceError: A path cannot be read.
        """
        parts = [self.predict_matrix(x, pq=pq) for x in self._matrices(data, batch_size)]
        if not parts:
            empty = np.empty((0, len(self.features)), np.float32)
            parts = [self.predict_matrix(empty, pq=pq)]
        P = [p.P for p in parts if p.P is not None]
        Q = [p.Q for p in parts if p.Q is not None]
        joined = Predicted(
            np.concatenate([p.values for p in parts]),
            np.concatenate([p.codes for p in parts]),
            np.concatenate(P) if pq else None,
            np.concatenate(Q) if pq else None,
        )
        return predictions_frame(joined, self.targets)

    def _matrices(self, data: Any, batch_size: int) -> Iterator[np.ndarray]:
        if isinstance(data, torch.Tensor | np.ndarray):
            matrix = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else data
            if matrix.ndim != 2 or matrix.shape[1] != len(self.features):
                raise UsageError(
                    f"inputs of shape {tuple(matrix.shape)}; the model reads [N, "
                    f"{len(self.features)}] ({', '.join(self.features)})"
                )
            yield np.asarray(matrix, dtype=np.float32)
            return
        from zpml_data.io.sources import open_source

        source = open_source(data)
        columns = self.inputs
        refuse_missing_columns(source.names, source.schema.names, columns)
        for part in source.batches(columns, batch_size=batch_size):
            yield input_matrix(part.batch, self.features, self.record.categories, part.file)[0]

    def predict_matrix(self, inputs: np.ndarray | torch.Tensor, *, pq: bool = False) -> Predicted:
        """Decoded predictions for an ``[N, F]`` feature matrix (in the order of :attr:`features`).

        Rows with a non-finite input are not run through the model: NaN, ``missing``.
        """
        x = torch.as_tensor(inputs, dtype=torch.float32)
        rows = int(x.shape[0])
        targets = len(self.targets)
        values = np.empty((rows, targets), np.float32)
        codes = np.empty((rows, targets), np.int8)
        P_all = np.empty((rows, targets), np.float32) if pq else None
        Q_all = np.empty((rows, targets), np.float32) if pq else None
        with torch.inference_mode():
            for start in range(0, rows, CHUNK_ROWS):
                chunk = x[start : start + CHUNK_ROWS].to(self.device, non_blocking=True)
                out = self.model(chunk)
                P, Q = out[0], out[1]
                part = self.decode(P, Q, getattr(out, "kind_logits", None), chunk)
                stop = start + int(chunk.shape[0])
                values[start:stop] = part.values
                codes[start:stop] = part.codes
                if P_all is not None and Q_all is not None:
                    P_all[start:stop] = P.float().cpu().numpy()
                    Q_all[start:stop] = Q.float().cpu().numpy()
        return Predicted(values, codes, P_all, Q_all)

    def decode(
        self,
        P: torch.Tensor,
        Q: torch.Tensor,
        kind_logits: torch.Tensor | None = None,
        inputs: torch.Tensor | None = None,
    ) -> Predicted:
        """Values and status codes from the model's outputs (see the module docstring).

        Args:
            P: ``[B, T]`` numerators.
            Q: ``[B, T]`` denominators.
            kind_logits: ``[B, T, 3]`` from a head with kind outputs, else ``None``.
            inputs: ``[B, F]``: rows with a non-finite input decode ``missing``.
        """
        decoded = decode(P.float(), Q.float(), self.tau_infer)
        codes = decoded_codes(decoded.bottom, decoded.side, kind_logits, self._kind_statuses)
        values = decoded.values
        if inputs is not None:
            bad = ~torch.isfinite(inputs).all(dim=1, keepdim=True).expand_as(values)
            codes = codes.masked_fill(bad, int(Status.MISSING))
            values = values.masked_fill(bad, float("nan"))
        return Predicted(values.cpu().numpy(), codes.cpu().numpy())


def predictions_frame(
    predicted: Predicted,
    targets: list[str],
    value_template: str = VALUE_TEMPLATE,
    status_template: str = STATUS_TEMPLATE,
) -> pd.DataFrame:
    """A DataFrame of ``<target>_pred``, ``<target>_pred_status`` (and ``_P``, ``_Q``)."""
    columns: dict[str, Any] = {}
    for index, target in enumerate(targets):
        columns[value_template.format(target=target)] = predicted.values[:, index]
        columns[status_template.format(target=target)] = pd.Categorical.from_codes(
            predicted.codes[:, index], categories=list(STATUS_LABELS)
        )
    for name, array in (("P", predicted.P), ("Q", predicted.Q)):
        if array is not None:
            for index, target in enumerate(targets):
                columns[f"{target}_{name}"] = array[:, index]
    return pd.DataFrame(columns)


def status_column(codes: np.ndarray) -> pa.DictionaryArray:
    """Status codes as an Arrow dictionary column over the seven labels."""
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int8()), pa.array(STATUS_LABELS))
