"""Catch a status-mix skew between training and validation data before training.

Run: ``python examples/train_val_skew.py``

The validation set comes from a site whose instrument saturates more often, so
its share of ``censored_above`` rows is far higher than in training. The audit's
comparison flags every label whose share moves by more than 5 percentage points.
"""

from __future__ import annotations

from zpml_data import audit
from zpml_data.datasets import assay_dose_response


def main() -> None:
    frame = assay_dose_response(n_rows=40_000, seed=2)
    train = frame[frame["site"] != "site-A"]
    validation = frame[frame["site"] == "site-A"]
    report = audit(train, compare=validation, skew_threshold_pp=5.0)
    assert report.comparison is not None
    for entry in report.comparison.targets["value"]:
        flag = "  <- skew" if abs(entry.change_pp) > report.comparison.threshold_pp else ""
        print(
            f"{entry.label:<15} train {entry.share:6.2%}  validation {entry.other_share:6.2%}{flag}"
        )
    print(f"verdict: {report.verdict}")


if __name__ == "__main__":
    main()
