"""torch.distributed under torchrun: joining the group, the main rank, sums and agreement.

``zpml train`` run by ``torchrun --nproc_per_node N`` joins the process group
that torchrun describes in the environment (gloo on CPU, nccl on CUDA). The
shard loader splits the rows by rank, the model is wrapped in
``DistributedDataParallel``, metric sums are added across ranks, and only
rank 0 writes files. Every function here is a no-op in a single process.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def initialised() -> bool:
    """Whether this process is one rank of an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def init_from_env(device: str | None) -> bool:
    """Join the process group torchrun set up, if this process was started by it.

    Args:
        device: The training device; ``cuda`` selects nccl and this rank's
            GPU (``LOCAL_RANK``), anything else gloo.

    Returns:
        Whether the run is distributed (more than one rank).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not initialised():
        cuda = device is not None and device.startswith("cuda")
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo")
    return True


def device_for_rank(device: str | None) -> str | None:
    """``cuda`` means this rank's own GPU under torchrun; other devices are kept."""
    if device == "cuda" and initialised():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device


def is_main() -> bool:
    """Whether this process writes files: rank 0, or the only process."""
    return not initialised() or dist.get_rank() == 0


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """The model in ``DistributedDataParallel`` when distributed, else itself."""
    if not initialised():
        return model
    model = model.to(device)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a ``DistributedDataParallel`` wrapper (its state dict has no prefix)."""
    inner = getattr(model, "module", None)
    return inner if isinstance(model, nn.parallel.DistributedDataParallel) and inner else model


def sum_across_ranks(values: torch.Tensor) -> torch.Tensor:
    """``values`` added up over every rank (a copy; the input is left as it was)."""
    if not initialised():
        return values
    total = values.clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total


def any_rank(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` is true on any rank; every rank must call it at the same point.

    A check that fails on one rank ends every rank, instead of leaving the
    others waiting in the first gradient all-reduce for ever.
    """
    if not initialised():
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def finish() -> None:
    """Leave the process group, if this process joined one."""
    if initialised():
        dist.destroy_process_group()
