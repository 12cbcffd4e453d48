# The GPU worker image: Celery worker + the torch training loop.
#
# Base: plain python:3.11-slim, not an nvidia/cuda or pytorch/pytorch image. The torch==2.14.1 wheel
# that PyPI serves on Linux x86_64 is the CUDA 13.0 build and brings its own CUDA runtime and cuDNN
# (the nvidia-* wheels), so a CUDA base image would only add a second, unused copy of those libraries.
# What the host must provide: an NVIDIA driver new enough for CUDA 13.0 (R580 or later) and the
# NVIDIA Container Toolkit, which mounts the driver (and nvidia-smi) into the container.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    TRAINBOARD_HOME=/var/lib/trainboard \
    TRAINBOARD_DATA_DIR=/data \
    TRAINBOARD_GPU_LOCK_DIR=/var/lib/trainboard-gpu-locks

WORKDIR /app

# Dependencies first (base + the `worker` extra: torch, torchvision, ...), read from pyproject.toml
# alone, so that a code change does not download torch again.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['worker']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-deps -e . \
 && useradd --create-home --uid 1000 trainboard \
 && install -d -o trainboard -g trainboard /var/lib/trainboard /var/lib/trainboard-gpu-locks /data

USER trainboard
ENTRYPOINT ["/bin/sh", "/app/docker/worker-entrypoint.sh"]
CMD ["trainboard", "worker", "--device", "cuda"]
