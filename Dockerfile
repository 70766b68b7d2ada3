# The dashboard for a team of analysts: `docker build -t recsys-core .` then
# `docker run -p 8501:8501 -v recsys-runs:/data/runs recsys-core`.
# Settings (README, "Deploying for a team"): RECSYS_CORE_MODE=viewer, RECSYS_CORE_TRAINERS,
# RECSYS_CORE_USER_HEADER, RECSYS_CORE_MAX_TRAININGS, RECSYS_CORE_MAX_QUEUED,
# RECSYS_CORE_MAX_UPLOAD_MB, RECSYS_CORE_QUEUE, RECSYS_CORE_JOB_MEMORY_MB, RECSYS_CORE_JOB_TIMEOUT_S;
# sign-in: mount secrets.toml at /opt/recsys/.streamlit/secrets.toml.
# tests/test_deploy.py checks this file and runs its CMD outside Docker; lint: `make lint-docker`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KERAS_BACKEND=jax \
    RECSYS_CORE_CACHE=/opt/recsys/cache \
    RECSYS_CORE_RUNS=/data/runs \
    RECSYS_CORE_MAX_TRAININGS=1

# Chromium lets kaleido export PNG/SVG/PDF. Debian's security updates replace its version, so it
# is not pinned (a pinned version would stop building once the archive drops it).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
WORKDIR /opt/recsys

COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY pyproject.toml README.md ./
COPY recsys_core ./recsys_core
COPY app ./app
COPY pages ./pages
COPY docs ./docs
COPY deploy/streamlit-config.toml ./.streamlit/config.toml
# MovieLens 100K is fetched and verified at build time, never at start-up.
RUN pip install --no-deps . \
    && recsys-core data \
    && chmod -R a+rX /opt/recsys \
    && mkdir -p /data/runs && chown app:app /data/runs

# numeric, so that `runAsNonRoot` and hosts without this user name can check it
USER 10001
VOLUME ["/data/runs"]
EXPOSE 8501
# exits 1 unless the server answers "ok" (an error, a refused connection or a timeout: also 1)
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() != b'ok')"]
# the dashboard and one worker process (trainings and checks run there, never in the web server);
# with RECSYS_CORE_QUEUE=redis://... more workers can run elsewhere: `recsys-core worker`
CMD ["recsys-core", "serve"]
