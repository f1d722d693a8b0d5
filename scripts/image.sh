#!/usr/bin/env bash
# Builds the gantry:dev image (and gantry-whoami:dev for the compose example)
# offline, against whatever engine DOCKER_HOST names. The debian:bookworm base
# comes from debootstrap (no registry here); its tarball is cached in
# GANTRY_CACHE (default /var/cache/gantry) so later runs only import it.
# Usage: scripts/image.sh [gantry|whoami|all]   (default: all)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache=${GANTRY_CACHE:-/var/cache/gantry}
base_tar="$cache/debian-bookworm-minbase.tar"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if ! docker image inspect debian:bookworm >/dev/null 2>&1; then
  if [ ! -s "$base_tar" ]; then
    command -v debootstrap >/dev/null || { echo "image: debootstrap is missing (scripts/deps.sh installs it)" >&2; exit 1; }
    mkdir -p "$cache"
    dir=$(mktemp -d "$cache/rootfs.XXXXXX")
    echo "image: debootstrap --variant=minbase bookworm (once; cached in $base_tar)"
    debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
      { tail -20 "$cache/debootstrap.log" >&2; rm -rf "$dir"; exit 1; }
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    tar -C "$dir" -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
    rm -rf "$dir"
  fi
  docker import "$base_tar" debian:bookworm >/dev/null
fi

what=${1:-all}
if [ "$what" = all ] || [ "$what" = gantry ]; then
  docker build --network host -q -t gantry:dev "$root" >/dev/null
  echo "image: gantry:dev $(docker image inspect -f '{{.Size}}' gantry:dev | awk '{printf "%.1f MB", $1/1e6}')"
fi
if [ "$what" = all ] || [ "$what" = whoami ]; then
  docker build --network host -q -t gantry-whoami:dev "$root/examples/whoami" >/dev/null
  echo "image: gantry-whoami:dev"
fi
