#!/usr/bin/env bash
# The demo behind `make run`: two whoami upstreams and gantry in front of
# them, in the foreground until Ctrl-C.
set -euo pipefail
bin=${1:-build/gantry}
cd "$(dirname "$0")/.."
py=/usr/bin/python3
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

for port in 9001 9002; do
  "$py" examples/whoami/whoami.py --port "$port" --name "whoami-$port" >/dev/null 2>&1 &
  pids+=($!)
done
# the upstreams listen before gantry's first health check, or it marks them
# down until the next one (5 s later)
for port in 9001 9002; do
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.1; done
done
"$bin" --configFile=examples/demo/gantry.yaml &
pids+=($!)

for _ in $(seq 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: whoami.localhost' http://127.0.0.1:8080/)" = 200 ] && break
  sleep 0.1
done
cat <<'MSG'

  Gantry is running in front of two whoami servers:

    curl -H 'Host: whoami.localhost' http://127.0.0.1:8080/

  Edit examples/demo/dynamic.yaml to change routes live.
  Dashboard: http://127.0.0.1:8081/dashboard/   API: /api/overview   Metrics: /metrics
  Ctrl-C stops everything.

MSG
wait "${pids[-1]}"
