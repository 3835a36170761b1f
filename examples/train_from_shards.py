"""Train a projective model on verified shards with the library API, not the CLI.

Run: ``python examples/train_from_shards.py [WORKDIR]``

The data are samples of ``y = (x² + 1) / (x² − 0.25)``: near its poles at
``x = ±0.5`` the function is undefined, and those rows are labelled
``bottom`` instead of being dropped or written as NaN. A ``ProjectiveMLP``
emits ``(P, Q)`` and learns to put ``Q`` near zero there, so it can answer ⊥
("undefined here") where a plain regressor would answer a huge number.

1. ``write_shards`` checks, lifts and writes training and validation shards.
2. ``make_loader`` streams typed batches from them, checksums verified first.
3. ``SCMTrainer`` with ``SCMTrainingLoss`` trains, validating every epoch; a
   ``log_hook`` prints the per-status metrics as they come.
4. ``write_report`` draws the run as ``report.html`` in WORKDIR.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from zpml_data import DatasetSpec, write_shards
from zpml_data.datasets import rational_poles
from zpml_train import ProjectiveMLP, SCMTrainer, SCMTrainingLoss, TrainingConfig, make_loader
from zpml_train.run.report import collect_predictions, write_report

# The metrics the hook prints, per status: how well finite targets are fitted,
# and whether ⊥ is predicted exactly where the data have it.
SHOWN = ("coverage", "finite_rmse", "bottom_recall", "bottom_precision")


def log_epoch(record: dict[str, Any]) -> None:
    """The trainer's ``log_hook``: called at the logging cadence and after each epoch."""
    if record["phase"] != "epoch":
        return  # step records come every log_every_n_steps; one line per epoch is enough here
    # A metric with nothing to count (no ⊥ predicted yet: no precision) is NaN, not 0.
    shown = "  ".join(f"{name} {record[f'val_{name}']:.3f}" for name in SHOWN)
    print(f"epoch {record['epoch']}  loss {record['loss']:.4f}  val {shown}")


def main(workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    # Training and validation data from different seeds: validation rows are unseen.
    spec = DatasetSpec(inputs=("x",))
    for name, rows, seed in (("train", 4_000, 0), ("val", 2_000, 1)):
        write_shards(rational_poles(rows, seed=seed), workdir / name, spec, overwrite=True)

    # The training loader shuffles (seeded: the same run twice gives the same batches);
    # validation is read in order. Both check every shard's sha256 before the first batch.
    train = make_loader(workdir / "train", batch_size=256, seed=0)
    val = make_loader(workdir / "val", batch_size=1_024, shuffle=False)

    torch.manual_seed(0)
    # A model this small finishes each op before a second thread helps; on a busy machine
    # the threads' spin-waits only cost time.
    torch.set_num_threads(1)
    # q_param="none": Q may cross zero, so the model can emit ⊥. A head that cannot
    # (softplus with q_min >= tau_infer) is refused before the first batch, because
    # the manifest already says the data hold bottom rows.
    model = ProjectiveMLP(len(train.manifest.inputs), len(train.manifest.targets), (32, 32))
    config = TrainingConfig(max_epochs=8, val_loader=val, log_hook=log_epoch)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    trainer = SCMTrainer(model, optimizer, SCMTrainingLoss(), train, config=config)
    history = trainer.fit()
    print(f"loss fell from {history[0]['loss']:.4f} to {history[-1]['loss']:.4f}")

    report = write_report(
        workdir,
        history,
        train_counts=train.manifest.status_counts,
        val_counts=val.manifest.status_counts,
        predictions=collect_predictions(model, val, config.tau_infer),
    )
    print(f"report: {report}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
