"""``zpml train --device cuda`` against a plain loop on rows already on the device, one run.

Run: ``python -m benchmarks.bench_gpu [--rows 10000000] [--workers 8]
[--precision fp32 bf16 fp16] [--device cuda] [--profile] [--dir DIR] [--quick]``.

It writes ``rows`` rows of 64 float32 features, 5% of them bottoms
(``bench_loader``'s data: a Parquet source written in chunks, then
``write_shards``), so ``zpml train`` picks the rational head and
``SCMTrainingLoss``. For each precision (fp32; bf16 autocast; fp16 autocast
with a grad scaler), two sides train ``ProjectiveMLP(64, 1, hidden=(512, 512))``
with Adam (lr 3e-3), batches of 8192:

* zpml: the verb as a user runs it, ``python -m zpml_data.cli train SHARDS
  --device cuda --batch-size 8192 --epochs 2`` with a config of the hidden
  widths, ``num_workers`` loader workers and the precision
  (``mixed_precision``, ``amp_dtype``). Timed: its second epoch, from the
  line it prints when epoch 0 ends to the line of epoch 1 (the loader's
  epoch and workers, every step, the running metrics, the checkpoints); not
  imports, CUDA set-up, the shards' verification, the warm-up epoch or the
  report at the end;
* plain: the physical limit for this model: the same model (inputs
  standardised), loss and optimizer on the same rows, read once through the
  loader and held on the device; per step one shuffled gather, the forward
  and loss under the same autocast at a threshold drawn from the rational
  head's default range, backward, step. Timed: one epoch after a warm-up of
  50 steps, with the device synchronised at both ends.

Goal: in each precision, zpml at least 0.8 of the plain loop's rows/s (the
loader's workers keep the device fed). AMP's rows/s over fp32 is reported for
both sides, each precision's line printed as it is measured. ``--profile``:
where a share falls short of the goal (in a quick run, always), profile one
``zpml train`` run of one epoch (the library call the verb makes, in this
process, set-up included) at the precision with the lowest share, with
``torch.profiler``, and print its top ops. Every run checks that each side
trained every row once in its timed epoch and that zpml trained the rational
head at the asked precision. Exits 1 if a check fails or (not ``--quick``) a
goal is missed. ``--quick``: 4,000 rows on the CPU, hidden (32, 32), batch
500, fp32 and bf16, 2 workers, no goal, so CI keeps the script working.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks._timing import add_quick_option, verdict
from benchmarks.bench_loader import FEATURES, write_dataset
from zpml_data.cli.options import positive_int
from zpml_data.lift import SemanticTargets
from zpml_train import ProjectiveMLP, SCMTrainingLoss, make_loader
from zpml_train.cli.train import train_shards
from zpml_train.model.heads import RationalHead

GOAL = 0.8
SEED = 0
LR = 3e-3  # zpml train's default
WARMUP_STEPS = 50
SIDES = ("plain", "zpml")
AMP_DTYPES = {"fp32": None, "bf16": "bfloat16", "fp16": "float16"}  # -> TrainingConfig.amp_dtype
EPOCH_LINE = re.compile(r"^epoch (\d+), loss ")  # what zpml train prints as an epoch ends
TARGET_FIELDS = ("Y_n", "Y_d", "mask_finite", "mask_bottom", "orientation_label", "bottom_kind")


def load_rows(shards: Path, device: torch.device) -> dict[str, torch.Tensor]:
    """Every row of the shards on ``device``: the inputs and the stored lifted targets."""
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in ("inputs", *TARGET_FIELDS)}
    for batch in make_loader(shards, 65_536, shuffle=False, verify=False):
        assert batch.targets is not None
        parts["inputs"].append(batch.inputs)
        for name in TARGET_FIELDS:
            parts[name].append(getattr(batch.targets, name))
    return {name: torch.cat(chunks).to(device) for name, chunks in parts.items()}


class PlainLoop:
    """The least work per step, on rows already on the device.

    Args:
        rows: :func:`load_rows`'s tensors.
        hidden: The hidden widths.
        batch: Rows per step.
        precision: A key of :data:`AMP_DTYPES`.
    """

    def __init__(
        self, rows: dict[str, torch.Tensor], hidden: tuple[int, ...], batch: int, precision: str
    ):
        inputs = rows["inputs"]
        torch.manual_seed(SEED)
        self.model = ProjectiveMLP(FEATURES, 1, hidden).to(inputs.device)
        self.model.set_input_scaling(inputs.mean(0), inputs.std(0))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LR)
        self.loss = SCMTrainingLoss()
        amp = AMP_DTYPES[precision]
        self.dtype = None if amp is None else getattr(torch, amp)
        self.scaler = torch.amp.GradScaler(inputs.device.type, enabled=precision == "fp16")
        self.thresholds = torch.Generator().manual_seed(SEED)
        taus = RationalHead.DEFAULT_THRESHOLDS
        self.tau_range = (taus["tau_train_min"], taus["tau_train_max"])
        self.rows, self.batch = rows, batch

    def epoch(self, steps: int | None = None) -> int:
        """A shuffled epoch (its first ``steps`` steps only, if given); the rows it trained."""
        inputs = self.rows["inputs"]
        trained = 0
        for index in torch.randperm(len(inputs), device=inputs.device).split(self.batch)[:steps]:
            targets = SemanticTargets(**{name: self.rows[name][index] for name in TARGET_FIELDS})
            tau = float(torch.empty(1).uniform_(*self.tau_range, generator=self.thresholds))
            autocast = (
                contextlib.nullcontext()
                if self.dtype is None
                else torch.autocast(inputs.device.type, dtype=self.dtype)
            )
            with autocast:
                outputs = self.model(inputs[index])
                loss = self.loss(
                    outputs, (targets.Y_n, targets.Y_d), semantic_targets=targets, tau=tau
                )
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            trained += len(index)
        return trained


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_plain(
    rows: dict[str, torch.Tensor], hidden: tuple[int, ...], batch: int, precision: str
) -> dict:
    """One timed epoch of :class:`PlainLoop` after its warm-up: seconds and rows."""
    loop = PlainLoop(rows, hidden, batch, precision)
    device = rows["inputs"].device
    loop.epoch(steps=WARMUP_STEPS)
    synchronize(device)
    start = time.perf_counter()
    trained = loop.epoch()
    synchronize(device)
    return {"seconds": time.perf_counter() - start, "rows": trained}


def write_config(path: Path, precision: str, hidden: tuple[int, ...], workers: int) -> Path:
    """A ``zpml train --config`` file: the precision, the hidden widths, the loader's workers."""
    amp = AMP_DTYPES[precision]
    training = (
        "mixed_precision = false" if amp is None else f'mixed_precision = true\namp_dtype = "{amp}"'
    )
    path.write_text(
        f"[training]\n{training}\n\n[run]\nhidden = {list(hidden)}\nnum_workers = {workers}\n"
    )
    return path


