"""`zpml demo`: the whole pipeline on the bundled example data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
from zpml_data.shards.format import status_counts
from zpml_data.shards.verify import describe_shards, verify_shards
from zpml_data.shards.writer import write_shards
from zpml_data.status import Status


def run_demo(out_dir: Path, echo: Callable[[str], None] = print) -> None:
    """Generate the example datasets into ``out_dir``, lift their targets, report.

    Args:
        out_dir: Directory to write the example data to (created if needed).
        echo: Where progress lines go.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
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
    _convert_legacy_step(out_dir, echo)
    _shard_step(out_dir, echo)
    _train_step(out_dir, echo)


def _shard_step(out_dir: Path, echo: Callable[[str], None]) -> None:
    """Write the audited assay table as training shards and verify them."""
    shards = out_dir / "assay-shards"
    manifest = write_shards(out_dir / "assay.parquet", shards, rows_per_shard=8192, overwrite=True)
    verify_shards(shards)
    echo(f"shards: {manifest.rows:,} rows in {len(manifest.shards)} shards -> {shards} (verified)")
    echo(describe_shards(manifest, shards))


# Thresholds a small model reaches in a few epochs (the library keeps the reference's
# strict defaults); coverage early stop below the rational data's finite share.
_TRAIN_CONFIG = """\
[training]
tau_infer = 0.05
tau_train_min = 0.05
tau_train_max = 0.1
coverage_threshold = 0.5

[run]
lr = 0.01
batch_size = 128
hidden = [32, 32]
"""


def _train_step(out_dir: Path, echo: Callable[[str], None]) -> None:
    """Train a ProjectiveMLP on the rational-poles shards, validated on a fresh draw.

    Training is the ``train`` verb, which zpml_train registers as a plugin:
    zpml_data never imports zpml_train, so the verb is found through the parser.
    """
    from zpml_data.cli.main import build_parser
    from zpml_data.datasets import rational_poles

    shards = {}
    for split, frame in (("train", None), ("val", rational_poles(4_000, seed=1))):
        source = out_dir / ("rational.parquet" if frame is None else f"rational-{split}.parquet")
        if frame is not None:
            frame.to_parquet(source, index=False)
        shards[split] = out_dir / f"rational-{split}-shards"
        write_shards(source, shards[split], overwrite=True)
    config = out_dir / "train.toml"
    atomic_write_text(config, _TRAIN_CONFIG)
    run = out_dir / "run"
    echo(f"train: ProjectiveMLP on {shards['train']}, validated on {shards['val']} ({config})")
    argv = ["train", str(shards["train"]), "--val", str(shards["val"]), "--config", str(config)]
    argv += ["--epochs", "8", "--out", str(run), "--overwrite"]
    args = build_parser().parse_args(argv)
    args.run(args)
    echo(
        f"  continue it with: zpml train {shards['train']} --val {shards['val']} "
        f"--config {config} --out {run} --epochs 12 --resume"
    )


def _convert_legacy_step(out_dir: Path, echo: Callable[[str], None]) -> None:
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
