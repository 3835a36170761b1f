"""Convert legacy sentinel data (NaN/±inf, lab text markers) to explicit status labels.

The conversion streams record batches, keeps every other column as it was
(CSV to CSV: as the text the user wrote), adds a status column, and keeps a
ledger of what each kind of legacy value became. The default policy lifts
exactly as the legacy ``lift_targets`` did; any other policy is allowed, and
the ledger lists the rows whose meaning changed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zpml_data.convert.ledger import ConversionLedger
from zpml_data.convert.markers import Kind, classify_numbers, parse_text
from zpml_data.convert.output import ConvertedFile, refuse_nested_in_csv
from zpml_data.errors import MAX_SHOWN, DataError, IntegrityError, UsageError
from zpml_data.io import DEFAULT_BATCH_SIZE
from zpml_data.io.atomic import atomic_path
from zpml_data.io.guard import check_output_path, output_lock, refuse_overlap
from zpml_data.io.progress import progress_bar
from zpml_data.io.sources import NULL_VALUES, Source, SourceBatch, open_source
from zpml_data.lift import lift_semantic_targets, lift_targets
from zpml_data.status import DEFAULT_SENTINEL_POLICY, STATUS_LABELS, Status

_STATUS_TYPE = pa.dictionary(pa.int8(), pa.string())


class _Converter:
    """The state of one conversion: policy, reasons, ledger, collected errors."""

    def __init__(
        self,
        ledger: ConversionLedger,
        policy: Mapping[str, Status],
        reason_column: str | None,
        reason_map: Mapping[str, Status] | None,
        markers: bool | None,
        sentinels: Mapping[float, Status],
    ) -> None:
        self.ledger, self.reason_column, self.reason_map = ledger, reason_column, reason_map or {}
        self.markers = markers
        self.sentinels = dict(sentinels)
        self.sentinel_rows = dict.fromkeys(self.sentinels, 0)
        kind_codes = [
            Status.FINITE,
            policy["nan"],
            policy["posinf"],
            policy["neginf"],
            Status.CENSORED_BELOW,
            Status.CENSORED_ABOVE,
            Status.MISSING,  # unparseable: the conversion fails; this only fills the slot
        ]
        self.kind_codes = np.array(kind_codes, dtype=np.int8)
        self.unparseable: Counter[str] = Counter()
        self.unparseable_rows: dict[str, list[str]] = {}
        self.unknown_reasons: Counter[str] = Counter()
        self.nonfinite_rows: list[str] = []
        self.nonfinite = 0

    def convert(self, part: SourceBatch, out_columns: list[str]) -> pa.RecordBatch:
        batch, ledger = part.batch, self.ledger
        column = batch.column(ledger.value)
        kind = column.type
        # An all-empty CSV column reads as type null: text with nothing in it.
        if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
            if self.markers is False:
                raise UsageError(
                    f"{part.file}: value column {ledger.value!r} is text; "
                    "convert with markers (drop --no-markers)"
                )
            values, kinds = parse_text(column)
            self._collect_unparseable(part, column, kinds)
            column = pa.array(values, pa.float64())
        elif pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
            values = column.to_numpy(zero_copy_only=False).astype(np.float64)
            kinds = classify_numbers(values)
        else:
            raise UsageError(
                f"{part.file}: value column {ledger.value!r} has type {column.type}; "
                "expected numbers or text"
            )
        codes = self.kind_codes[kinds]
        labels = [k.description for k in Kind]
        read = values  # what a legacy pipeline saw: a sentinel code was a number to it
        if self.sentinels:
            values, codes, kinds, labels = self._apply_sentinels(values, codes, kinds, labels)
            column = pa.array(values, pa.float64())
        if self.reason_column is not None:
            codes, kinds, labels = self._apply_reasons(part, codes, kinds, labels)
        self._tally(part, read, values, kinds, codes, labels)
        columns = {name: batch.column(name) for name in batch.schema.names}
        columns[ledger.value] = column
        columns[ledger.status_column] = pa.DictionaryArray.from_arrays(
            pa.array(codes, pa.int8()), pa.array(STATUS_LABELS)
        )
        return pa.RecordBatch.from_arrays(
            [columns[name] for name in out_columns], names=out_columns
        )

    def _apply_sentinels(
        self, values: np.ndarray, codes: np.ndarray, kinds: np.ndarray, labels: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """Label the numbers that stand for a status; their value becomes NaN (not measured)."""
        values, codes, kinds = values.copy(), codes.copy(), kinds.copy()
        for number, status in self.sentinels.items():
            hit = (kinds == Kind.FINITE) & (values == number)
            self.sentinel_rows[number] += int(hit.sum())
            codes[hit], kinds[hit], values[hit] = status, len(labels), np.nan
            labels = [*labels, f"sentinel {number:g}"]
        return values, codes, kinds, labels

    def unused_sentinels(self) -> list[str]:
        """A note for each sentinel value that never occurred."""
        return [
            f"sentinel {number:g} never occurs in {self.ledger.value!r}: nothing was labelled "
            f"{self.sentinels[number].label!r} for it"
            for number, rows in self.sentinel_rows.items()
            if not rows
        ]

    def _collect_unparseable(self, part: SourceBatch, column: pa.Array, kinds: np.ndarray) -> None:
        rows = np.flatnonzero(kinds == Kind.UNPARSEABLE)
        if not rows.size:
            return
        bad = column.take(pa.array(rows)).cast(pa.string())
        for item in pc.value_counts(bad).to_pylist():  # one entry per distinct string
            text, count = item["values"], item["counts"]
            self.unparseable[text] += count
            shown = self.unparseable_rows.setdefault(text, [])
            if len(shown) < MAX_SHOWN:
                hits = rows[np.flatnonzero(pc.equal(bad, text).to_numpy(zero_copy_only=False))]
                room = MAX_SHOWN - len(shown)
                shown += [f"{part.file}:{part.first_row + r}" for r in hits[:room]]

    def _apply_reasons(
        self, part: SourceBatch, codes: np.ndarray, kinds: np.ndarray, labels: list[str]
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        reasons = _given_reasons(part.batch.column(self.reason_column)).dictionary_encode()
        names = reasons.dictionary.to_pylist()
        index = reasons.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        for i, name in enumerate(names):
            if name not in self.reason_map:
                self.unknown_reasons[name] += int((index == i).sum())
        # Unknown reasons fail the conversion; MISSING only fills their slots.
        reason_codes = np.array(
            [self.reason_map.get(n, Status.MISSING) for n in names] + [0], np.int8
        )
        has_reason = index >= 0
        codes = np.where(has_reason, reason_codes[index], codes)
        kinds = np.where(has_reason, len(labels) + index, kinds)
        return codes, kinds, labels + [f"reason {n}" for n in names]

    def _tally(
        self,
        part: SourceBatch,
        read: np.ndarray,
        values: np.ndarray,
        kinds: np.ndarray,
        codes: np.ndarray,
        labels: list[str],
    ) -> None:
        ledger = self.ledger
        ledger.rows_in += len(values)
        # Coerced-to-number is what a legacy pipeline saw: markers and text were NaN
        # there, and a sentinel code such as -999 was the number -999.
        legacy = np.where((kinds == Kind.BELOW) | (kinds == Kind.ABOVE), np.nan, read)
        finite_bad = (codes == Status.FINITE) & ~np.isfinite(values)
        if finite_bad.any():
            self.nonfinite += int(finite_bad.sum())
            room = MAX_SHOWN - len(self.nonfinite_rows)
            self.nonfinite_rows += [
                f"{part.file}:{part.first_row + r}" for r in np.flatnonzero(finite_bad)[:room]
            ]
            codes = np.where(finite_bad, Status.MISSING, codes)  # only to finish the pass; it fails
        new = lift_semantic_targets(values, codes)
        old_n, old_d = lift_targets(legacy)
        changed = (new.Y_n.view(np.int64) != old_n.view(np.int64)) | (new.Y_d != old_d)
        pair = kinds.astype(np.int64) * len(STATUS_LABELS) + codes
        counts = np.bincount(pair, minlength=len(labels) * len(STATUS_LABELS))
        for p in np.flatnonzero(counts):
            kind, label = labels[p // len(STATUS_LABELS)], STATUS_LABELS[p % len(STATUS_LABELS)]
            by_label = ledger.counts.setdefault(kind, {})
            by_label[label] = by_label.get(label, 0) + int(counts[p])
            rows = np.flatnonzero(changed & (pair == p))
            if rows.size:
                info = ledger.changed.setdefault(
                    f"{kind} -> {label}", {"rows": 0, "first_rows": []}
                )
                info["rows"] += int(rows.size)
                room = MAX_SHOWN - len(info["first_rows"])
                info["first_rows"] += [
                    {"file": part.file, "row": int(part.first_row + r)} for r in rows[:room]
                ]

    def raise_collected(self) -> None:
        """Raise one DataError for everything wrong in the data, if anything was."""
        problems = []
        if self.unparseable:
            shown = "; ".join(
                f"{text!r} ({n:,} rows, first at {', '.join(self.unparseable_rows[text])})"
                for text, n in self.unparseable.most_common(10)
            )
            problems.append(
                f"unparseable values in {self.ledger.value!r}: {shown}. Expected numbers, "
                "'<x'/'>x' limits or empty/NA; fix them or label them with a reason column"
            )
        if self.unknown_reasons:
            shown = "; ".join(f"{r!r} ({n:,} rows)" for r, n in self.unknown_reasons.most_common())
            problems.append(
                f"reasons in {self.reason_column!r} that the reason map lacks: {shown}. "
                "Add them to the map (reason: label)"
            )
        if self.nonfinite:
            problems.append(
                f"{self.nonfinite:,} rows would be {Status.FINITE.label!r} with a non-finite value "
                f"(first at {', '.join(self.nonfinite_rows)}); map those reasons to another label"
            )
        if problems:
            raise DataError("; ".join(problems))


def convert_legacy(
    source: Any,
    dest: str | Path,
    *,
    value: str = "value",
    status_column: str = "status",
    policy: Mapping[str, Status] | None = None,
    reason_column: str | None = None,
    reason_map: Mapping[str, Status] | None = None,
    markers: bool | None = None,
    sentinels: Mapping[float, Status] | None = None,
    force: bool = False,
    null_values: Sequence[str] = NULL_VALUES,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
) -> ConversionLedger:
    """Convert legacy sentinel data to explicit status labels, streaming.

    Writes Parquet, or CSV when ``dest`` ends in ``.csv``, atomically, with
    every source column unchanged and in order (a text value column becomes
    numbers) and the status column added; the ledger goes beside it as
    ``<dest>.ledger.json``. From CSV to CSV, every other column keeps the
    text the user wrote (``007`` stays ``007``, ``NA`` stays ``NA``);
    values are quoted only where CSV requires it.

    Args:
        source: Anything :func:`zpml_data.io.sources.open_source` opens.
        dest: The output file.
        value: The legacy value column.
        status_column: Name of the status column to add.
        policy: Labels for ``"nan"``, ``"posinf"``, ``"neginf"`` (default:
            bottom, censored_above, censored_below, which is lift-preserving).
        reason_column: A column saying why a value is what it is; where it
            gives a reason, ``reason_map`` decides the row's label. A null,
            empty or whitespace-only reason gives none: the policy decides.
        reason_map: ``{reason: Status}``; every reason present must be in it.
            Given exactly when ``reason_column`` is.
        markers: Parse ``<x``/``>x`` text markers (default: for text columns).
        sentinels: ``{number: Status}``: finite numbers that are legacy codes
            for a status (``-999`` for missing, say). Their rows get that
            label and a NaN value; the ledger counts them (``sentinel -999``)
            and lists them as changed; a number that never occurs is noted.
            A reason, where the reason column gives one, still decides.
        force: Replace an existing status column instead of refusing.
        null_values: CSV cell texts that are nulls (the empty cell always is).
        batch_size: Rows per record batch.
        progress: Show a progress bar (only on a terminal).

    Returns:
        The :class:`ConversionLedger`.

    Raises:
        UsageError: Unknown columns, an existing status column without
            ``force``, or a reason column without a reason map (or the reverse).
        DataError: Unparseable values, reasons missing from the map, or a row
            that would be ``finite`` without a finite value. Nothing is written.
        IntegrityError: The file written holds a different number of rows
            than were read (``rows_out``, counted back from the file). Nothing
            is kept.
        SourceError: The source cannot be read or ``dest`` written.
    """
    opened = open_source(source, null_values)
    _check_columns(opened, value, status_column, reason_column, force)
    if (reason_column is None) != (reason_map is None):
        raise UsageError(
            "a reason column and a reason map go together (--reason-column COL "
            "--reason-map FILE): the column says why, the map says which label that means"
        )
    policy = dict(policy or DEFAULT_SENTINEL_POLICY)
    ledger = ConversionLedger(
        opened.names, str(dest), value, status_column, {k: v.label for k, v in policy.items()}
    )
    converter = _Converter(ledger, policy, reason_column, reason_map, markers, sentinels or {})
    names = list(opened.schema.names)
    out_columns = names if status_column in names else [*names, status_column]
    fields = {f.name: f for f in opened.schema}
    fields[status_column] = pa.field(status_column, _STATUS_TYPE)
    as_text = Path(dest).suffix.lower() == ".csv" and opened.is_text
    keep_text = [n for n in names if n not in (value, status_column)] if as_text else []
    fields |= {name: pa.field(name, pa.string()) for name in keep_text}
    out_schema = pa.schema([fields[name] for name in out_columns])
    if Path(dest).suffix.lower() == ".csv":
        refuse_nested_in_csv(out_schema, opened.names)
    dest = check_output_path(dest)
    ledger_path = check_output_path(f"{dest}.ledger.json")
    refuse_overlap(opened.names, [dest, ledger_path])
    with output_lock(dest):
        batches = opened.batches(batch_size=batch_size, keep_text=keep_text)
        _write_converted(opened, batches, dest, ledger_path, converter, out_schema, progress)
    return ledger


def _write_converted(
    source: Source,
    batches: Iterator[SourceBatch],
    dest: Path,
    ledger_path: Path,
    converter: _Converter,
    schema: pa.Schema,
    progress: bool,
) -> None:
    """Convert batch by batch into ``dest``, and write the ledger; both committed together.

    Both files are complete under temporary names before either is renamed
    (the ledger first), so DEST never appears without its ledger.

    Raises:
        DataError: What the converter collected; nothing is written.
        IntegrityError: The file holds a different number of rows than were read.
    """
    ledger = converter.ledger
    with atomic_path(dest) as tmp, atomic_path(ledger_path) as ledger_tmp:
        output = ConvertedFile(tmp, as_csv=dest.suffix.lower() == ".csv")
        with output, progress_bar(source.count_rows(), "convert", progress) as bar:
            for part in batches:
                output.write(converter.convert(part, schema.names))
                bar.update(part.batch.num_rows)
            converter.raise_collected()
            output.finish(schema)  # an empty source still gets its header
        ledger.rows_out = output.rows_written()
        if ledger.rows_out != ledger.rows_in:
            raise IntegrityError(
                f"{dest}: {ledger.rows_out:,} rows written for {ledger.rows_in:,} read; "
                "rows were lost, so nothing was kept: this is a bug, please report it"
            )
        ledger.notes += converter.unused_sentinels()
        if ledger.rows_in and ledger.counts.keys() == {Kind.FINITE.description}:
            ledger.notes.append(
                f"every value of {ledger.value!r} is finite: all rows are labelled "
                f"{Status.FINITE.label!r}"
            )
        ledger_tmp.write_text(
            json.dumps(ledger.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )


def _check_columns(
    opened: Source, value: str, status_column: str, reason_column: str | None, force: bool
) -> None:
    """Refuse a conversion whose columns are absent, or whose status column exists already.

    Raises:
        UsageError: Naming the columns there are, or how to replace the status column.
    """
    names = list(opened.schema.names)
    missing = [c for c in (value, reason_column) if c is not None and c not in names]
    if missing:
        raise UsageError(
            f"{', '.join(opened.names)}: no column {', '.join(map(repr, missing))}; "
            f"the columns are {', '.join(map(repr, names))}"
        )
    if status_column in names and not force:
        raise UsageError(
            f"{', '.join(opened.names)} already has a status column {status_column!r}; "
            "audit it with zpml audit, or pass --force to replace it"
        )


def _given_reasons(column: pa.Array) -> pa.Array:
    """Reasons as text, whitespace trimmed; an empty reason is none given (null), like a null."""
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
