#!/usr/bin/env bash
# Builds helm-render into <build dir> (default build/) from Debian's Go
# packages, offline: GOPATH mode over /usr/share/gocode. Debian ships sprig
# v3 and semver v3 without the /v3 in their paths, which GOPATH mode cannot
# resolve, so a small staging GOPATH under the build dir maps the /v3 import
# paths onto them with symlinks. Nothing built is committed.
# Usage: tests/helm-render/build.sh [build dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mkdir -p "${1:-$here/../../build}" && cd "${1:-$here/../../build}" && pwd)"
src=/usr/share/gocode/src
for p in "$src/github.com/Masterminds/sprig" "$src/github.com/xeipuuv/gojsonschema" "$src/sigs.k8s.io/yaml"; do
  [ -d "$p" ] || { echo "helm-render: $p is missing (scripts/deps.sh test installs golang-go, golang-github-masterminds-sprig-dev, golang-github-xeipuuv-gojsonschema-dev, golang-k8s-sigs-yaml-dev)" >&2; exit 1; }
done
command -v go >/dev/null || { echo "helm-render: go is missing (golang-go)" >&2; exit 1; }
gp="$out/helm-render-gopath"
mkdir -p "$gp/src/github.com/Masterminds/sprig" "$gp/src/github.com/Masterminds/semver" "$gp/src/helm-render"
ln -sfn "$src/github.com/Masterminds/sprig" "$gp/src/github.com/Masterminds/sprig/v3"
ln -sfn "$src/github.com/Masterminds/semver" "$gp/src/github.com/Masterminds/semver/v3"
ln -sfn "$here/main.go" "$gp/src/helm-render/main.go"
cd "$gp/src/helm-render"
GO111MODULE=off GOPATH="$gp:/usr/share/gocode" GOCACHE="${GOCACHE:-$out/helm-render-gocache}" GOFLAGS= \
  go build -o "$out/helm-render" .
