#!/usr/bin/env bash
# Run HERE (a machine with PyPI), before a call of the device tool: fills .gpu/ (ignored by git; name it in the
# tool's `carry`) with what the GPU machine lacks. That machine has python3 3.12 with torch, torchvision, numpy,
# pytest, httpx, psutil and nvidia-ml-py, but not the API's and the queue's packages, and it cannot reach PyPI;
# ../shared/data does not travel either.
#   .gpu/requirements.txt  the project's dependencies (pyproject.toml) less torch's and plotly; psycopg stays, since
#                          the API imports it (its Postgres ingestion) even on SQLite
#   .gpu/wheels/           their wheels and their dependencies' for CPython 3.12 on manylinux x86_64 (numpy and
#                          uvloop left out: the image has them), about 14 MB
#   .gpu/data/             the shared data: MNIST's .gz files and dogs-vs-cats/, about 24 MB
# Usage: bash bench/gpu_prepare.sh [DATA_DIR (default ../shared/data)]; then see bench/gpu_check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
PY=${PYTHON:-python3}
rm -rf .gpu
mkdir -p .gpu/wheels .gpu/data/MNIST/raw
"$PY" - >.gpu/requirements.txt <<'PYEOF'
import re, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
skip = {"plotly"}  # only read to serve plotly.js
for dep in deps:
    name = re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0]
    if name not in skip:
        print(dep)
PYEOF
platforms=()
for tag in manylinux_2_17 manylinux_2_24 manylinux_2_27 manylinux_2_28 manylinux_2_31 manylinux_2_34 manylinux2014 manylinux1; do
    platforms+=(--platform "${tag}_x86_64")
done
"$PY" -m pip download --quiet --only-binary=:all: --python-version 3.12 --implementation cp "${platforms[@]}" \
    -d .gpu/wheels -r .gpu/requirements.txt
rm -f .gpu/wheels/numpy-* .gpu/wheels/uvloop-*
cp "$DATA"/MNIST/raw/*.gz .gpu/data/MNIST/raw/
cp -r "$DATA"/dogs-vs-cats .gpu/data/
du -sh .gpu/wheels .gpu/data
echo "working tree that travels (tracked + untracked, without .gpu): $(git ls-files -co --exclude-standard -z | du -ch --files0-from=- | tail -1)"
