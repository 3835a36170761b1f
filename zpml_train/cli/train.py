"""``zpml train``: registered with the ``zpml`` command through the ``zpml.commands`` entry point.

Only argparse is imported here; the trainer loads when the verb runs, so
``zpml audit`` and ``zpml --help`` never import torch.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``train`` sub-parser to the ``zpml`` command."""
    parser = subparsers.add_parser(
        "train",
        help="train a projective model on shards",
        description="Train a ProjectiveMLP sized from the shards' manifest, with the head "
        "their status mix needs (rational for bottom rows alone, gated for censored, "
        "domain_invalid or fault rows; run.head overrides) and, with --val, tau_infer "
        "calibrated on the validation rows. Exit 0: trained; 1: the data hold ⊥ targets the "
        "configured head cannot emit, a shard failed its checks, or the loss stopped being "
        "finite; 2: usage, configuration or I/O error.",
    )
    parser.add_argument(
        "shard_dir",
        metavar="SHARD_DIR",
        help="training shards (zpml shard); a directory written with --split trains on its "
        "train/ and validates on its val/",
    )
    parser.add_argument(
        "--val", metavar="SHARD_DIR", help="validation shards, once per epoch (over a split's val/)"
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML or YAML: TrainingConfig fields, or tables 'training' and 'run' "
        "(batch_size, lr, lr_schedule, seed, hidden, head, q_param, q_min, balance, num_workers, "
        "patience)",
    )
    parser.add_argument(
        "--epochs",
        type=_count,
        metavar="N",
        help="max_epochs (total; gated head 8, or more to make 128 batches; rational 60)",
    )
    parser.add_argument(
        "--batch-size",
        type=_count,
        metavar="N",
        help="rows per batch (gated head 1024; rational 128)",
    )
    parser.add_argument(
        "--lr", type=float, metavar="X", help="Adam learning rate (gated head 3e-2; rational 3e-3)"
    )
    parser.add_argument("--device", metavar="D", help="torch device: cpu, cuda, cuda:1")
    parser.add_argument("--seed", type=int, metavar="N", help="shuffle and threshold seed (0)")
    parser.add_argument(
        "--patience",
        type=_count,
        metavar="N",
        help="stop after N epochs without a lower validation loss (run.patience; 10)",
    )
    parser.add_argument("--out", metavar="RUN_DIR", default="zpml-run", help="(zpml-run)")
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
    parser.add_argument(
        "--force", action="store_true", help="with --resume: continue on other data"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a previous run in RUN_DIR"
    )
    parser.set_defaults(run=run)


def _count(text: str) -> int:
    from zpml_data.cli.options import positive_int

    return positive_int(text)


# The verb's options a library caller may give too: option -> (table, key) in the config.
OPTIONS = {
    "epochs": ("training", "max_epochs"),
    "device": ("training", "device"),
    "batch_size": ("run", "batch_size"),
    "lr": ("run", "lr"),
    "seed": ("run", "seed"),
    "patience": ("run", "patience"),
}


def run(args: argparse.Namespace) -> int:
    """Train, print a line per epoch and the final per-status metrics."""
    train_shards(
        args.shard_dir,
        args.out,
        val_dir=args.val,
        config=args.config,
        options={option: getattr(args, option) for option in OPTIONS},
        resume=args.resume,
        force=args.force,
        overwrite=args.overwrite,
    )
    return 0


