#!/usr/bin/env bash
# Every GPU check in one command, within one time budget (default 560 s, under the device tool's 10 minutes):
# installs .gpu/wheels (made by bench/gpu_prepare.sh) if the API's packages are missing, then runs
# bench/bench_gpu.py (nvidia-smi and torch's device info, tests/e2e/test_cuda.py, bench_loop.py --device cuda with
# GPU utilisation, fig1 and the fig5 grid through api + workers) and writes its text files to $OUT.
#   On the GPU machine, through the device tool:  bash bench/gpu_check.sh          (carry [".gpu"], timeout_s 600)
#   Here, to prove every step on the CPU:         OUT=/tmp/gpu-dry PYTHON=.venv/bin/python \
#                                                     bash bench/gpu_check.sh --device cpu --quick
# Extra arguments go to bench/bench_gpu.py (--steps, --workers, --budget-s ...). BUDGET_S sets the whole budget.
set -u
cd "$(dirname "$0")/.."
started=$(date +%s)
OUT=${OUT:-/tmp/bench-gpu}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
BUDGET_S=${BUDGET_S:-560}
{
    echo "# $(date -u '+%Y-%m-%d %H:%M:%S') UTC, commit $(git rev-parse --short HEAD 2>/dev/null), $($PY --version 2>&1) at $(command -v "$PY")"
    if ! "$PY" -c "import fastapi, uvicorn, httptools, celery, kombu, redis, sqlalchemy, alembic, optuna, pydantic_settings, psycopg_pool" 2>/dev/null; then
        if [ -d .gpu/wheels ]; then
            echo "# installing .gpu/wheels into $PY's environment"
            timeout 150 "$PY" -m pip install --no-index --find-links .gpu/wheels --no-cache-dir -r .gpu/requirements.txt \
                || { echo "# that failed: installing them into /tmp/tb-site instead (PYTHONPATH)"
                     timeout 120 "$PY" -m pip install -q --no-index --no-deps --no-cache-dir --upgrade \
                         --target /tmp/tb-site .gpu/wheels/*.whl && echo "PYTHONPATH=/tmp/tb-site" >"$OUT/.pythonpath"; }
        else
            echo "# the API's packages are missing and there is no .gpu/wheels: run bench/gpu_prepare.sh first"
        fi
    fi
    "$PY" -m pip list 2>/dev/null | grep -i -E "^(torch|torchvision|numpy|fastapi|celery|kombu|sqlalchemy|pydantic|optuna|nvidia-ml-py|pytest) "
} >"$OUT/setup.txt" 2>&1
if [ -f "$OUT/.pythonpath" ]; then
    export PYTHONPATH="/tmp/tb-site${PYTHONPATH:+:$PYTHONPATH}"
    rm -f "$OUT/.pythonpath"
fi
DATA_DIR=${DATA_DIR:-}
if [ -z "$DATA_DIR" ]; then
    for candidate in .gpu/data ../shared/data; do
        if [ -d "$candidate/MNIST" ]; then DATA_DIR=$candidate; break; fi
    done
fi
data=()
[ -n "$DATA_DIR" ] && data=(--data-dir "$DATA_DIR")
left=$((BUDGET_S - ($(date +%s) - started)))
exec "$PY" bench/bench_gpu.py --out "$OUT" "${data[@]}" --budget-s "$left" "$@"