def run_zpml(shards: Path, run_dir: Path, config: Path, device: str, batch: int) -> dict:
    """``zpml train`` for two epochs; the second one's seconds (between the epoch lines it
    prints), the rows its metrics counted in it, and the head and precision it recorded."""
    options = {"--out": run_dir, "--config": config, "--device": device,
               "--batch-size": batch, "--epochs": 2}  # fmt: skip
    command = [sys.executable, "-m", "zpml_data.cli", "train", str(shards)]
    command += [str(part) for option in options.items() for part in option]
    ended: dict[int, float] = {}
    output = []
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            output.append(line)
            match = EPOCH_LINE.match(line)
            if match:
                ended[int(match[1])] = time.perf_counter()
    if child.returncode or sorted(ended) != [0, 1]:
        raise RuntimeError(f"{' '.join(command)} (exit {child.returncode}):\n{''.join(output)}")
    epochs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    settings = json.loads((run_dir / "config.json").read_text())
    return {
        "seconds": ended[1] - ended[0],
        "rows": epochs[1]["rows"],
        "head": settings["head"]["head"],
        "training": settings["training"],
    }


def profile_epoch(
    shards: Path, run_dir: Path, config: Path, device: torch.device, batch: int
) -> None:
    """Profile one ``zpml train`` run of one epoch here; print where the time goes."""
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    options = {"epochs": 1, "device": str(device), "batch_size": batch}
    with profile(activities=activities) as profiler:
        train_shards(
            shards, run_dir, config=config, options=options, echo=lambda line: None, progress=False
        )
        synchronize(device)
    table = profiler.key_averages()
    print(table.table(sort_by="cpu_time_total", row_limit=15))
    if device.type == "cuda":
        print(table.table(sort_by="self_device_time_total", row_limit=15))