def train_shards(
    shard_dir: str | Path,
    run_dir: str | Path,
    *,
    val_dir: str | Path | None = None,
    config: str | Path | None = None,
    options: Mapping[str, Any] | None = None,
    resume: bool = False,
    force: bool = False,
    overwrite: bool = False,
    echo: Callable[[str], None] = print,
    progress: bool = True,
) -> dict[str, Any]:
    """Train on shards exactly as ``zpml train`` does: the verb as a library call.

    ``zpml demo`` reaches it through the plugin loader (:func:`zpml_data.plugins.plugin_hook`).
    Epoch lines go to stderr; the final per-status metrics and the run
    directory's files go to ``echo``.

    Args:
        shard_dir: The training shards, or a split directory (its train/ and val/).
        run_dir: The run directory (``--out``).
        val_dir: Validation shards, evaluated once per epoch.
        config: A TOML or YAML config file (see ``zpml train --help``).
        options: Any of :data:`OPTIONS` by name, over the config file's values
            (``None`` values are left to the config).
        resume: Continue the run in ``run_dir``.
        force: With ``resume``: continue on other data.
        overwrite: Replace a previous run in ``run_dir``.
        echo: Where the final metrics table goes.
        progress: A progress bar on a terminal.

    Returns:
        The last epoch's metrics (``val_``-prefixed on validation); empty if no epoch ran.
    """
    from zpml_data.io.progress import progress_bar
    from zpml_train.run.run import train_run
    from zpml_train.run.settings import RunSettings, load_run_config
    from zpml_train.run.summary import metrics_table
    from zpml_train.training import distributed

    tables = dict(zip(("training", "run"), load_run_config(config), strict=True))
    for option, value in (options or {}).items():
        if option not in OPTIONS:
            raise TypeError(f"train_shards: unknown option {option!r}; known: {sorted(OPTIONS)}")
        if value is not None:
            table, key = OPTIONS[option]
            tables[table][key] = value
    settings = RunSettings.from_dict(tables["run"], where=str(config or "options"))
    sets = _split_sets(shard_dir)
    if sets is not None:
        # A directory written by zpml shard --split: train on its train/ set and,
        # unless validation shards are named, validate on its val/ set.
        shard_dir, val_dir = sets["train"], val_dir if val_dir is not None else sets["val"]
        print(f"split directory: training on {shard_dir}, validating on {val_dir}", file=sys.stderr)
    try:
        result = train_run(
            shard_dir,
            run_dir,
            val_dir=val_dir,
            training=tables["training"],
            settings=settings,
            resume=resume,
            force=force,
            overwrite=overwrite,
            progress=(lambda total: progress_bar(total, "train", unit=" batches"))
            if progress
            else None,
            echo=lambda line: print(line, file=sys.stderr),
        )
        trainer = result.trainer
        last = dict(trainer.history[-1]) if trainer.history else {}
        if distributed.is_main():
            if result.best is not None:
                which = "validation" if "val_loss" in result.best else "training"
                echo(f"epoch {result.best['epoch']}, the lowest {which} loss (best.pt):")
            tau = trainer.config.tau_infer
            echo(metrics_table(result.best or {}, result.calibrated, tau_infer=tau))
            files = "report.html, metrics.jsonl, config.json, last.pt, best.pt"
            echo(f"run directory: {run_dir} ({files})")
    finally:
        distributed.finish()
    return last


def _split_sets(shard_dir: str | Path) -> dict[str, Path] | None:
    """The split sets of ``shard_dir`` (see :func:`~zpml_data.shards.split.split_dirs`).

    Raises:
        IntegrityError: A half-written split: ``shard_dir`` holds no manifest
            of its own and some split sets, but not every one complete.
    """
    from zpml_data.errors import IntegrityError
    from zpml_data.shards.split import SPLIT_NAMES, split_dirs

    sets = split_dirs(shard_dir)
    root = Path(shard_dir)
    if sets is not None or (root / "manifest.json").exists():
        return sets
    found = [name for name in SPLIT_NAMES if (root / name).is_dir()]
    if not found:
        return None
    lacking = [
        f"{name}/ is missing" if name not in found else f"{name}/ has no manifest"
        for name in SPLIT_NAMES
        if not (root / name / "manifest.json").is_file()
    ]
    raise IntegrityError(
        f"{shard_dir}: a half-written split ({'; '.join(lacking)}): the split was "
        f"interrupted; write it again with zpml shard SOURCE... {shard_dir} "
        "--split val=FRACTION --overwrite"
    )
