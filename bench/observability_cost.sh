#!/usr/bin/env bash
# What access logs and metrics cost: the same gantry build, one worker, the
# same nginx upstream, with and without an access log (to a file) and a
# /metrics scrape every second; runs interleaved, medians reported.
# Request statistics are always counted (they feed /metrics and the API).
# Usage: bench/observability_cost.sh [build-dir]   (env: DURATION=10 ROUNDS=3)
set -euo pipefail
BUILD=${1:-build}
GANTRY=$(realpath "$BUILD/gantry")
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
. "$(dirname "$0")/lib.sh"
bench_init obs
chmod 755 "$D"
UP=19300 PLAIN=19301 OBS=19302 ADMIN1=19303 ADMIN2=19304

cat > "$D/upstream.conf" <<CONF
worker_processes 1; daemon off; pid $D/up.pid; error_log $D/up.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000; server { listen 127.0.0.1:$UP backlog=4096; location / { return 200 "ok\n"; } } }
CONF
cat > "$D/dynamic.yaml" <<CONF
http:
  routers: { bench: { rule: "Host(\`bench.test\`)", service: up } }
  services: { up: { loadBalancer: { servers: [ { url: "http://127.0.0.1:$UP" } ] } } }
CONF
"${PROXY[@]}" nginx -e "$D/up.err" -p "$D" -c "$D/upstream.conf" >/dev/null 2>&1 & pids+=($!)
common=(--workers=1 --log.level=WARN --providers.file.filename="$D/dynamic.yaml")
"${PROXY[@]}" "$GANTRY" "${common[@]}" --entryPoints.web.address=127.0.0.1:$PLAIN --admin.address=127.0.0.1:$ADMIN1 \
  >"$D/plain.log" 2>&1 & pids+=($!)
"${PROXY[@]}" "$GANTRY" "${common[@]}" --entryPoints.web.address=127.0.0.1:$OBS --admin.address=127.0.0.1:$ADMIN2 \
  --accessLog.filePath="$D/access.log" >"$D/obs.log" 2>&1 & pids+=($!)
for p in $UP $PLAIN $OBS $ADMIN2; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.05; done
done
sleep 0.5
rps() { "${LOAD[@]}" wrk -t1 -c64 -d"${DURATION}s" -H 'Host: bench.test' "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {printf "%d", $2}'; }
scrape() { for _ in $(seq "$DURATION"); do curl -s -o /dev/null "http://127.0.0.1:$ADMIN2/metrics"; sleep 1; done; }
plain=() obs=()
for _ in $(seq "$ROUNDS"); do
  plain+=("$(rps $PLAIN)")
  scrape & sp=$!
  obs+=("$(rps $OBS)")
  wait $sp
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p=$(median "${plain[@]}") o=$(median "${obs[@]}")
echo "| gantry, 1 worker, wrk -c64 (median of $ROUNDS x ${DURATION}s) | req/s | relative |"
echo "|---|---:|---:|"
echo "| no access log, no scraping | $p | 1.00 |"
awk -v o="$o" -v p="$p" 'BEGIN { printf "| access log to a file + /metrics scraped every second | %d | %.3f |\n", o, o/p }'
echo
echo "access log lines written: $(wc -l < "$D/access.log")"