def measure(args: argparse.Namespace, tmp: Path, shards: Path) -> dict[str, dict]:
    """Both sides in every precision, each printed as it is measured; the figures and
    the config zpml ran with."""
    rows = load_rows(shards, torch.device(args.device))
    print(f"{'precision':9} {'plain s':>8} {'M rows/s':>9} {'zpml s':>8} {'M rows/s':>9} "
          f"{'share':>6}  rows/s over fp32 (plain, zpml)")  # fmt: skip
    results: dict[str, dict] = {}
    for precision in args.precision:
        config = write_config(tmp / f"{precision}.toml", precision, args.hidden, args.workers)
        plain = run_plain(rows, args.hidden, args.batch_size, precision)
        zpml = run_zpml(shards, tmp / f"run-{precision}", config, args.device, args.batch_size)
        results[precision] = {"plain": plain, "zpml": zpml, "config": config}
        print_figures(results, precision)
    return results


def speeds(result: dict[str, dict]) -> dict[str, float]:
    """Rows per second of each side."""
    return {side: result[side]["rows"] / result[side]["seconds"] for side in SIDES}


def print_figures(results: dict[str, dict], precision: str) -> None:
    """One precision's seconds, rows/s, share, and rows/s over fp32's."""
    speed = speeds(results[precision])
    figures = " ".join(
        f"{results[precision][side]['seconds']:8.2f} {speed[side] / 1e6:9.2f}" for side in SIDES
    )
    over = ""
    if "fp32" in results and precision != "fp32":
        fp32 = speeds(results["fp32"])
        over = ", ".join(f"{speed[side] / fp32[side]:.2f}x" for side in SIDES)
    print(f"{precision:9} {figures} {speed['zpml'] / speed['plain']:6.0%}  {over}")


def trained_as_asked(results: dict[str, dict], rows: int, device: str) -> bool:
    """Every side trained every row once; zpml the rational head at the asked precision."""
    ok = True
    for precision, sides in results.items():
        training = sides["zpml"]["training"]
        amp = AMP_DTYPES[precision]
        ok = ok and sides["plain"]["rows"] == rows == sides["zpml"]["rows"]
        ok = ok and sides["zpml"]["head"] == "rational" and training["device"] == device
        ok = ok and training["mixed_precision"] == (amp is not None)
        ok = ok and (amp is None or training["amp_dtype"] == amp)
    return ok


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 512])
    parser.add_argument(
        "--workers", type=positive_int, default=8, help="zpml train's loader workers"
    )
    parser.add_argument(
        "--precision", nargs="+", choices=list(AMP_DTYPES), default=list(AMP_DTYPES)
    )
    parser.add_argument("--device", default="cuda", help="torch device (cuda, cuda:1, cpu)")
    parser.add_argument("--profile", action="store_true", help="if short, profile an epoch")
    parser.add_argument("--dir", type=Path, help="where to write the data (default: a temp dir)")
    add_quick_option(parser)
    args = parser.parse_args()
    if args.quick:  # on the CPU, where fp16 autocast is refused
        args.rows, args.batch_size, args.hidden, args.workers = 4_000, 500, [32, 32], 2
        args.device, args.precision = "cpu", [p for p in args.precision if p != "fp16"] or ["fp32"]
    args.hidden = tuple(args.hidden)
    return args


def main() -> int:
    args = parse_args()
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        print(f"--device {args.device}: no CUDA device here; --quick runs on the CPU")
        return 2
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp_name:
        tmp = Path(tmp_name)
        shards = tmp / "shards"
        write_dataset(tmp / "source.parquet", shards, args.rows, "snappy")
        name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
        print(
            f"{args.rows:,} rows x {FEATURES} float32 features (5% bottoms), "
            f"ProjectiveMLP hidden {args.hidden}, rational head, SCMTrainingLoss, Adam, "
            f"batch {args.batch_size}; {name}; zpml train with {args.workers} loader workers"
        )
        results = measure(args, tmp, shards)
        same = trained_as_asked(results, args.rows, args.device)
        print(
            "each side trained every row once, zpml the rational head at the asked "
            f"precision: {'yes' if same else 'NO'}"
        )
        shares = {
            precision: speeds(r)["zpml"] / speeds(r)["plain"] for precision, r in results.items()
        }
        print(
            f"zpml's share of the plain loop's rows/s (goal >= {GOAL:.0%}): "
            + ", ".join(f"{p} {share:.0%}" for p, share in shares.items())
        )
        if args.profile and (args.quick or min(shares.values()) < GOAL):
            worst = min(shares, key=shares.__getitem__)
            print(f"profile of one zpml train epoch, {worst} (its set-up included):")
            config = results[worst]["config"]
            profile_epoch(
                shards, tmp / "run-profile", config, torch.device(args.device), args.batch_size
            )
    if not same:
        return 1
    return verdict(min(shares.values()) >= GOAL, args.quick)


if __name__ == "__main__":
    sys.exit(main())
