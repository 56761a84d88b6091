#!/usr/bin/env bash
# Local base images for CI, made from Debian's archive alone (CI reaches no image registry):
# debootstrap a minimal bookworm per image, then `docker import` it. Each image is tagged
# with a hash of what goes into it (suite, packages, settings, the postgres entrypoint), so
# a second run on the same machine reuses it (and the root filesystem tarballs in
# $ESCBOT_CI_CACHE survive a `docker image prune`).
#
# Prints three lines, NAME=image:tag, for deploy/ci.sh to source.
set -euo pipefail
trap 'echo "images.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

SUITE=bookworm
MIRROR=${ESCBOT_CI_MIRROR:-http://deb.debian.org/debian}
CACHE=${ESCBOT_CI_CACHE:-/var/cache/escbot-ci}
DOCKER=${DOCKER:-docker}

# name | packages | what `docker import` sets (the image's defaults)
declare -A PACKAGES=(
  [base]="python3,python3-venv,ca-certificates,tzdata"
  [nginx]="nginx-light,ca-certificates"
  [postgres]="postgresql-15"
)
declare -A CHANGES=(
  [base]='CMD ["python3"]'
  [nginx]='CMD ["nginx", "-g", "daemon off;"]'
  [postgres]='ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]'
)
PGBIN=/usr/lib/postgresql/15/bin

# The official postgres image's interface, as far as deploy/compose.yaml uses it:
# POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD_FILE, data in /var/lib/postgresql/data.
postgres_entrypoint() {
  cat <<'SH'
#!/bin/bash
set -euo pipefail
PGBIN=/usr/lib/postgresql/15/bin
export PGDATA=${PGDATA:-/var/lib/postgresql/data}
user=${POSTGRES_USER:-postgres}
mkdir -p "$PGDATA" /run/postgresql
chown -R postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pw=${POSTGRES_PASSWORD:-$(cat "${POSTGRES_PASSWORD_FILE:?POSTGRES_PASSWORD(_FILE) is not set}")}
  printf '%s\n' "$pw" >/run/postgresql/pw && chown postgres /run/postgresql/pw
  runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -U "$user" --pwfile=/run/postgresql/pw \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f /run/postgresql/pw
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "${POSTGRES_DB:-$user}" != postgres ]; then
    echo "CREATE DATABASE \"${POSTGRES_DB:-$user}\"" |
      runuser -u postgres -- "$PGBIN/postgres" --single -D "$PGDATA" postgres >/dev/null
  fi
fi
exec runuser -u postgres -- "$PGBIN/postgres" -D "$PGDATA" -c listen_addresses='*' "$@"
SH
}

make_rootfs() {  # NAME -> $CACHE/$KEY/NAME.tar
  local name=$1 dir tar="$CACHE/$KEY/$1.tar"
  [ -s "$tar" ] && return 0
  dir=$(mktemp -d "$CACHE/rootfs.$name.XXXX")
  # a cache of .debs per image: debootstraps running side by side must not write one file
  mkdir -p "$CACHE/debs/$name"
  for attempt in 1 2; do  # a mirror's hiccup is worth one more try
    if debootstrap --variant=minbase --include="${PACKAGES[$name]}" \
      --cache-dir="$CACHE/debs/$name" "$SUITE" "$dir" "$MIRROR" >"$dir.log" 2>&1; then
      break
    fi
    echo "debootstrap of $name failed (attempt $attempt):" >&2
    tail -15 "$dir.log" >&2
    [ "$attempt" = 2 ] && return 1
    rm -rf "$dir" && mkdir -p "$dir"
  done
  # what an image needs at run time only: no package lists, caches or manuals
  rm -rf "$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/info/*
  if [ "$name" = postgres ]; then
    postgres_entrypoint >"$dir/usr/local/bin/postgres-entrypoint"
    chmod 755 "$dir/usr/local/bin/postgres-entrypoint"
    ln -s "$PGBIN/pg_isready" "$dir/usr/local/bin/pg_isready"
  fi
  tar -C "$dir" --numeric-owner -cf "$tar.part" . && mv "$tar.part" "$tar"
  rm -rf "$dir" "$dir.log"
}

KEY=$({ echo "$SUITE"; declare -p PACKAGES CHANGES; postgres_entrypoint; } | sha256sum | cut -c1-12)
mkdir -p "$CACHE/$KEY" "$CACHE/debs"
pids=()
for name in base nginx postgres; do
  if ! "$DOCKER" image inspect "escbot-ci/$name:$KEY" >/dev/null 2>&1; then
    make_rootfs "$name" & pids+=($!)
  fi
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done  # all of them, then the verdict
[ "$failed" = 0 ] || exit 1
for name in base nginx postgres; do
  if ! "$DOCKER" image inspect "escbot-ci/$name:$KEY" >/dev/null 2>&1; then
    "$DOCKER" import --change "${CHANGES[$name]}" "$CACHE/$KEY/$name.tar" \
      "escbot-ci/$name:$KEY" >/dev/null
  fi
  echo "${name^^}_IMAGE=escbot-ci/$name:$KEY"
done
# older keys' tarballs and images: this script changed since
find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -name "$KEY" ! -name debs ! -name 'rootfs.*' \
  -exec rm -rf {} +
find "$CACHE" -mindepth 1 -maxdepth 1 -name 'rootfs.*' -mmin +60 -exec rm -rf {} +  # killed runs
"$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}' \
  | grep -E '^escbot-ci/(base|nginx|postgres):' | grep -v ":$KEY\$" \
  | xargs -r "$DOCKER" image rm >/dev/null 2>&1 || true
