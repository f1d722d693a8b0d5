#!/usr/bin/env bash
# What an HTTP/2 upstream costs per request against an HTTP/1.1 one: h2load
# (h2c clients) and wrk (HTTP/1.1 clients) through gantry to the same nginx,
# once over its HTTP/1.1 keep-alive listener and once over its cleartext
# HTTP/2 listener (h2c:// server, prior knowledge). Same run, interleaved
# rounds, medians. Load on CPU 0; gantry and nginx on CPU 1.
#
# Usage: bench/h2_upstream_cost.sh [build-dir]   (env: DURATION=5 ROUNDS=3 CONNS=32)
set -euo pipefail
BUILD=${1:-build}
GANTRY=$(realpath "$BUILD/gantry")
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
. "$(dirname "$0")/lib.sh"
bench_init h2upbench
H1=19320 H2=19321 GA=19323 AD=19324

cat > "$D/nginx.conf" <<EOF
worker_processes 1; daemon off; pid $D/nginx.pid; error_log $D/nginx.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000; http2_max_requests 10000000; http2_max_concurrent_streams 1000;
  server { listen 127.0.0.1:$H1 backlog=4096; location / { return 200 "ok\n"; } }
  server { listen 127.0.0.1:$H2 http2 backlog=4096; location / { return 200 "ok\n"; } } }
EOF
"${PROXY[@]}" nginx -p "$D" -c "$D/nginx.conf" -e "$D/nginx.err" & pids+=($!)
cat > "$D/dynamic.yaml" <<EOF
http:
  routers:
    h1: { rule: "Host(\`h1.test\`)", service: h1 }
    h2: { rule: "Host(\`h2.test\`)", service: h2 }
  services:
    h1: { loadBalancer: { servers: [ { url: "http://127.0.0.1:$H1" } ] } }
    h2: { loadBalancer: { servers: [ { url: "h2c://127.0.0.1:$H2" } ] } }
EOF
"${PROXY[@]}" "$GANTRY" --workers=1 --log.level=ERROR --admin.address=127.0.0.1:$AD \
  --entryPoints.web.address=127.0.0.1:$GA --providers.file.filename="$D/dynamic.yaml" & pids+=($!)
sleep 1
curl -sf -H "Host: h2.test" "http://127.0.0.1:$GA/" > /dev/null || { echo "h2c upstream not reachable" >&2; exit 1; }

h2rps() { "${LOAD[@]}" h2load -c"$CONNS" -m10 -D"$DURATION" -H ":authority: $1" "http://127.0.0.1:$GA/" |
  awk '/^finished in/ { gsub(",", "", $4); printf "%.0f\n", $4 } /^requests:/ { if ($10 + 0 != 0) print "FAILED " $10 > "/dev/stderr" }'; }
h1rps() { "${LOAD[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Host: $1" "http://127.0.0.1:$GA/" |
  awk '/Requests\/sec/ { printf "%.0f\n", $2 }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -A r
for _ in $(seq "$ROUNDS"); do
  for u in h1 h2; do
    r[h2c-$u]+="$(h2rps $u.test) "
    r[http1-$u]+="$(h1rps $u.test) "
  done
done
echo "| clients | HTTP/1.1 upstream req/s | HTTP/2 (h2c) upstream req/s | h2 / h1 |"
echo "|---|---:|---:|---:|"
for c in h2c http1; do
  a=$(printf '%s\n' ${r[$c-h1]} | median)
  b=$(printf '%s\n' ${r[$c-h2]} | median)
  awk -v c="$c" -v a="$a" -v b="$b" 'BEGIN { printf "| %s (%s) | %d | %d | %.2f |\n", c, c == "h2c" ? "h2load -m10" : "wrk", a, b, b / a }'
done
echo
echo "(median of $ROUNDS × ${DURATION}s, $CONNS client connections, 1 worker)"
