#!/usr/bin/env bash
# Download the wheels the GPU machine lacks (it has torch, transformers and accelerate) into .whl/
# (ignored by git) for the device tool's `carry`. Run from the repository root; see
# scripts/gpu_all.sh (which runs scripts/gpu_run.py).
set -euo pipefail
mkdir -p .whl
fetch() {
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl "$@"
}
fetch bitsandbytes==0.50.2 xgrammar==0.2.8 apache-tvm-ffi pydantic==2.13.4 pydantic-core==2.46.4 \
  annotated-types typing-inspection
# pydantic 2.13 needs typing-extensions >= 4.14.1; the machine's own may be older.
fetch "typing-extensions>=4.14.1"
# interviewer's settings (the engine reads the evidence thresholds from them).
fetch pydantic-settings python-dotenv platformdirs
# interviewer.bench (which scripts/gpu_run.py uses) also needs the command line and its table.
fetch click==8.5.1 rich==15.0.0 markdown-it-py==4.3.0 mdurl==0.1.2 pygments==2.21.0
du -sh .whl
echo 'On the device (carry .whl, timeout_s 540): bash scripts/gpu_all.sh   (runs scripts/gpu_run.py)'
