#!/usr/bin/env bash
# Every GPU measurement the open issues ask for, as ONE command for a lent GPU machine
# (device run, carry [".whl"], timeout_s 570; about 8 minutes):
#
#   here:       bash scripts/fetch_device_wheels.sh
#   on the GPU: bash scripts/gpu_all.sh
#
# 1. scripts/gpu_check.py (issue 3): the real loader on random Qwen2.5-7B-shape weights in NF4:
#    load time, GPU memory, prefill of 2k tokens, decode tok/s, constrained grades that validate.
# 2. scripts/gpu_bench.sh (issue 7): `interviewer bench` default vs fast decode, KV reuse,
#    time to first token at turn 20 vs turn 1, peak memory.
# Each part has its own time limit, so one that hangs still leaves the other's results in $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-.}"
mkdir -p "$out"
if ! ls .whl/*.whl >/dev/null 2>&1; then
  echo "no wheels in .whl/: run scripts/fetch_device_wheels.sh first and carry .whl" >&2
  exit 2
fi
python3 -m pip install -q --no-index --no-deps --target /tmp/interviewer-site .whl/*.whl
export PYTHONPATH="/tmp/interviewer-site:$PWD"
export HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv || true
timeout 240 python3 scripts/gpu_check.py --grades 8 --out "$out/gpu_check.json" \
  2>&1 | tee "$out/gpu_check.log"
echo "gpu_check exit: ${PIPESTATUS[0]}" | tee -a "$out/gpu_check.log"
timeout 300 bash scripts/gpu_bench.sh "$@"
echo "gpu_bench exit: $?" | tee -a "$out/bench.log"
