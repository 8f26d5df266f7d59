FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install . \
    && /opt/venv/bin/pip uninstall -y pip setuptools

FROM python:3.11-slim
# tini is PID 1: it forwards signals to the bot and reaps what the bot's helpers leave.
# Installers are left out of what runs.
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    TINI_SUBREAPER=1 \
    DATABASE_URL="sqlite:////data/summit-watch.db" \
    SOURCES_FILE=/app/config/sources.toml \
    HEALTH_PORT=8080
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && python -m pip uninstall -y pip setuptools wheel \
    && useradd --system --uid 10001 --home-dir /app summit \
    && mkdir -p /data /app \
    && chown summit /data
COPY --from=build /opt/venv /opt/venv
COPY config /app/config
WORKDIR /app
USER summit
VOLUME ["/data"]
# /healthz and /metrics (HEALTH_PORT); the webhook listener (WEBHOOK_PORT) when WEBHOOK_URL is set
EXPOSE 8080 8443
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HEALTH_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["tini", "--", "summit-watch"]
CMD ["run"]
