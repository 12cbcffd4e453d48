# The API image: FastAPI, the REST API and the dashboard's static files. No torch: the backend never
# imports it, so this image installs the project's base dependencies only, never the `worker` extra.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TRAINBOARD_HOME=/var/lib/trainboard

WORKDIR /app

# Dependencies first, read from pyproject.toml alone, so that a code change reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The source tree (less what .dockerignore drops). Installed editable because the app serves
# frontend/ from beside its packages (backend/main.py: FRONTEND_DIR), which a site-packages copy lacks.
COPY . .
RUN pip install --no-deps -e . \
 && useradd --create-home --uid 1000 trainboard \
 && install -d -o trainboard -g trainboard /var/lib/trainboard

USER trainboard
EXPOSE 8000
CMD ["trainboard", "api", "--host", "0.0.0.0", "--port", "8000"]
