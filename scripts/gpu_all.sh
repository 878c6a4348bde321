#!/usr/bin/env bash
# Every GPU measurement the open issues ask for, as ONE command for a lent GPU machine
# (device run, carry [".whl"], timeout_s 540; about 6-7 minutes):
#
#   here:       bash scripts/fetch_device_wheels.sh
#   on the GPU: bash scripts/gpu_all.sh
#
# 1. `interviewer bench` (issue 7): default vs fast decode on random Qwen2.5-7B-shape weights in
#    NF4: time to first token and tokens/s per turn, grading wait, KV reuse (turn 20 vs turn 1),
#    peak memory, and one reply to an 8k-token session with the memory it peaks at.
# 2. scripts/gpu_check.py (issue 3): load time, GPU memory, prefill of 2k tokens, decode tok/s,
#    constrained grades that validate.
# The 15 GB random checkpoint is built once, in $WORK, and both parts load it. Each part has its
# own time limit, so one that hangs still leaves the other's results in $OUT.
#
# A dry run of this script on a machine without CUDA (the tiny shape, the local Python's own
# packages): GPU_ALL_DRY_RUN=1 bash scripts/gpu_all.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/interviewer-gpu-all}"  # never the working tree: a rehearsal's output is no source
work="${WORK:-/tmp/interviewer-random-weights}"
mkdir -p "$out" "$work"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
if [ "${GPU_ALL_DRY_RUN:-0}" = 1 ]; then
  python=python
  shape=tiny
  bench_extra=(--max-new-tokens 6 --conversation-turns 3 --long-context 512)
  check_extra=(--grades 2)
else
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "no wheels in .whl/: run scripts/fetch_device_wheels.sh first and carry .whl" >&2
    exit 2
  fi
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/interviewer-site .whl/*.whl || exit 2
  export PYTHONPATH="/tmp/interviewer-site:$PWD"
  python=python3
  shape=qwen2.5-7b
  bench_extra=(--max-new-tokens 64 --conversation-turns 20 --long-context 8192)
  check_extra=(--grades 6)
  nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv || true
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD"

timeout 330 "$python" -m interviewer bench --random-weights "$shape" --workdir "$work" \
  --compare default,fast --grader evidence --no-first-paint "${bench_extra[@]}" \
  --out "$out/bench.json" "$@" 2>&1 | tee "$out/bench.log"
echo "bench exit: ${PIPESTATUS[0]}" | tee -a "$out/bench.log"

timeout 150 "$python" scripts/gpu_check.py --shape "$shape" --workdir "$work" \
  "${check_extra[@]}" --out "$out/gpu_check.json" 2>&1 | tee "$out/gpu_check.log"
echo "gpu_check exit: ${PIPESTATUS[0]}" | tee -a "$out/gpu_check.log"
echo "results in $out"
