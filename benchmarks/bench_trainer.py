"""One epoch of SCMTrainer against a plain PyTorch loop doing the same math, in one run.

Run: ``python -m benchmarks.bench_trainer [--model small|large] [--rows N] [--repeats 3]
[--threads 1] [--clock wall|cpu] [--device cpu] [--no-reference] [--quick]``.

Both sides train a copy of the same ``ProjectiveMLP`` (small: 16 features,
hidden 64×64, 200k rows by default; large: 64 features, hidden 512×512, 50k
rows) with Adam on the same in-memory batches of 256 rows, as the
shard loader yields them (``Batch`` with the stored lifted targets: 85%
finite, bottoms, censored, 2% missing), with ``SCMTrainingLoss`` and one
threshold drawn per step from ``[1e-4, 1e-3]``:

* plain: the batch moved to the device, ``model(x)``, the loss on the
  precomputed targets, ``backward``, ``step``, ``zero_grad``, drawing each
  step's threshold from a seeded generator: nothing else;
* zpml: ``SCMTrainer.fit()`` for one epoch, with a log hook at the default
  cadence (every 50 steps), so the metrics' host reads are in the time;
* reference (not with ``--quick`` or ``--no-reference``): zeroproofml
  0.6.1's ``SCMTrainer`` on the same batches, for scale.

The sides alternate, ``repeats`` times each, and the fastest run of each
counts (the least noisy estimate on a shared machine; ``--clock cpu`` times
the process's CPU instead, robust when other work shares the cores). Both
sides must end with the same weights (the same math, step for step). Goal:
zpml at most 1.05x the plain loop. Exits 1 if the goal is missed or the weights differ
(``--quick``: small data, no goal, so CI keeps the script working).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from typing import Any

import torch

from zpml_data import lift_semantic_targets
from zpml_data.status import Status
from zpml_train import Batch, ProjectiveMLP, SCMTrainer, SCMTrainingLoss, TrainingConfig

MODELS = {  # features, hidden widths, default rows
    "small": (16, (64, 64), 200_000),
    "large": (64, (512, 512), 50_000),
}
BATCH = 256
TAU = (1e-4, 1e-3)
SEED = 0
GOAL = 1.05
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter  # set from --clock
MIX = {  # status -> share of rows
    Status.FINITE: 0.85,
    Status.BOTTOM: 0.05,
    Status.CENSORED_BELOW: 0.03,
    Status.CENSORED_ABOVE: 0.03,
    Status.MISSING: 0.02,
    Status.FAULT: 0.02,
}


def make_batches(rows: int, features: int, pin: bool = False) -> list[Batch]:
    """Batches of 256 rows as the shard loader yields them: stored lifted targets included.

    ``pin``: in pinned memory, as the loader gives them for a CUDA device.
    """
    generator = torch.Generator().manual_seed(SEED)
    inputs = torch.randn(rows, features, generator=generator)
    shares = torch.tensor(list(MIX.values()))
    codes = torch.tensor([int(s) for s in MIX], dtype=torch.int8)[
        torch.multinomial(shares, rows, replacement=True, generator=generator)
    ]
    values = inputs[:, :4].sum(dim=1) + 0.1 * torch.randn(rows, generator=generator)
    values[codes != Status.FINITE] = float("nan")
    targets = lift_semantic_targets(values, codes)
    batches = []
    for start in range(0, rows, BATCH):
        rows_slice = slice(start, start + BATCH)
        batch_targets = type(targets)(
            **{name: field[rows_slice] for name, field in vars(targets).items()}
        )
        batch = Batch(inputs[rows_slice], values[rows_slice], codes[rows_slice], batch_targets)
        if pin:
            batch = Batch(*(t.pin_memory() for t in batch[:4]))
        batches.append(batch)
    return batches


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(model: torch.nn.Module, batches: list[Batch], device: torch.device) -> float:
    """The same math by hand: forward, loss on precomputed targets, backward, step."""
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = SCMTrainingLoss()
    thresholds = torch.Generator().manual_seed(SEED)
    start = clock()
    _synchronize(device)
    for batch in batches:
        tau = float(torch.empty(1).uniform_(*TAU, generator=thresholds))
        batch = batch.to(device, non_blocking=True)
        targets = batch.targets
        assert targets is not None
        outputs = model(batch.inputs)
        loss = loss_fn(outputs, (targets.Y_n, targets.Y_d), semantic_targets=targets, tau=tau)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    _synchronize(device)
    return clock() - start


def zpml_trainer(model: torch.nn.Module, batches: list[Batch], device: torch.device) -> float:
    """``SCMTrainer.fit()`` for one epoch, logging at the default cadence."""
    config = TrainingConfig(
        tau_train_min=TAU[0],
        tau_train_max=TAU[1],
        seed=SEED,
        log_hook=lambda record: None,
        device=str(device),
    )
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    trainer = SCMTrainer(model, optimizer, SCMTrainingLoss(), batches, config=config)
    _synchronize(device)
    start = clock()
    trainer.fit()
    _synchronize(device)
    return clock() - start


def reference_trainer(model: torch.nn.Module, batches: list[Batch], device: torch.device) -> float:
    """zeroproofml 0.6.1's SCMTrainer on the same batches, as (inputs, its SemanticTargets)."""
    from zeroproof.training import SCMTrainer as ReferenceTrainer
    from zeroproof.training import SemanticTargets as ReferenceTargets
    from zeroproof.training import TrainingConfig as ReferenceConfig

    pairs = [(b.inputs, ReferenceTargets(**vars(b.targets))) for b in batches]
    config = ReferenceConfig(tau_train_min=TAU[0], tau_train_max=TAU[1], device=device)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    trainer = ReferenceTrainer(model, optimizer, SCMTrainingLoss(), pairs, config=config)
    torch.manual_seed(SEED)
    _synchronize(device)
    start = clock()
    trainer.fit()
    _synchronize(device)
    return clock() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=sorted(MODELS), default="small")
    parser.add_argument("--rows", type=int, help="default: the model's (200k small, 50k large)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    parser.add_argument("--no-reference", action="store_true", help="skip zeroproofml's trainer")
    parser.add_argument("--quick", action="store_true", help="small data, no goal (for CI)")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    features, hidden, default_rows = MODELS[args.model]
    rows, repeats = (4_096, 1) if args.quick else (args.rows or default_rows, args.repeats)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    batches = make_batches(rows, features, pin=device.type == "cuda")
    torch.manual_seed(SEED)
    initial = ProjectiveMLP(features, 1, hidden=hidden)

    times: dict[str, list[float]] = {"plain": [], "zpml": []}
    final: dict[str, Any] = {}
    plain_loop(copy.deepcopy(initial), batches[:20], device)  # warm up allocator and kernels
    for _ in range(repeats):
        for name, run in (("plain", plain_loop), ("zpml", zpml_trainer)):
            model = copy.deepcopy(initial)
            times[name].append(run(model, batches, device))
            final[name] = model.state_dict()
    if not (args.quick or args.no_reference):
        times["reference"] = [reference_trainer(copy.deepcopy(initial), batches, device)]

    same = all(torch.equal(final["plain"][k], final["zpml"][k]) for k in final["plain"])
    best = {name: min(runs) for name, runs in times.items()}
    print(
        f"{rows:,} rows, batch {BATCH}, ProjectiveMLP({features}, hidden={hidden}), Adam, "
        f"{device}, {torch.get_num_threads()} thread(s), best of {repeats}, {args.clock} time"
    )
    for name, seconds in best.items():
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"{name:10} {seconds:7.2f} s  {seconds / best['plain']:5.2f}x plain  (runs: {runs})")
    print(f"same final weights as the plain loop: {'yes' if same else 'NO'}")
    ratio = best["zpml"] / best["plain"]
    print(f"zpml / plain: {ratio:.3f}x (goal <= {GOAL:.2f}x)")
    if args.quick:
        return 0 if same else 1
    ok = same and ratio <= GOAL
    print("goal:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
