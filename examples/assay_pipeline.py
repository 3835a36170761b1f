"""A lab's assay export, from legacy sentinels to verified training shards.

Run: ``python examples/assay_pipeline.py [WORKDIR]``

1. A legacy export: detection limits written as ±inf, faults, missing readings
   and negative doses written as NaN, with a ``flag`` column saying why.
2. ``convert_legacy`` with a reason map turns it into explicit status labels.
3. ``audit`` checks the labelled table and breaks the status mix down by site.
4. ``write_shards`` writes training shards; ``verify_shards`` checks them.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from zpml_data import DatasetSpec, audit, convert_legacy, verify_shards, write_shards
from zpml_data.datasets import assay_dose_response, legacy_export
from zpml_data.status import Status


def main(workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    legacy = workdir / "assay-export.csv"
    legacy_export(assay_dose_response(n_rows=50_000, seed=1)).to_csv(legacy, index=False)

    reasons = {
        "sensor_fault": Status.FAULT,
        "not_measured": Status.MISSING,
        "negative_dose": Status.DOMAIN_INVALID,
    }
    labelled = workdir / "assay-labelled.parquet"
    ledger = convert_legacy(legacy, labelled, reason_column="flag", reason_map=reasons)
    print(ledger.render_text())

    spec = DatasetSpec(inputs=("dose", "temperature", "incubation_h"), groups=("site",))
    report = audit(labelled, spec)
    target = report.targets[0]
    print(f"\naudit verdict: {report.verdict}")
    for site, counts in target.groups["site"].items():
        print(f"  {site}: {counts['finite']:,} finite, {counts['censored_below']:,} below LOD")

    shards = workdir / "shards"
    manifest = write_shards(labelled, shards, spec, rows_per_shard=20_000, overwrite=True)
    verify_shards(shards)
    print(f"\n{manifest.rows:,} rows in {len(manifest.shards)} verified shards at {shards}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
