"""``zpml predict`` against the floor, Parquet to Parquet, in one run.

Run: ``python -m benchmarks.bench_predict [--rows 1000000] [--quick]``.

It writes ``rows`` rows of 16 float32 inputs (and an int64 id) and a
checkpoint of a ``ProjectiveMLP`` (hidden 64, 64; rational head), then, each
side in a fresh process on one torch thread:

* zpml: ``predict_file(load_model(run), source, out)``: record batches of
  the default size streamed through the model, every source column kept,
  value and status columns added, written atomically;
* floor: a bare ``pyarrow.parquet.read_table``, one forward pass on the whole
  ``[N, 16]`` tensor, the same decode, and a bare ``write_table`` of the
  same columns: the least work that gives the same file.

Both outputs must hold the same predictions (checked in every mode). Goals:
zpml at least 50% of the floor's rows/s, and zpml's peak memory (VmHWM) at
4x the rows at most 1.2x its peak at 1x (streaming: memory follows the batch
size, not the data). Exits 1 if a goal is missed (``--quick``: small data,
goals printed but not enforced; the outputs must still agree).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks._timing import add_quick_option, in_fresh_process, report_peak_growth, verdict

FEATURES = 16
HIDDEN = (64, 64)
TAU = 0.05


def write_source(path: Path, rows: int) -> None:
    """``rows`` rows of an int64 id and 16 float32 inputs, in row groups of 500,000."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    schema = pa.schema([("id", pa.int64())] + [(f"x{i}", pa.float32()) for i in range(FEATURES)])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, 500_000):
            n = min(500_000, rows - start)
            columns = [pa.array(np.arange(start, start + n))]
            columns += [rng.standard_normal(n, dtype=np.float32) for _ in range(FEATURES)]
            writer.write_table(pa.table(columns, schema=schema))


def write_model(run: Path) -> None:
    """A checkpoint of a seeded model whose denominator crosses zero: some rows decode ⊥."""
    import torch

    from zpml_train import ProjectiveMLP
    from zpml_train.model.spec import RECORD_KEY, ModelRecord, model_spec
    from zpml_train.training._checkpoint import write_checkpoint

    torch.manual_seed(0)
    model = ProjectiveMLP(FEATURES, 1, HIDDEN)
    with torch.no_grad():
        model.head.denominator.bias.zero_()  # type: ignore[operator]
    inputs = [f"x{i}" for i in range(FEATURES)]
    record = ModelRecord(model_spec(model), inputs, ["y"], TAU, TAU, status_counts={"bottom": 1})
    run.mkdir(parents=True, exist_ok=True)
    write_checkpoint(run / "best.pt", {"model": model.state_dict(), RECORD_KEY: record.to_dict()})


def run_zpml(run: Path, source: Path, out: Path) -> dict[str, float]:
    import time

    import torch

    torch.set_num_threads(1)
    from zpml_train import load_model
    from zpml_train.predict_file import predict_file

    start = time.perf_counter()
    summary = predict_file(load_model(run), source, out)
    return {"rows": summary.rows, "seconds": time.perf_counter() - start}


def run_floor(run: Path, source: Path, out: Path) -> dict[str, float]:
    import time

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch

    torch.set_num_threads(1)
    from zpml_train import load_model
    from zpml_train.predict import status_column

    predictor = load_model(run)  # loading the model is not the work
    start = time.perf_counter()
    table = pq.read_table(source)
    inputs = np.stack([table.column(f"x{i}").to_numpy() for i in range(FEATURES)], axis=1)
    with torch.inference_mode():
        P, Q = predictor.model(torch.from_numpy(inputs))
        decoded = predictor.decode(P, Q)
    table = table.append_column("y_pred", pa.array(decoded.values[:, 0]))
    table = table.append_column("y_pred_status", status_column(decoded.codes[:, 0]))
    pq.write_table(table, out)
    return {"rows": table.num_rows, "seconds": time.perf_counter() - start}


def same_predictions(a: Path, b: Path) -> bool:
    """Whether two predictions files hold the same ids, values and statuses."""
    import pyarrow.parquet as pq

    columns = ["id", "y_pred", "y_pred_status"]
    left, right = pq.read_table(a, columns=columns), pq.read_table(b, columns=columns)
    return left.num_rows == right.num_rows and all(
        left.column(c).to_pandas().astype(str).equals(right.column(c).to_pandas().astype(str))
        for c in columns
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the 1x file")
    add_quick_option(parser)
    args = parser.parse_args(argv)
    rows = 20_000 if args.quick else args.rows
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_model(work / "run")
        peaks: dict[int, float] = {}
        seconds: dict[int, float] = {}
        for scale in (1, 4):
            write_source(work / f"source-{scale}.parquet", rows * scale)
        here = "benchmarks.bench_predict"
        for scale in (1, 4):
            n = rows * scale
            zpml = in_fresh_process(
                here, "run_zpml", work / "run", work / f"source-{scale}.parquet",
                work / f"zpml-{scale}.parquet", preload="zpml_train.predict_file",
            )  # fmt: skip
            peaks[n], seconds[n] = zpml["peak_mib"], zpml["seconds"]
            print(
                f"zpml  {n:>10,} rows: {zpml['seconds']:.2f} s, {n / zpml['seconds']:,.0f} "
                f"rows/s, peak {zpml['peak_mib']:.0f} MiB"
            )
        floor = in_fresh_process(
            here, "run_floor", work / "run", work / "source-1.parquet", work / "floor.parquet",
            preload="zpml_train.predict",
        )  # fmt: skip
        print(
            f"floor {rows:>10,} rows: {floor['seconds']:.2f} s, {rows / floor['seconds']:,.0f} "
            f"rows/s, peak {floor['peak_mib']:.0f} MiB (read_table + one forward + write_table)"
        )
        agree = same_predictions(work / "zpml-1.parquet", work / "floor.parquet")
        print(f"zpml's predictions equal the floor's: {agree}")
        share = floor["seconds"] / seconds[rows]
        print(f"zpml at {share:.0%} of the floor's rows/s (goal: >= 50%)")
        flat = report_peak_growth(peaks)
    if not agree:
        print("the two outputs differ: this is a bug", file=sys.stderr)
        return 1
    return verdict(share >= 0.5 and flat, args.quick)


if __name__ == "__main__":
    sys.exit(main())
