# The dashboard for a team of analysts: `docker build -t recsys-core .` then
# `docker run -p 8501:8501 -v recsys-runs:/data/runs recsys-core`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KERAS_BACKEND=jax \
    RECSYS_CORE_CACHE=/opt/recsys/cache \
    RECSYS_CORE_RUNS=/data/runs

# Chromium lets kaleido export PNG/SVG/PDF; curl serves the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium curl \
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

USER app
VOLUME ["/data/runs"]
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD curl -fsS http://localhost:8501/_stcore/health || exit 1
CMD ["streamlit", "run", "app/main.py"]
