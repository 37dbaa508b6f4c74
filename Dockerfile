# syntax=docker/dockerfile:1
# Two stages: the builder compiles and installs the pinned requirements into a virtualenv; the
# runtime image gets only that virtualenv and the code, and runs as a non-root user.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
# A compiler only for wheels that have to be built from source; it stays in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
RUN pip install --upgrade pip \
    && pip install -r /tmp/requirements.txt


FROM ${PYTHON_IMAGE} AS runtime
# PROMETHEUS_MULTIPROC_DIR: prometheus_client's multiprocess mode, where every gunicorn and Dramatiq
# process writes its samples. gunicorn's workers and threads come from config/gunicorn.py
# (GUNICORN_WORKERS, GUNICORN_THREADS, GUNICORN_BIND); GUNICORN_CMD_ARGS adds flags over it.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The code stays root's: the app user can read it, not change it.
COPY . /app
# var/ holds the SQLite file when DATABASE_URL is unset; the metrics folder must be writable by the
# app user (a named volume mounted there starts with this ownership).
RUN mkdir -p /app/var /app/staticfiles /tmp/prometheus \
    && chown app:app /app/var /app/staticfiles /tmp/prometheus

# Numeric, so Kubernetes' runAsNonRoot can tell it is not root (deploy/k8s runs as the same uid).
USER 10001:10001

# Static files are collected at build time into STATIC_ROOT (staticfiles/) and served by whitenoise.
# The key and the Fernet key below exist only for this step: production settings refuse to start
# without them, and collectstatic never reads a credential. Metrics stay in memory (the variable
# unset, not empty: an empty one makes prometheus_client write sample files into the working
# directory) so the build writes no sample files into the image.
RUN DEBUG=False \
    SECRET_KEY=build-only-dummy-secret-key-never-used-at-runtime-0123456789 \
    FIELD_ENCRYPTION_KEYS=YnVpbGQtb25seS1kdW1teS1rZXktbm90LXNlY3JldCE= \
    env -u PROMETHEUS_MULTIPROC_DIR python manage.py collectstatic --noinput

EXPOSE 8000

# The web server. The same image runs the other processes with another command:
#   python manage.py rundramatiq --processes 2 --threads 4
#   python manage.py run_scheduler
#   python -m sandbox --host 0.0.0.0 --port 8900 --callback-base http://web:8000
# config/gunicorn.py: gthread workers, and dead workers' metrics marked dead (multiprocess mode). No
# control socket: gunicorn would make it under $HOME (/app), which the app user cannot write.
CMD ["gunicorn", "config.wsgi:application", "--config", "python:config.gunicorn", "--worker-tmp-dir", "/dev/shm", "--no-control-socket"]
