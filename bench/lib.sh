# Sourced by the side-by-side benchmarks, after `set -euo pipefail`.

# bench_init <name>: a run directory $D, removed at exit with every process
# whose pid is in $pids; the load generator runs under "${LOAD[@]}" on CPU 0,
# proxies and upstreams under "${PROXY[@]}" on CPU 1 (arrays, not functions:
# "$!" after one must be the server's own pid), so that the proxies
# compete for the same core (neither is pinned on a 1-CPU machine).
bench_init() {
  D=$(mktemp -d "/tmp/gantry-$1.XXXXXX")
  pids=()
  trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$D"' EXIT
  if [ "$(nproc)" -gt 1 ]; then LOAD=(taskset -c 0); PROXY=(taskset -c 1); else LOAD=(); PROXY=(); fi
}

# Requests per CPU-second of a proxy's own processes (schedstat, ns): what
# a proxy costs per request, which other load on the machine disturbs much
# less than requests/s (its time waiting for a CPU does not count), and
# which an upstream sharing the proxy's core does not move.
cpu_ns() { # pids... -> CPU time of them and all their threads
  local s=0 p t
  for p in "$@"; do
    for t in /proc/"$p"/task/*/schedstat; do s=$((s + $(cut -d' ' -f1 "$t" 2>/dev/null || echo 0))); done
  done
  echo "$s"
}
