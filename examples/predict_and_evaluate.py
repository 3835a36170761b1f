"""From a labelled table to predictions on new rows: shard, train, evaluate, predict, audit.

Run: ``python examples/predict_and_evaluate.py [WORKDIR]``

The data are a lab assay's dose-response readings: most are numbers, some
lie below or above the instrument's detection limits (``censored_below``,
``censored_above``), a few are negative doses (``domain_invalid``), a few are
instrument faults. The workflow, as a user runs it:

1. ``zpml shard ... --split val=0.2``: verified ``train/`` and ``val/`` shards,
   the site one-hot encoded as an input.
2. ``zpml train``: the head chosen from the data's status mix, ``tau_infer``
   calibrated on ``val/``.
3. ``zpml evaluate`` on ``val/``: the training metrics at the model's
   ``tau_infer`` and the status confusion table (``evaluation.json``,
   ``evaluation.html``).
4. ``zpml predict`` on a table of new readings without labels: each row gets
   ``value_pred`` (empty where the model says ⊥) and ``value_pred_status``.
5. ``zpml audit`` of the predictions: they are a labelled table like any other
   (it warns that censored predictions carry no limit: ⊥ has no value).
6. The same model from Python: ``load_model(run).predict(frame)``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from zpml_data.datasets import assay_dose_response
from zpml_train import load_model

INPUTS = "site,dose,temperature,incubation_h"


def zpml(*args: object) -> str:
    """Run one ``zpml`` command; stop the example with its message if it fails."""
    command = [sys.executable, "-m", "zpml_data.cli", *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"zpml {args[0]} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def main(workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    assay_dose_response(n_rows=4_000, seed=1).to_parquet(workdir / "assay.parquet")
    shards, run = workdir / "shards", workdir / "run"
    zpml("shard", workdir / "assay.parquet", shards, "--inputs", INPUTS, "--split", "val=0.2",
         "--overwrite")  # fmt: skip
    zpml("train", shards / "train", "--val", shards / "val", "--epochs", "10", "--out", run,
         "--overwrite")  # fmt: skip
    print(f"trained: {run}")

    evaluation = workdir / "evaluation.json"
    zpml("evaluate", run, shards / "val", "--json", evaluation, "--html",
         workdir / "evaluation.html")  # fmt: skip
    scores = json.loads(evaluation.read_text())
    metrics = scores["metrics"]
    print(f"evaluated {scores['rows']:,} validation rows at tau_infer {scores['tau_infer']:.3g}")
    for name in ("finite_rmse_latent", "censored_any_side", "domain_invalid_recall"):
        print(f"  {name}: {metrics[name]}")
    below = scores["confusion"]["value"]["censored_below"]
    print(f"  censored_below rows decoded as: {below}")

    # New readings: the same instruments, no labels yet.
    new = assay_dose_response(n_rows=1_000, seed=2).drop(columns=["value", "status"])
    new.to_csv(workdir / "new.csv", index=False)
    predictions = workdir / "predictions.parquet"
    print(zpml("predict", run, workdir / "new.csv", "--out", predictions).strip())
    audit = zpml("audit", predictions, "--value", "value_pred", "--status", "value_pred_status",
                 "--inputs", "dose,temperature,incubation_h")  # fmt: skip
    # A prediction decoded ⊥ has no value, so a censored one carries no limit: the
    # audit warns about that (censored_bound_present) and finds nothing else.
    print(f"audit of the predictions: {audit.strip().splitlines()[-1]}")

    predictor = load_model(run)
    print(f"from Python: {predictor}")
    print(predictor.predict(new.head(5)).to_string())


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
