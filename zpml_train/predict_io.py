"""Rows in, for :mod:`zpml_train.predict`: input matrices from Arrow batches, and old records.

Input columns are taken by name and cast to float32 column by column (nulls
become NaN); a column of another type (text where a number was trained) is
refused naming it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from zpml_data.errors import ConfigError, UsageError, ZpmlError
from zpml_data.io.untrusted import read_untrusted_text
from zpml_train.model.spec import ModelRecord


def source_columns(inputs: list[str], categories: Mapping[str, list[str]]) -> list[str]:
    """The table columns a model reads, in order: each categorical column once for its features.

    Args:
        inputs: The model's input features: a numeric column's name, or
            ``column=category`` for each category of a one-hot encoded column.
        categories: Per categorical source column, its categories in feature order.

    Raises:
        ConfigError: Features that are not the one-hot blocks ``categories`` describe.
    """
    from zpml_data.shards.inputs import feature_names

    blocks = {
        column: [f"{column}={category}" for category in values]
        for column, values in categories.items()
        if values
    }
    columns: list[str] = []
    at = 0
    while at < len(inputs):
        column = next(
            (c for c, block in blocks.items() if inputs[at : at + len(block)] == block), None
        )
        columns.append(inputs[at] if column is None else column)
        at += 1 if column is None else len(blocks[column])
    consistent = feature_names(columns, categories) == list(inputs) and set(blocks) <= set(columns)
    if not consistent or len(set(columns)) != len(columns):
        raise ConfigError(
            f"the model's input features {inputs} are not the one-hot blocks of its "
            f"categories {dict(categories)}; the checkpoint is damaged or was edited"
        )
    return columns


def refuse_missing_columns(
    files: list[str], names: list[str], required: list[str], what: str = "input"
) -> None:
    """Refuse a source that lacks columns the model reads, listing every one.

    Raises:
        UsageError: Naming the source, the missing columns and what the model reads.
    """
    missing = [name for name in required if name not in names]
    if missing:
        raise UsageError(
            f"{', '.join(files)}: missing {what} column(s) {', '.join(map(repr, missing))}; "
            f"the model reads {', '.join(required)}"
        )


def refuse_directory_output(out: str | Path, option: str, what: str) -> None:
    """Refuse an output file spelled as a directory (a trailing separator) or standing as one.

    ``Path`` drops a trailing separator, so ``pred.parquet/`` would otherwise
    become a file called ``pred.parquet``.

    Args:
        out: The output as the user spelled it.
        option: The option that named it (``--out``), for the message.
        what: The file the option names, for the message.

    Raises:
        UsageError: Naming the output and the option.
    """
    spelled = os.fspath(out)
    if spelled.endswith(tuple({os.sep, "/"})) or Path(spelled).is_dir():
        raise UsageError(f"output {spelled!r} is a directory; {option} names {what} to write")


def refuse_repeated_sources(files: list[str]) -> None:
    """Refuse a source read twice: the same file named twice, by link, or through a directory.

    Every row of such a file would be predicted twice, which no one asks for.

    Args:
        files: The files a source reads (its parts' names), in order.

    Raises:
        UsageError: Naming the file and both spellings.
    """
    seen: dict[tuple[int, int], str] = {}
    for name in files:
        try:
            info = os.stat(name)
        except OSError:
            continue  # a table in memory, or a file that vanished: the reader says so
        first = seen.setdefault((info.st_dev, info.st_ino), name)
        if first != name or files.count(name) > 1:
            again = "twice" if first == name else f"as {first!r} and {name!r}"
            raise UsageError(
                f"source file {name!r} is given {again}: its rows would be predicted twice; "
                "name each file once"
            )


def refuse_inside_inputs(inputs: Any, outputs: list[str | Path]) -> None:
    """Refuse an output inside a directory that is read (a run directory, a folder of data).

    A file written there would be read as data (or as the model) next time;
    :func:`~zpml_data.io.guard.refuse_overlap` refuses the reverse.

    Raises:
        UsageError: Naming the output and the directory.
    """
    names = [inputs] if isinstance(inputs, str | Path) else inputs
    if not isinstance(names, list | tuple):
        return  # a table in memory
    for name in names:
        directory = Path(name)
        if not directory.is_dir():
            continue
        for output in outputs:
            if Path(output).resolve().is_relative_to(directory.resolve()):
                raise UsageError(
                    f"output {str(output)!r} would overwrite the input {str(name)!r}: it is "
                    "inside that directory, which is read; write elsewhere"
                )


def _numeric(kind: pa.DataType) -> bool:
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_null(kind)
    )


def input_matrix(
    batch: pa.RecordBatch | pa.Table,
    inputs: list[str],
    categories: Mapping[str, list[str]],
    where: str,
) -> tuple[np.ndarray, dict[str, int]]:
    """The ``[N, F]`` float32 features of ``batch``, encoded as the training shards were.

    Columns are taken by name; a categorical column is one-hot encoded against
    its categories (a value the model never saw, or null, is all zeros).

    Args:
        batch: Holds every column of :func:`source_columns` (others are ignored).
        inputs: The model's input features, in order.
        categories: Per categorical source column, its categories.
        where: The file or table, for messages.

    Returns:
        The features, and per categorical column the rows of an unseen category.

    Raises:
        UsageError: A numeric input of another type, or a categorical input
            that is not text (each named with its type).
    """
    from zpml_data.shards.inputs import encode_inputs, is_categorical

    columns = source_columns(inputs, categories)
    for name in columns:
        kind = batch.schema.field(name).type
        if name in categories and not is_categorical(kind) and not pa.types.is_null(kind):
            raise UsageError(
                f"{where}: input column {name!r} is {kind}, but the model was trained on its "
                "text categories; give it as text"
            )
        if name not in categories and not _numeric(kind):
            raise UsageError(
                f"{where}: input column {name!r} is {kind}, but the model was trained "
                "on numbers; convert it to a numeric column"
            )
    return encode_inputs(batch, columns, categories)


def record_from_run(file: Path, state: Mapping[str, Any]) -> ModelRecord:
    """The record of a checkpoint that carries none, from its run directory.

    A run directory's ``config.json`` names the model settings and the
    training shards, whose manifest names the inputs and targets.

    Raises:
        ConfigError: The run's ``config.json`` or its training manifest is
            not there or not readable: the checkpoint alone cannot be rebuilt.
    """
    from zpml_data.shards.manifest import read_manifest

    config_path = file.parent / "config.json"
    fix = "load it from the run directory it was written in"
    if not config_path.is_file():
        raise ConfigError(f"{file}: records no model, and no config.json is beside it; {fix}")
    try:
        config = json.loads(read_untrusted_text(config_path, "run config", ConfigError))
        run, training, data = config["run"], config["training"], config["data"]
        manifest = read_manifest(data["train"])
        head = run.get("head", "rational")
        spec = {
            "architecture": "ProjectiveMLP",
            "input_dim": len(manifest.inputs),
            "output_dim": len(manifest.targets),
            "hidden": list(run["hidden"]),
            "head": head if head in ("rational", "gated") else "rational",
            "q_param": run.get("q_param", "none"),
            "q_min": run.get("q_min", 0.0),
        }
        tau = state.get("config", training).get("tau_infer", training["tau_infer"])
        statuses = [t.get("status") for t in manifest.spec.get("targets", [])]
        return ModelRecord(
            spec=spec,
            inputs=list(manifest.inputs),
            targets=list(manifest.targets),
            tau_infer=tau,
            tau_infer_configured=tau,
            status_columns=statuses if all(statuses) and statuses else None,
            categories=dict(getattr(manifest, "categories", {}) or {}),
            status_counts=dict(manifest.status_counts),
        )
    except (KeyError, TypeError, AttributeError, ValueError, ZpmlError) as error:
        detail = " ".join(str(error).split())[:200]
        raise ConfigError(
            f"{file}: records no model, and its run's config.json and training shards "
            f"do not describe it ({type(error).__name__}: {detail}); {fix}"
        ) from None


# Parquet schema metadata by which zpml recognises a predictions file it wrote.
WRITTEN_BY_KEY = b"zpml"
WRITTEN_BY = b"predict"


def prediction_names(
    targets: list[str], value_template: str, status_template: str
) -> list[tuple[str, str]]:
    """``(value column, status column)`` per target, from the name templates.

    Raises:
        UsageError: A template that is not a ``{target}`` format, or names
            that repeat (a template without ``{target}`` and several targets).
    """
    try:
        names = [
            (value_template.format(target=t), status_template.format(target=t)) for t in targets
        ]
    except (KeyError, IndexError, ValueError) as error:
        raise UsageError(
            f"column name templates {value_template!r}, {status_template!r}: {error!s}; "
            "use {target} for the target's name, as in '{target}_pred'"
        ) from None
    flat = [name for pair in names for name in pair]
    if len(set(flat)) != len(flat) or not all(flat):
        raise UsageError(
            f"column name templates {value_template!r}, {status_template!r} give the names "
            f"{flat}: each must be different and not empty (use {{target}})"
        )
    return names


def written_by_predict(path: Path, as_csv: bool, added: list[str]) -> bool:
    """Whether the existing file at ``path`` is a predictions file zpml wrote.

    Parquet: the schema metadata zpml sets. CSV: a header ending in the
    prediction columns ``added``.
    """
    import pyarrow.parquet as pq

    try:
        if not as_csv:
            metadata = pq.read_schema(path).metadata or {}
            return metadata.get(WRITTEN_BY_KEY) == WRITTEN_BY
        with path.open("rb") as file:
            header = file.readline(1 << 20).decode("utf-8").rstrip("\r\n").split(",")
    except (OSError, ValueError, pa.ArrowInvalid):
        return False
    return header[-len(added) :] == added
