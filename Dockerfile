# escbot's image: `docker build --build-arg VERSION=$(escbot --version | cut -d" " -f2) -t escbot .`
# (docs/deploy.md). Two stages: the build stage installs the locked dependencies into a
# virtual environment; the runtime stage copies only that environment onto the same base,
# so no compiler, pip cache or build tool ships, and runs it as an unprivileged user.

# Any image with python3 (3.11+) and its venv module on Debian: the official slim image by
# default; CI passes one it debootstraps itself (deploy/ci/images.sh).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
# A TLS-inspecting proxy's CA for pip: PEM files in deploy/ca/ join the base's bundle.
COPY deploy/ca/ /tmp/ca/
RUN set -eu; : >/tmp/ca-bundle.pem; \
    for f in /etc/ssl/certs/ca-certificates.crt /tmp/ca/*.crt /tmp/ca/*.pem; do \
      if [ -f "$f" ]; then cat "$f" >>/tmp/ca-bundle.pem; fi; \
    done
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# The lock first: this layer stays cached until requirements/runtime.txt changes.
COPY requirements/runtime.txt requirements/runtime.txt
RUN set -eu; if [ -s /tmp/ca-bundle.pem ]; then export PIP_CERT=/tmp/ca-bundle.pem; fi; \
    python3 -m venv /opt/escbot; \
    /opt/escbot/bin/pip install -q --require-hashes --only-binary=:all: \
      -r requirements/runtime.txt
COPY pyproject.toml README.md LICENSE ./
COPY bot bot
COPY handlers handlers
COPY storage storage
COPY templates templates
RUN set -eu; if [ -s /tmp/ca-bundle.pem ]; then export PIP_CERT=/tmp/ca-bundle.pem; fi; \
    /opt/escbot/bin/pip install -q --no-deps . \
    && /opt/escbot/bin/pip uninstall -q -y pip \
    && find /opt/escbot -name '__pycache__' -prune -exec rm -rf {} + \
    && /opt/escbot/bin/python -m compileall -q /opt/escbot/lib >/dev/null

FROM ${BASE_IMAGE}
# The version comes from pyproject.toml; the build passes it (deploy/ci.sh, compose.yaml).
ARG VERSION=unknown
LABEL org.opencontainers.image.title="escbot" \
      org.opencontainers.image.description="Slack escalation desk for a Trust & Safety pod" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="docs/deploy.md"
RUN groupadd --system --gid 10001 escbot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/escbot --create-home \
      --shell /usr/sbin/nologin escbot \
    && mkdir -p /etc/escbot
COPY --from=build /opt/escbot /opt/escbot
# app.yaml is mounted at /etc/escbot/app.yaml; secrets come from the environment or from
# files (SLACK_BOT_TOKEN_FILE=/run/secrets/…). With no DATABASE_URL the database is SQLite,
# escbot.db in the working directory: the volume.
ENV PATH=/opt/escbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ESCBOT_CONFIG=/etc/escbot/app.yaml \
    PORT=3000
USER 10001:10001
WORKDIR /var/lib/escbot
VOLUME ["/var/lib/escbot"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=2)"]
# `escbot run` migrates the database first (PostgreSQL: under an advisory lock, so replicas
# may start together), then serves HTTP on $PORT, or Socket Mode when SLACK_APP_TOKEN is set.
CMD ["escbot", "run"]
