#!/bin/sh
# Gives each GPU worker container a GPU of its own, then runs the command (CMD or compose `command`).
#
# Compose cannot hand replicas different GPUs: with `--scale worker=4` every replica sees the same
# devices. So the worker service reserves all of the host's GPUs, and each replica claims one here
# by holding an flock on "<lock dir>/<GPU UUID>.lock" (a volume shared by the replicas) for as long
# as it lives; CUDA_VISIBLE_DEVICES then shows torch only that GPU. A replica that finds every GPU
# taken waits for one to free up rather than doubling up on a busy card.
#
# Nothing to claim, so the command runs as it is: CUDA_VISIBLE_DEVICES already set (you chose the
# GPU, e.g. `docker run --gpus device=1`), a `--device cpu` worker, a worker given `--gpus` (it
# schedules them itself: one run per GPU), or no GPU in the container.
set -eu

lock_dir="${TRAINBOARD_GPU_LOCK_DIR:-/var/lib/trainboard-gpu-locks}"
poll_s="${TRAINBOARD_GPU_POLL_S:-5}"

case " $* " in
*" --device cpu "* | *" --device=cpu "*) exec "$@" ;;
*" --gpus "* | *" --gpus="*) exec "$@" ;; # the worker schedules the GPUs it is given itself
esac
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
    exec "$@"
fi
if ! gpus=$(nvidia-smi --query-gpu=uuid --format=csv,noheader 2>/dev/null) || [ -z "$gpus" ]; then
    echo "worker-entrypoint: no GPU visible (nvidia-smi found none); running without claiming one" >&2
    exec "$@"
fi

mkdir -p "$lock_dir"
said_waiting=no
while :; do
    for uuid in $gpus; do
        exec 9>"$lock_dir/$uuid.lock"
        if flock -n 9; then
            # fd 9 stays open in the command exec'd below, so the lock lasts as long as the worker.
            export CUDA_VISIBLE_DEVICES="$uuid"
            echo "worker-entrypoint: this worker uses GPU $uuid" >&2
            exec "$@"
        fi
        exec 9>&-
    done
    if [ "$said_waiting" = no ]; then
        echo "worker-entrypoint: every GPU ($(echo $gpus | wc -w)) is held by another worker; waiting for one" >&2
        said_waiting=yes
    fi
    sleep "$poll_s"
done
