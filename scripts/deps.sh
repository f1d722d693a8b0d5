#!/usr/bin/env bash
# Installs the Debian packages Gantry needs to build, run its demo and run
# its tests. Idempotent: does nothing when everything is present.
# Usage: scripts/deps.sh [build|test|all]   (default: all)
set -euo pipefail

# One package per line, so that additions merge cleanly.
build_pkgs=(
  build-essential cmake pkg-config
  libh2o-evloop-dev
  libcurl4-openssl-dev
  libcjson-dev
  libyaml-dev
  libssl-dev
  libpcre2-dev
  zlib1g-dev
  libbrotli-dev
  libzstd-dev
  libcrypt-dev
  libhiredis-dev
  libc-ares-dev
  libnghttp2-dev
  python3 curl ca-certificates
)
test_pkgs=(
  python3-pytest python3-websockets python3-h2 python3-httpx python3-yaml
  nghttp2-client wrk nginx-light openssl procps iproute2
  docker.io busybox-static docker-compose debootstrap
  python3-prometheus-client
  chromium
  clang libclang-rt-14-dev
  python3-grpcio
  python3-grpc-tools
  nghttp2-server
  libgrpc++-dev
  protobuf-compiler-grpc
  protobuf-compiler
  libprotobuf-dev
  haproxy
  pebble
  python3-brotli python3-zstandard
  apache2-utils
  sslscan
  golang-go
  golang-github-masterminds-sprig-dev
  golang-github-xeipuuv-gojsonschema-dev
  golang-k8s-sigs-yaml-dev
  redis-server
  testssl.sh
  strace
)

case "${1:-all}" in
  build) want=("${build_pkgs[@]}") ;;
  test|all) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
browser_deps() { # playwright-core for the dashboard test, from the npm registry (pinned by package-lock.json)
  [ "${1:-all}" = build ] && return 0
  command -v npm >/dev/null || return 0
  local dir; dir="$(dirname "$0")/../tests/browser"
  [ -d "$dir/node_modules/playwright-core" ] || (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}
if [ ${#missing[@]} -eq 0 ]; then browser_deps "${1:-all}"; exit 0; fi

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "deps: run as root: apt-get install -y ${missing[*]}" >&2; exit 1
  fi
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q || true
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# nginx-light's and haproxy's packages start system services where systemd runs.
for unit in nginx haproxy; do  # test and bench peers are started by the tests themselves
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$unit" 2>/dev/null; then
    $SUDO systemctl stop "$unit" || true
  fi
done
command -v npm >/dev/null || [ "${1:-all}" = build ] || $SUDO apt-get install -y -q --no-install-recommends nodejs npm || true
browser_deps "${1:-all}"
