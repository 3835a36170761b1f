"""``zpml train``: registered with the ``zpml`` command through the ``zpml.commands`` entry point.

Only argparse is imported here; the trainer loads when the verb runs, so
``zpml audit`` and ``zpml --help`` never import torch.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``train`` sub-parser to the ``zpml`` command."""
    parser = subparsers.add_parser(
        "train",
        help="train a projective model on shards",
        description="Train a ProjectiveMLP sized from the shards' manifest. Exit 0: trained; "
        "1: the data hold ⊥ targets the configured head cannot emit, or a shard failed its "
        "checks; 2: usage, configuration or I/O error.",
    )
    parser.add_argument("shard_dir", metavar="SHARD_DIR", help="training shards (zpml shard)")
    parser.add_argument("--val", metavar="SHARD_DIR", help="validation shards, once per epoch")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML or YAML: TrainingConfig fields, or tables 'training' and 'run' "
        "(batch_size, lr, seed, hidden, q_param, q_min, balance, num_workers)",
    )
    parser.add_argument("--epochs", type=_count, metavar="N", help="max_epochs (total)")
    parser.add_argument("--batch-size", type=_count, metavar="N", help="rows per batch (256)")
    parser.add_argument("--lr", type=float, metavar="X", help="Adam learning rate (1e-3)")
    parser.add_argument("--device", metavar="D", help="torch device: cpu, cuda, cuda:1")
    parser.add_argument("--seed", type=int, metavar="N", help="shuffle and threshold seed (0)")
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


def run(args: argparse.Namespace) -> int:
    """Train, print a line per epoch and the final per-status metrics."""
    from zpml_data.io.progress import progress_bar
    from zpml_train.run.run import train_run
    from zpml_train.run.settings import RunSettings, load_run_config
    from zpml_train.run.summary import metrics_table
    from zpml_train.training import distributed

    training, run_values = load_run_config(args.config)
    for option, key in (("epochs", "max_epochs"), ("device", "device")):
        if getattr(args, option) is not None:
            training[key] = getattr(args, option)
    for option in ("batch_size", "lr", "seed"):
        if getattr(args, option) is not None:
            run_values[option] = getattr(args, option)
    settings = RunSettings.from_dict(run_values, where=args.config or "options")
    try:
        trainer = train_run(
            args.shard_dir,
            args.out,
            val_dir=args.val,
            training=training,
            settings=settings,
            resume=args.resume,
            force=args.force,
            overwrite=args.overwrite,
            progress=lambda total: progress_bar(total, "train", unit=" batches"),
            echo=lambda line: print(line, file=sys.stderr),
        )
        if distributed.is_main():
            print(metrics_table(trainer.history[-1] if trainer.history else {}))
            files = "report.html, metrics.jsonl, config.json, last.pt, best.pt"
            print(f"run directory: {args.out} ({files})")
    finally:
        distributed.finish()
    return 0
