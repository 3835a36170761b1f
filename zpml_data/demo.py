"""The demo pipeline: the bundled example data generated, audited, converted, sharded, trained.

``zpml demo OUT`` is a thin call to :func:`run_demo`. Each step is a function
of its own, so a notebook can run one. Training goes through the ``train``
plugin's ``train_shards`` hook (zpml_train registers it under
``zpml.commands``; zpml_data never imports zpml_train): without it the demo
does the data side and says why training was skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from zpml_data._text import status_mix_table, text_table
from zpml_data.auditing.engine import audit
from zpml_data.auditing.rendering import render_html
from zpml_data.convert.legacy import convert_legacy
from zpml_data.datasets import (
    DATASETS,
    LEGACY_FLAGS,
    LEGACY_MISSING_CODE,
    assay_dose_response,
    lab_export,
)
from zpml_data.encode import encode_status, parse_label
from zpml_data.io.atomic import atomic_write_text
from zpml_data.lift import lift_semantic_targets
from zpml_data.plugins import plugin_hook
from zpml_data.shards.format import status_counts
from zpml_data.shards.verify import describe_shards, verify_shards
from zpml_data.shards.writer import write_shards
from zpml_data.spec import DatasetSpec
from zpml_data.status import Status

Echo = Callable[[str], None]
VAL_ROWS, VAL_SEED = 4_000, 1  # a fresh draw of each dataset validates its model
# The assay's site is a real effect: named as an input, it is one-hot encoded into the
# shards (the gated head's latent RMSE on validation: 15.2 without it, 5.1 with it).
SPECS = {"assay": DatasetSpec(inputs=("dose", "temperature", "incubation_h", "site"))}


@dataclass(frozen=True)
class DemoModel:
    """A model the demo trains: on ``<name>-train-shards``, validated on ``<name>-val-shards``.

    Attributes:
        name: The dataset (a key of :data:`zpml_data.datasets.DATASETS`).
        head: The head its status mix needs; ``zpml train`` picks it from the manifest.
        config: The run's config file, as TOML text.
        epochs: Epochs to train.
    """

    name: str
    head: str
    config: str
    epochs: int = 8


# The assay's censored, domain_invalid and fault rows need the gated head, trained with
# zpml train's defaults; the poles need the rational head, here with thresholds and a
# learning rate a small model reaches the poles with in a few epochs (⊥ precision after
# calibration 0.97, against 0.83 with the defaults, at 8 epochs).
MODELS = (
    DemoModel("assay", "gated", "[run]\nhidden = [32, 32]\n"),
    DemoModel(
        "rational",
        "rational",
        "[training]\ntau_infer = 0.05\ntau_train_min = 0.05\ntau_train_max = 0.1\n\n"
        "[run]\nlr = 0.01\nhidden = [32, 32]\n",
    ),
)
NEW_ROWS, NEW_SEED = 1_000, 2  # new assay readings, without values, for the trained model


@dataclass
class DemoResult:
    """What a demo run produced.

    Attributes:
        out_dir: Where everything was written.
        verdicts: The audit verdict of each generated dataset, by name.
        trained: The last epoch's metrics of each trained model, by dataset name.
        skipped: Why training was skipped (empty: it ran).
    """

    out_dir: Path
    verdicts: dict[str, str] = field(default_factory=dict)
    trained: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: str = ""


def run_demo(out_dir: str | Path, *, echo: Echo = print, train: bool = True) -> DemoResult:
    """Generate the example datasets into ``out_dir``, audit, convert, shard and train on them.

    Args:
        out_dir: Directory to write to (created if needed); a second demo replaces its own files.
        echo: Where the report lines go.
        train: Train a model per dataset (:data:`MODELS`) when zpml_train is installed.

    Returns:
        The audit verdicts, the trained models' last metrics, or why training was skipped.
    """
    result = DemoResult(Path(out_dir))
    result.out_dir.mkdir(parents=True, exist_ok=True)
    result.verdicts = generate_and_audit(result.out_dir, echo)
    convert_legacy_step(result.out_dir, echo)
    shard_step(result.out_dir, echo)
    if not train:
        result.skipped = "not asked for"
        return result
    train_shards, result.skipped = plugin_hook("train", "train_shards")
    if train_shards is None:
        echo(f"train: skipped, {result.skipped}; install zpml with its training package")
        return result
    for model in MODELS:
        result.trained[model.name] = train_model(result.out_dir, model, train_shards, echo)
    pages = [result.out_dir / "assay-converted-audit.html"]
    pages += [result.out_dir / "runs" / model.name / "report.html" for model in MODELS]
    pages += use_model(result.out_dir, echo)
    echo(f"open in a browser: {', '.join(map(str, pages))}")
    return result


def use_model(out_dir: Path, echo: Echo) -> list[Path]:
    """Evaluate the trained assay model on its validation shards, and predict new readings.

    Both go through the ``evaluate`` and ``predict`` plugins' hooks, as training does.

    Returns:
        The pages written (the evaluation page).
    """
    run_dir, pages = out_dir / "runs" / "assay", []
    evaluate, why = plugin_hook("evaluate", "evaluate_data")
    if evaluate is None:
        echo(f"evaluate: skipped, {why}")
    else:
        page = out_dir / "assay-evaluation.html"
        echo(f"evaluate: {run_dir} on {out_dir / 'assay-val-shards'} -> {page}")
        evaluate(run_dir, out_dir / "assay-val-shards", html_out=page, echo=echo)
        pages.append(page)
    predict, why = plugin_hook("predict", "predict_table")
    if predict is None:
        echo(f"predict: skipped, {why}")
        return pages
    new = out_dir / "assay-new.parquet"
    assay_dose_response(NEW_ROWS, seed=NEW_SEED).drop(columns=["value", "status"]).to_parquet(
        new, index=False
    )
    predictions = out_dir / "assay-predictions.parquet"
    echo(f"predict: {run_dir} on {NEW_ROWS:,} new readings ({new}) -> {predictions}")
    predict(run_dir, [new], predictions, echo=echo, progress=False)
    return pages


def generate_and_audit(out_dir: Path, echo: Echo) -> dict[str, str]:
    """Write each example dataset as Parquet, print its status mix and lift, audit it."""
    verdicts = {}
    for name, generate in DATASETS.items():
        frame = generate()
        path = out_dir / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        codes = encode_status(frame["status"])
        targets = lift_semantic_targets(frame["value"].to_numpy(np.float32), codes)
        echo(f"{name}: {len(frame):,} rows -> {path}")
        echo("\n".join(status_mix_table(status_counts(codes))))
        echo(
            f"  lifted: {int(targets.mask_finite.sum()):,} finite targets, "
            f"{int(targets.mask_bottom.sum()):,} bottom (Y_d = 0), "
            f"{int(targets.mask_untrained.sum()):,} untrained"
        )
        report = audit(path, group_by=[c for c in ("site",) if c in frame.columns])
        html = out_dir / f"{name}-audit.html"
        atomic_write_text(html, render_html(report))
        atomic_write_text(out_dir / f"{name}-audit.json", report.to_json() + "\n")
        failed = [f"{c.name} ({c.failed:,})" for t in report.targets for c in t.checks if c.failed]
        echo(f"  audit: {report.verdict}{': ' if failed else ''}{', '.join(failed)} -> {html}")
        verdicts[name] = str(report.verdict)
    return verdicts


def shard_step(out_dir: Path, echo: Echo) -> None:
    """Shard each dataset for training, and a fresh draw of it for validation; verify them.

    The assay's inputs include its text column ``site``, one-hot encoded (:data:`SPECS`).
    """
    for name, generate in DATASETS.items():
        val_source = out_dir / f"{name}-val.parquet"
        generate(VAL_ROWS, seed=VAL_SEED).to_parquet(val_source, index=False)
        for split, source in (("train", out_dir / f"{name}.parquet"), ("val", val_source)):
            shards = out_dir / f"{name}-{split}-shards"
            spec = SPECS.get(name)
            manifest = write_shards(source, shards, spec, rows_per_shard=8192, overwrite=True)
            verify_shards(shards)
            echo(
                f"shards: {manifest.rows:,} rows in {len(manifest.shards)} shards -> {shards} "
                "(verified)"
            )
            if (name, split) == ("assay", "train"):
                echo(describe_shards(manifest, shards))


def train_model(
    out_dir: Path, model: DemoModel, train_shards: Callable[..., Any], echo: Echo
) -> Any:
    """Train ``model`` through the ``train`` plugin; print its per-status validation metrics.

    Returns:
        The last epoch's metrics, as the hook returns them.
    """
    shards = {split: out_dir / f"{model.name}-{split}-shards" for split in ("train", "val")}
    config = out_dir / f"train-{model.name}.toml"
    atomic_write_text(config, model.config)
    run_dir = out_dir / "runs" / model.name
    echo(f"train: the {model.head} head on {shards['train']}, validated on {shards['val']}")
    record = train_shards(
        shards["train"],
        run_dir,
        val_dir=shards["val"],
        config=config,
        options={"epochs": model.epochs},
        overwrite=True,
        echo=echo,
    )
    echo(
        f"  continue it with: zpml train {shards['train']} --val {shards['val']} "
        f"--config {config} --out {run_dir} --epochs {model.epochs + 4} --resume"
    )
    return record


def convert_legacy_step(out_dir: Path, echo: Echo) -> None:
    """Export the assay table as a lab did, convert it back, audit what that recovered.

    The export has one semantic defect of each kind planted (see
    :func:`zpml_data.datasets.lab_export`); the audit of the converted table
    names each, and converting again with ``-999`` as a sentinel for
    ``missing`` fixes the one a flag cannot.
    """
    frame = assay_dose_response()
    legacy_path = out_dir / "assay-legacy.csv"
    export, planted = lab_export(frame)
    export.to_csv(legacy_path, index=False)
    reasons = {flag: parse_label(label, "demo") for label, flag in LEGACY_FLAGS.items()}
    converted = out_dir / "assay-converted.parquet"
    ledger = convert_legacy(legacy_path, converted, reason_column="flag", reason_map=reasons)
    echo(f"legacy: {legacy_path} ('<x'/'>x' limits, NaN/±inf, -999 codes, a flag column):")
    echo(ledger.render_text())
    first = _audit_converted(converted, out_dir / "assay-converted-audit")
    ledger = convert_legacy(
        legacy_path,
        converted,
        reason_column="flag",
        reason_map=reasons,
        sentinels={LEGACY_MISSING_CODE: Status.MISSING},
    )
    sentinel = f"sentinel {LEGACY_MISSING_CODE:g}"
    echo(
        f"  converted again with --sentinel={LEGACY_MISSING_CODE:g}=missing: {sentinel} -> "
        f"{ledger.counts[sentinel]}"
    )
    again = _audit_converted(converted, out_dir / "assay-converted-again-audit")
    echo(
        "  semantic audit of the converted table (a skew counts its group's rows of the label;"
        " -999 is also below the detection limit):"
    )
    rows = [[c, f"{len(r):,}", f"{first[c]:,}", f"{again[c]:,}"] for c, r in planted.items()]
    echo("\n".join(text_table(["check", "planted", "flagged", "after --sentinel"], rows)))
    recovered = pq.read_table(converted, columns=["status"]).column("status").to_pylist()
    same = int((np.asarray(recovered) == frame["status"].astype(str).to_numpy()).sum())
    echo(f"  labels recovered: {same:,} of {len(frame):,} rows match the original statuses")


def _audit_converted(path: Path, stem: Path) -> dict[str, int]:
    """Audit a converted table by site into ``stem``.html/.json; rows failed per check."""
    report = audit(path, group_by=["site"])
    atomic_write_text(stem.with_suffix(".html"), render_html(report))
    atomic_write_text(stem.with_suffix(".json"), report.to_json() + "\n")
    return {c.name: c.failed for c in report.targets[0].checks}
