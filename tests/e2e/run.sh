#!/usr/bin/env bash
# `make test-e2e`: the e2e suite in the strongest mode this machine allows.
#   kind:     a kind cluster + real Helm (tests/e2e/kind.sh), where kind, helm,
#             a docker that can pull kindest/node, wrk, curl and openssl exist;
#   emulator: the chart rendered by tests/helm-render and applied with kubectl
#             to the project's API emulator, the gantry image run in a private
#             dockerd (tests/e2e/emulator_e2e.py), where kubectl, dockerd,
#             curl, go (Debian's Go packages) and root exist.
# The last line says which mode ran and why the other did not. Exit 77 when
# neither can run ("skipped", not a pass).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

# tee >(cat >&2), not tee /dev/stderr: reopening /dev/stderr truncates a log
# file that stderr is redirected to (CI lost everything printed before this).
kind_out=$(bash "$here/kind.sh" 2>&1 | tee >(cat >&2) | tail -1)
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 77 ]; then
  if [ "$rc" -eq 0 ]; then echo "e2e (mode: kind): passed"; else echo "e2e (mode: kind): FAILED"; fi
  exit "$rc"
fi
kind_why=${kind_out#skipped: }

missing=()
for tool in kubectl dockerd docker curl go; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ "$(id -u)" -eq 0 ] || missing+=("root (for a private dockerd)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "e2e: skipped: kind mode: $kind_why; emulator mode: ${missing[*]} not available"
  exit 77
fi
echo "e2e: kind mode not possible ($kind_why); running emulator mode"
/usr/bin/python3 "$here/emulator_e2e.py"
rc=$?
if [ "$rc" -eq 0 ]; then echo "e2e (mode: emulator): passed (kind mode: $kind_why)"; else echo "e2e (mode: emulator): FAILED"; fi
exit "$rc"
