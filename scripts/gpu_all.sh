#!/usr/bin/env bash
# Every GPU measurement, as ONE device call on a lent GPU machine (about 6 minutes):
#
#   here, once:  bash scripts/fetch_device_wheels.sh    (the wheels the bare machine lacks)
#   device run:  command "bash scripts/gpu_all.sh", carry [".whl"], timeout_s 540
#
# It installs the carried wheels and runs scripts/gpu_run.py: one process, one load of random
# Qwen2.5-7B-shape weights in NF4, stages 1-9 each with its own time limit, $OUT/results.json
# rewritten after every stage and PASS/FAIL per target at its end (docs/development.md, "Checking a GPU").
# The log is $OUT/gpu_run.log.
#
# The rehearsal on a machine without CUDA (the tiny shape, the local Python's own packages):
#   GPU_ALL_DRY_RUN=1 bash scripts/gpu_all.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/interviewer-gpu-all}"  # never the working tree: a rehearsal's output is no source
work="${WORK:-/tmp/interviewer-random-weights}"
mkdir -p "$out" "$work"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
if [ "${GPU_ALL_DRY_RUN:-0}" = 1 ]; then
  python=python
  extra=(--rehearse)
else
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "no wheels in .whl/: run scripts/fetch_device_wheels.sh first and carry .whl" >&2
    exit 2
  fi
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/interviewer-site .whl/*.whl || exit 2
  export PYTHONPATH="/tmp/interviewer-site"
  python=python3
  extra=()
  nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total --format=csv || true
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD"

# The script keeps to its own --budget (420 s); the timeout is the last resort.
timeout 500 "$python" scripts/gpu_run.py --out "$out" --workdir "$work" "${extra[@]}" "$@" \
  2>&1 | tee "$out/gpu_run.log"
status=${PIPESTATUS[0]}
echo "gpu_run exit: $status (results in $out/results.json)" | tee -a "$out/gpu_run.log"
exit "$status"
