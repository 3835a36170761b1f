#!/usr/bin/env bash
# Train one model on two processes with torchrun: the same `zpml train`, scaled out.
#
# Each rank reads its own share of the shards (the loader splits the rows by
# rank, exactly once per epoch, with equal batch counts so no rank waits),
# DistributedDataParallel averages the gradients, the per-status metrics are
# summed over ranks, and only rank 0 writes the run directory. On CPU the ranks
# talk over gloo; with `--device cuda` each rank takes its own GPU over nccl.
# On several machines, replace --standalone with --nnodes N --node_rank I
# --rdzv_endpoint HOST:PORT (see the README's "Scaling out").
#
# Usage: examples/ddp_train.sh [WORK_DIR]
set -euo pipefail
work="${1:-zpml-ddp}"
mkdir -p "$work"

# Example data: samples of a rational function with poles, labelled `bottom` there.
python -c "import sys; from zpml_data.datasets import rational_poles; \
rational_poles(20_000).to_parquet(sys.argv[1])" "$work/rational.parquet"
zpml shard "$work/rational.parquet" "$work/shards" --overwrite

# A separate validation draw, so the validation metrics are on unseen inputs.
python -c "import sys; from zpml_data.datasets import rational_poles; \
rational_poles(4_000, seed=1).to_parquet(sys.argv[1])" "$work/val.parquet"
zpml shard "$work/val.parquet" "$work/val-shards" --overwrite

torchrun --standalone --nproc_per_node 2 -m zpml_data.cli train "$work/shards" \
    --val "$work/val-shards" --epochs 3 --out "$work/run" --overwrite
