#!/usr/bin/env bash
# The benchmarks that need the device machine (one H200, 16 cores, no network), as
# one run of at most 9 minutes from the repository root; each step has its own limit:
#
#   nvidia-smi -L                                        (15 s)
#   python -m benchmarks.bench_gpu --profile             (270 s) zpml train --device cuda on
#       1e7 rows x 64 features, hidden 512x512, batch 8192, 8 loader workers, against a
#       plain loop on rows already on the GPU; fp32, bf16 and fp16; a profile if short.
#       Estimate: writing the shards ~60 s (6 CPU-s per 1e6 rows here), then per
#       precision ~35 s (a plain epoch of seconds, and a zpml train run of two epochs,
#       its imports and checks), a profile ~40 s.
#   python -m benchmarks.bench_dask --rows 50000000 --workers 8 --goal 3   (200 s)
#       Estimate, from 5e6 rows here: writing the data ~25 s, the local engine's audit
#       and shard ~65 s, the 8-worker cluster's ~25 s, warm-ups and start ~15 s: 5e7
#       fits. If it ever runs out of time, 2e7 is the size to fall back to.
#
# The machine has PyTorch, pandas and pyarrow but not pandera, jsonschema, dask or
# distributed, and reaches no package index. So first, here, with the network:
#
#   bash benchmarks/device_checks.sh --prepare
#
# downloads those (at this environment's versions, for the device's Python 3.12) and
# setuptools (to build zpml there) into .whl/, ignored through .git/info/exclude. Then
# run it there with the device tool: command "bash benchmarks/device_checks.sh",
# carry [".whl"], timeout_s 600. Each step's output goes to $OUT/<step>.log when OUT
# is set (the device tool sets it), else to a temporary directory. Exit 0 when every
# step met its goals.
set -uo pipefail
cd "$(dirname "$0")/.."

WHEELS=.whl
# What zpml needs that the device's image lacks (its dependencies included).
MISSING=(pandera pydantic pydantic-core annotated-types typing-inspection typeguard
  jsonschema jsonschema-specifications referencing rpds-py
  dask distributed tornado tblib zict partd locket)

prepare() {
  set -e
  local pins=() name version
  for name in "${MISSING[@]}"; do
    version=$(python -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$name")
    pins+=("$name==$version")
  done
  python -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$WHEELS" "${pins[@]}" "setuptools>=77"
  if git rev-parse --git-dir >/dev/null 2>&1; then
    local exclude
    exclude=$(git rev-parse --git-path info/exclude)
    mkdir -p "$(dirname "$exclude")"
    grep -qxF "/$WHEELS/" "$exclude" 2>/dev/null || echo "/$WHEELS/" >>"$exclude"
  fi
  du -sh "$WHEELS"
}

if [ "${1:-}" = "--prepare" ]; then
  prepare
  exit
fi

out=${OUT:-$(mktemp -d)}
status=0
step() {  # step NAME SECONDS COMMAND...: run it under a time limit, log it, note a failure
  local name=$1 limit=$2 rc
  shift 2
  echo "== $name (limit ${limit} s): $*"
  timeout -k 10 "$limit" "$@" 2>&1 | tee "$out/$name.log"
  rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc$([ "$rc" = 124 ] && echo ' (out of time)')"
  [ "$rc" = 0 ] || status=1
}

# The missing packages and zpml itself (for its zpml.commands entry points, which give
# `zpml train`), into /tmp/site; pip builds zpml with the carried setuptools.
step setup 60 python3 -m pip install -q --no-index --find-links "$WHEELS" --no-deps \
  --no-cache-dir --target /tmp/site "$WHEELS"/*.whl .
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
step nvidia-smi 15 nvidia-smi -L
step bench_gpu 270 python3 -m benchmarks.bench_gpu --profile
step bench_dask 200 python3 -m benchmarks.bench_dask --rows 50000000 --workers 8 --goal 3
echo "logs: $out"
exit $status
