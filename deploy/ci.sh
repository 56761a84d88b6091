#!/usr/bin/env bash
# CI's proof of the deployment (#27), called by .ci/run: build the image on a base made from
# Debian's archive, bring deploy/compose.yaml up with the Slack emulator standing in for
# Slack, drive one journey through nginx with a replica killed half-way, check the proxy
# and the health checks, attack the proxy with slow clients, tear everything down.
#
# Needs root (dockerd, debootstrap) and a Python with escbot installed (the dev venv):
#   sudo deploy/ci.sh          # from the repository, venv activated
# Caches between runs on the same machine: the debootstrapped images (keyed by a hash of what
# goes into them) and docker's build cache; ESCBOT_CI_COLD=1 drops both first.
# docs/deploy.md, "Proven in CI", has the timings.
set -euo pipefail
trap 'echo "deploy/ci.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
started=$(date +%s)
DOCKER=/usr/bin/docker  # Debian's client, matched to Debian's dockerd
export DOCKER
PYTHON=${PYTHON:-python}
PROJECT=escbot-ci
PORT=${ESCBOT_CI_PORT:-18080}
EMULATOR_PORT=${ESCBOT_CI_EMULATOR_PORT:-18765}
mark() { echo "== deploy: $* ($(( $(date +%s) - started ))s)"; }

mark "docker and debootstrap from Debian's archive"
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
[ -x /usr/sbin/dockerd ] || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
DOCKERD_PID=
if ! $DOCKER info >/dev/null 2>&1; then
  mkdir -p /var/log/escbot-ci
  /usr/sbin/dockerd </dev/null >/var/log/escbot-ci/dockerd.log 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do $DOCKER info >/dev/null 2>&1 && break; sleep 1; done
  $DOCKER info >/dev/null || { tail -30 /var/log/escbot-ci/dockerd.log; exit 1; }
fi
stop_dockerd() {  # only the one this script started; images and caches stay on disk
  if [ -n "$DOCKERD_PID" ]; then
    kill "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
  fi
}
trap stop_dockerd EXIT
# docker-compose 1.x calls `docker` for nothing; journey.py calls it for kill/inspect/exec
export PATH="$(dirname "$DOCKER"):$PATH"

if [ "${ESCBOT_CI_COLD:-0}" = 1 ]; then
  mark "cold run: dropping cached images and tarballs"
  { $DOCKER image ls --format '{{.Repository}}:{{.Tag}}' | grep -E '^(escbot-ci/|escbot:)' \
    | xargs -r $DOCKER image rm -f >/dev/null; } || true  # none there is fine
  $DOCKER builder prune -af >/dev/null 2>&1 || true
  rm -rf "${ESCBOT_CI_CACHE:-/var/cache/escbot-ci}"
fi

mark "base, nginx and PostgreSQL images (debootstrap + docker import, cached by hash)"
images=$(deploy/ci/images.sh)  # NAME_IMAGE=… lines; a failure stops here (set -e)
eval "$images"

VERSION=$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
IMAGE=escbot:$VERSION
mark "escbot's image $IMAGE on $BASE_IMAGE"
# pip inside the build goes through the same TLS-inspecting proxy: it trusts the system CA
cp /etc/ssl/certs/ca-certificates.crt deploy/ca/ci-system-ca.crt
trap 'rm -f deploy/ca/ci-system-ca.crt; stop_dockerd' EXIT
$DOCKER build -q --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg VERSION="$VERSION" \
  -t "$IMAGE" . >/dev/null
# the previous build of the same tag, now untagged: don't let runs fill the disk
$DOCKER image prune -f --filter label=org.opencontainers.image.title=escbot >/dev/null

mark "the image: its version, its user, no compiler"
shown=$($DOCKER run --rm "$IMAGE" escbot --version)
[ "$shown" = "escbot $VERSION" ] || { echo "escbot --version in the image: $shown"; exit 1; }
label=$($DOCKER image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$IMAGE")
[ "$label" = "$VERSION" ] || { echo "the image's version label: $label"; exit 1; }
uid=$($DOCKER run --rm "$IMAGE" id -u)
[ "$uid" != 0 ] || { echo "the image runs as root"; exit 1; }
if $DOCKER run --rm "$IMAGE" sh -c 'command -v gcc || command -v cc || command -v pip'; then
  echo "the runtime image has a compiler or pip"; exit 1
fi
echo "   $shown, uid $uid, no compiler, label $label"

mark "the stack: PostgreSQL, two replicas, nginx; the emulator in journey.py"
SECRETS=$(mktemp -d)
SIGNING=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
PGPASS=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$PGPASS" >"$SECRETS/postgres_password"
printf 'postgresql://escbot:%s@postgres:5432/escbot\n' "$PGPASS" >"$SECRETS/database_url"
printf 'xoxb-ci-%s\n' "$SIGNING" >"$SECRETS/slack_bot_token"
printf '%s\n' "$SIGNING" >"$SECRETS/slack_signing_secret"
printf 'xapp-unused\n' >"$SECRETS/slack_app_token"
chmod 0644 "$SECRETS"/*  # the image's user (uid 10001) reads them
chmod 0755 "$SECRETS"
# the host as containers see it (docker0's address: what host-gateway resolves to)
GATEWAY=$(ip -4 -o addr show docker0 2>/dev/null | awk '{print $4}' | cut -d/ -f1 || true)
GATEWAY=${GATEWAY:-172.17.0.1}
export ESCBOT_IMAGE="$IMAGE" NGINX_IMAGE POSTGRES_IMAGE ESCBOT_SECRETS="$SECRETS" \
  ESCBOT_PUBLISH="127.0.0.1:$PORT" SLACK_API_URL="http://slack-emulator:$EMULATOR_PORT/api/" \
  ESCBOT_VERSION="$VERSION"
export COMPOSE="docker-compose -p $PROJECT -f deploy/compose.yaml -f deploy/ci/compose.ci.yaml"
teardown() {
  mark "teardown"
  $COMPOSE --profile http down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$SECRETS" deploy/ca/ci-system-ca.crt
  stop_dockerd
}
trap teardown EXIT
$COMPOSE --profile http down -v --remove-orphans >/dev/null 2>&1 || true  # a run killed earlier

rc=0
"$PYTHON" deploy/ci/journey.py --emulator-host "$GATEWAY" --emulator-port "$EMULATOR_PORT" \
  --proxy "http://127.0.0.1:$PORT" --signing-secret "$SIGNING" || rc=$?
if [ "$rc" != 0 ]; then
  echo "== deploy: the stack's logs (last 40 lines each)"
  $COMPOSE --profile http logs --no-color --tail 40 || true
  exit "$rc"
fi
mark "deploy OK"
