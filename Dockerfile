# syntax=docker/dockerfile:1

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11-slim
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL="sqlite:////data/summit-watch.db" \
    SOURCES_FILE=/app/config/sources.toml \
    ALIASES_FILE=/app/config/aliases.toml \
    HEALTH_PORT=8080
RUN useradd --system --uid 10001 --home-dir /app summit \
    && mkdir -p /data /app \
    && chown summit /data
COPY --from=build /opt/venv /opt/venv
COPY config /app/config
WORKDIR /app
USER summit
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HEALTH_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["summit-watch"]
CMD ["run"]
