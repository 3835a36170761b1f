"""Run under torchrun: each rank writes the row ids its shard loader yields (gloo group)."""

import sys
from pathlib import Path

import numpy as np
import torch.distributed as dist

from zpml_train import make_loader

if __name__ == "__main__":
    shard_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    dist.init_process_group("gloo")
    loader = make_loader(shard_dir, 64, seed=3)  # rank and world size from the group
    ids = np.concatenate([batch.row_id.numpy() for batch in loader])
    np.save(out / f"rank{dist.get_rank()}.npy", ids)
    np.save(out / f"batches{dist.get_rank()}.npy", np.array([len(loader)]))
    dist.destroy_process_group()
