#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for a bounded time, over its
# committed seed corpus (tests/fuzz/corpus/<target>), and prints a table.
# New inputs go to a scratch directory, never into the repository; a crash
# leaves its input there and fails the run. A scratch directory of its own
# (no WORK_DIR given) is removed when every target passes, so that `make test`
# leaves /tmp as it found it, and kept, its path printed, when one fails; a
# WORK_DIR given (to keep a long run's grown corpora) is always kept.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS_PER_TARGET [WORK_DIR]
set -euo pipefail
build=${1:?build dir}; secs=${2:?seconds}; work=${3:-}
root="$(cd "$(dirname "$0")/.." && pwd)"
targets=$(cd "$build" && ls fuzz_* 2>/dev/null | sort || true) # none: the message below, not a silent set -e exit
[ -n "$targets" ] || { echo "fuzz: no fuzz_* targets in $build" >&2; exit 1; }
own_work=0
if [ -z "$work" ]; then work=$(mktemp -d "${TMPDIR:-/tmp}/gantry-fuzz.XXXXXX"); own_work=1; fi
failed=0
printf '%-22s %10s %8s %8s %8s  %s\n' target runs exec/s cov corpus result
for t in $targets; do
  name=${t#fuzz_}
  mkdir -p "$work/$name"
  log="$work/$name.log"
  set +e
  "$build/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/$name-" "$work/$name" "$root/tests/fuzz/corpus/$name" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  eps=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
  corpus=$(( $(ls "$work/$name" | wc -l) + $(ls "$root/tests/fuzz/corpus/$name" | wc -l) ))
  if [ $rc -eq 0 ]; then result=ok; else result="FAILED (rc $rc, see $log)"; failed=1; fi
  printf '%-22s %10s %8s %8s %8s  %s\n' "$name" "$runs" "$eps" "$cov" "$corpus" "$result"
  if [ $rc -ne 0 ]; then grep -A30 -m1 'ERROR\|runtime error\|deadly signal' "$log" | head -40 >&2 || true; fi
done
if [ $failed -eq 0 ] && [ $own_work -eq 1 ]; then
  rm -rf "$work"
  echo "fuzz: ${secs}s per target"
else
  echo "fuzz: ${secs}s per target; inputs and logs kept in $work"
fi
exit $failed
