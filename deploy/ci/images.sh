#!/usr/bin/env bash
# Local base images for CI, made from Debian's archive alone (CI reaches no image registry):
# debootstrap a minimal bookworm per image, then `docker import` it. Each image is tagged
# with a hash of this script, so a second run on the same machine reuses it (and the root
# filesystem tarballs in $ESCBOT_CI_CACHE survive a `docker image prune`).
#
# Prints three lines, NAME=image:tag, for deploy/ci.sh to source.
set -euo pipefail

SUITE=bookworm
MIRROR=${ESCBOT_CI_MIRROR:-http://deb.debian.org/debian}
CACHE=${ESCBOT_CI_CACHE:-/var/cache/escbot-ci}
DOCKER=${DOCKER:-docker}
KEY=$(cat "$0" | sha256sum | cut -c1-12)

# name | packages | what `docker import` sets (the image's defaults)
declare -A PACKAGES=(
  [base]="python3,python3-venv,ca-certificates,tzdata"
  [nginx]="nginx-light,ca-certificates"
  [postgres]="postgresql-15,locales-all"
)
declare -A CHANGES=(
  [base]='CMD ["python3"]'
  [nginx]='CMD ["nginx", "-g", "daemon off;"]'
  [postgres]='CMD ["bash"]'
)

make_rootfs() {  # NAME -> $CACHE/$KEY/NAME.tar
  local name=$1 dir tar="$CACHE/$KEY/$1.tar"
  [ -s "$tar" ] && return 0
  dir=$(mktemp -d "$CACHE/rootfs.$name.XXXX")
  debootstrap --variant=minbase --include="${PACKAGES[$name]}" --cache-dir="$CACHE/debs" \
    "$SUITE" "$dir" "$MIRROR" >"$dir.log" 2>&1 || { tail -30 "$dir.log" >&2; return 1; }
  # what an image needs at run time only: no package lists, caches or manuals
  rm -rf "$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/info/*
  tar -C "$dir" --numeric-owner -cf "$tar.part" . && mv "$tar.part" "$tar"
  rm -rf "$dir" "$dir.log"
}

mkdir -p "$CACHE/$KEY" "$CACHE/debs"
pids=()
for name in base nginx postgres; do
  if ! "$DOCKER" image inspect "escbot-ci/$name:$KEY" >/dev/null 2>&1; then
    make_rootfs "$name" & pids+=($!)
  fi
done
for pid in "${pids[@]}"; do wait "$pid"; done
for name in base nginx postgres; do
  if ! "$DOCKER" image inspect "escbot-ci/$name:$KEY" >/dev/null 2>&1; then
    "$DOCKER" import --change "${CHANGES[$name]}" "$CACHE/$KEY/$name.tar" \
      "escbot-ci/$name:$KEY" >/dev/null
  fi
  echo "${name^^}_IMAGE=escbot-ci/$name:$KEY"
done
# older keys' tarballs: this script changed since
find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -name "$KEY" ! -name debs -exec rm -rf {} +
