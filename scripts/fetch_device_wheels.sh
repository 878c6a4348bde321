#!/usr/bin/env bash
# Download the wheels the GPU machine lacks (it has torch, transformers and accelerate) into .whl/
# for the device tool's `carry`. Run from the repository root; see scripts/gpu_check.py.
set -euo pipefail
grep -qxF '/.whl/' .git/info/exclude || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
fetch() {
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl "$@"
}
fetch bitsandbytes==0.50.2 xgrammar==0.2.8 apache-tvm-ffi pydantic==2.13.4 pydantic-core==2.46.4 \
  annotated-types typing-inspection
du -sh .whl
echo 'On the device: python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:. && python3 scripts/gpu_check.py --out $OUT/gpu_check.json'
