"""``zpml predict``'s work: stream a table through a model into a predictions file.

Every source column is kept unchanged and in order (or the ``keep`` ones);
each target adds a value column (float32, NaN where ⊥) and a status column
(the seven labels). The output is Parquet (a ``.parquet`` or ``.pq`` name)
or CSV (a ``.csv`` name), written to a temporary name and renamed; from CSV
to CSV the kept columns are the text the user wrote. An existing output is replaced only when it is
a predictions file zpml wrote, never an input.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from zpml_data.errors import IntegrityError, UsageError
from zpml_data.io import DEFAULT_BATCH_SIZE
from zpml_data.io.atomic import atomic_path
from zpml_data.io.guard import check_output_path, output_lock, refuse_overlap
from zpml_data.io.progress import progress_bar
from zpml_data.io.sources import Source, SourceBatch, open_source
from zpml_data.status import STATUS_LABELS
from zpml_train.predict import (
    STATUS_TEMPLATE,
    VALUE_TEMPLATE,
    Predicted,
    Predictor,
    status_column,
)
from zpml_train.predict_io import (
    WRITTEN_BY,
    WRITTEN_BY_KEY,
    input_matrix,
    prediction_names,
    refuse_directory_output,
    refuse_inside_inputs,
    refuse_missing_columns,
    refuse_repeated_sources,
    written_by_predict,
)

_LABELS = len(STATUS_LABELS)

# The predictions formats by suffix: whether the file is CSV (else Parquet).
OUTPUT_SUFFIXES = {".parquet": False, ".pq": False, ".csv": True}


@dataclass(frozen=True)
class PredictionSummary:
    """What :func:`predict_file` wrote.

    Attributes:
        path: The predictions file.
        rows: Rows written (counted back from the file).
        columns: Its columns, in order.
        status_counts: Per target, the count of each decoded status.
        unseen_categories: Per categorical input, the rows whose category the
            model never saw (encoded as all zeros).
    """

    path: Path
    rows: int
    columns: list[str]
    status_counts: dict[str, dict[str, int]]
    unseen_categories: dict[str, int]


def predict_file(
    predictor: Predictor,
    sources: Any,
    out: str | Path,
    *,
    keep: Sequence[str] | None = None,
    value_template: str = VALUE_TEMPLATE,
    status_template: str = STATUS_TEMPLATE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
) -> PredictionSummary:
    """Predict every row of ``sources`` into ``out``, streaming record batches.

    Args:
        predictor: From :func:`~zpml_train.predict.load_model`.
        sources: Paths (CSV, Parquet, directories, globs) or a table.
        out: The predictions file: Parquet, or CSV for a ``.csv`` name.
        keep: The source columns to keep, in this order (default: all).
        value_template: The value column's name, ``{target}`` replaced.
        status_template: The status column's name, ``{target}`` replaced.
        batch_size: Rows per record batch: memory grows with it, not with the data.
        progress: A progress bar (on a terminal).

    Returns:
        A :class:`PredictionSummary`.

    Raises:
        UsageError: Missing input or ``keep`` columns, an output column that
            exists in the source, an ``out`` whose suffix is not one of
            :data:`OUTPUT_SUFFIXES`, ``out`` equal to or inside an input, or an
            existing ``out`` that zpml did not write.
        SourceError: A source cannot be read or ``out`` written.
        IntegrityError: The file holds another number of rows than were read.
    """
    refuse_directory_output(out, "--out", "the predictions file")
    source = open_source(sources)
    refuse_repeated_sources(source.names)
    names = source.schema.names
    kept = _kept_columns(names, keep, source)
    pairs = prediction_names(predictor.targets, value_template, status_template)
    added = [name for pair in pairs for name in pair]
    clash = [name for name in added if name in names]
    if clash:
        raise UsageError(
            f"output column(s) {', '.join(map(repr, clash))} already exist in the source; "
            "name the prediction columns otherwise (--value-name, --status-name)"
        )
    refuse_missing_columns(source.names, names, predictor.inputs)
    path = check_output_path(out)
    as_csv = _is_csv(Path(out), path)
    refuse_overlap(source.names, [path])
    refuse_inside_inputs(sources, [path])
    if path.exists() and not written_by_predict(path, as_csv, added):
        raise UsageError(
            f"{path} exists and is not a predictions file zpml wrote; choose another --out "
            "or remove it yourself"
        )
    with output_lock(path):
        return _write(predictor, source, path, as_csv, kept, pairs, batch_size, progress)


def _is_csv(spelled: Path, path: Path) -> bool:
    """Whether the predictions go to CSV, from the output's suffix (and a link's target's).

    Raises:
        UsageError: A suffix that names no predictions format, or a link whose
            target's suffix names another format than its own.
    """
    accepted = ", ".join(OUTPUT_SUFFIXES)
    formats = set()
    for name in dict.fromkeys([spelled, path]):
        suffix = name.suffix.lower()
        if suffix not in OUTPUT_SUFFIXES:
            said = f"suffix {name.suffix!r}" if name.suffix else "no suffix"
            raise UsageError(
                f"output {str(name)!r} has {said}; name the predictions file with one of "
                f"{accepted} (Parquet, or CSV for .csv)"
            )
        formats.add(OUTPUT_SUFFIXES[suffix])
    if len(formats) > 1:
        raise UsageError(
            f"output {str(spelled)!r} links to {str(path)!r}, a file of another format; "
            "give the target's own name as the output"
        )
    return formats.pop()


def _kept_columns(names: list[str], keep: Sequence[str] | None, source: Source) -> list[str]:
    if keep is None:
        return list(names)
    unknown = [name for name in keep if name not in names]
    if unknown:
        raise UsageError(
            f"{', '.join(source.names)}: --keep names column(s) "
            f"{', '.join(map(repr, unknown))} the source lacks; it has {', '.join(names)}"
        )
    if len(set(keep)) != len(keep):
        raise UsageError(f"--keep names a column twice: {', '.join(keep)}")
    return list(keep)


def _batches(
    source: Source, predictor: Predictor, kept: list[str], as_text: bool, batch_size: int
) -> Iterator[tuple[SourceBatch, pa.RecordBatch]]:
    """Pairs of (the model's input columns, the kept columns) per batch.

    From a CSV to a CSV the kept columns are read a second time as their text,
    in the same batches.
    """
    typed = source.batches(
        sorted(set(predictor.inputs) | set(kept), key=source.schema.names.index),
        batch_size=batch_size,
    )
    if not as_text:
        for part in typed:
            yield part, part.batch.select(kept)
        return
    text = source.batches(kept, batch_size=batch_size, keep_text=kept)
    for part, words in zip(typed, text, strict=True):
        assert part.batch.num_rows == words.batch.num_rows, "the two readings of a CSV differ"
        yield part, words.batch


def _write(
    predictor: Predictor,
    source: Source,
    path: Path,
    as_csv: bool,
    kept: list[str],
    pairs: list[tuple[str, str]],
    batch_size: int,
    progress: bool,
) -> PredictionSummary:
    from zpml_data.convert.output import ConvertedFile

    counts = [np.zeros(_LABELS, np.int64) for _ in pairs]
    unseen_rows: dict[str, int] = {}
    rows_in = 0
    metadata = {WRITTEN_BY_KEY: WRITTEN_BY}
    as_text = as_csv and source.is_text and bool(kept)
    with atomic_path(path) as tmp:
        output = ConvertedFile(tmp, as_csv=as_csv)
        with output, progress_bar(source.count_rows(), "predict", progress) as bar:
            for part, kept_batch in _batches(source, predictor, kept, as_text, batch_size):
                matrix, unseen = input_matrix(
                    part.batch, predictor.features, predictor.record.categories, part.file
                )
                for column, count in unseen.items():
                    unseen_rows[column] = unseen_rows.get(column, 0) + count
                predicted = predictor.predict_matrix(matrix)
                output.write(_with_predictions(kept_batch, predicted, pairs, metadata))
                for index in range(len(pairs)):
                    counts[index] += np.bincount(predicted.codes[:, index], minlength=_LABELS)
                rows_in += part.batch.num_rows
                bar.update(part.batch.num_rows)
            output.finish(_empty_schema(source, kept, pairs, metadata, as_text))
        rows_out = output.rows_written()
        if rows_out != rows_in:
            raise IntegrityError(
                f"{path}: {rows_out:,} rows written for {rows_in:,} read; nothing was kept: "
                "this is a bug, please report it"
            )
    return PredictionSummary(
        path,
        rows_out,
        [*kept, *(name for pair in pairs for name in pair)],
        {
            target: {label: int(c) for label, c in zip(STATUS_LABELS, row, strict=True) if c}
            for target, row in zip(predictor.targets, counts, strict=True)
        },
        {column: rows for column, rows in unseen_rows.items() if rows},
    )


def _with_predictions(
    kept: pa.RecordBatch,
    predicted: Predicted,
    pairs: list[tuple[str, str]],
    metadata: dict[bytes, bytes],
) -> pa.RecordBatch:
    """The kept columns, then each target's value and status columns."""
    arrays, fields = list(kept.columns), list(kept.schema)
    for index, (value_name, status_name) in enumerate(pairs):
        status = status_column(predicted.codes[:, index])
        arrays += [pa.array(predicted.values[:, index]), status]
        fields += [pa.field(value_name, pa.float32()), pa.field(status_name, status.type)]
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields, metadata=metadata))


def _empty_schema(
    source: Source,
    kept: list[str],
    pairs: list[tuple[str, str]],
    metadata: dict[bytes, bytes],
    as_text: bool,
) -> pa.Schema:
    """The output's schema, for a source without rows (the file still gets its header)."""
    fields = [
        pa.field(name, pa.string()) if as_text else source.schema.field(name) for name in kept
    ]
    status_type = pa.dictionary(pa.int8(), pa.string())
    for value_name, status_name in pairs:
        fields += [pa.field(value_name, pa.float32()), pa.field(status_name, status_type)]
    return pa.schema(fields, metadata=metadata)
