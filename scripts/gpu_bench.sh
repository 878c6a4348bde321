#!/usr/bin/env bash
# The one prepared speed check for a lent GPU machine (torch, transformers and accelerate, no
# network): `interviewer bench` on random weights in the Qwen2.5-7B-Instruct shape, NF4, with
# the default and the fast (CUDA-graph) decode paths side by side. Results: $OUT/bench.json,
# the log beside it.
#
#   here:       bash scripts/fetch_device_wheels.sh      (fills .whl/)
#   on the GPU: bash scripts/gpu_bench.sh                (carry .whl)
#
# Extra arguments go to `interviewer bench` (a later flag wins, e.g. --compare default,fast,no-reuse).
# Budget: about 1 minute to build and save the 15 GB checkpoint, then about 1-2 minutes per mode.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-.}"
if ! ls .whl/*.whl >/dev/null 2>&1; then
  echo "no wheels in .whl/: run scripts/fetch_device_wheels.sh first and carry .whl" >&2
  exit 2
fi
python3 -m pip install -q --no-index --no-deps --target /tmp/interviewer-site .whl/*.whl
export PYTHONPATH="/tmp/interviewer-site:$PWD"
export HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv || true
python3 -m interviewer bench --random-weights qwen2.5-7b --compare default,fast \
  --grader evidence --max-new-tokens 64 --conversation-turns 20 --no-first-paint \
  --out "$out/bench.json" "$@" 2>&1 | tee "$out/bench.log"
