#!/usr/bin/env bash
# What mirroring costs the main traffic: wrk through gantry to an nginx
# upstream with no mirror, one mirror at 100% and two mirrors at 100%
# (each mirror another nginx), and one h2c:// mirror at 100% (an nginx
# HTTP/2 cleartext listener: copies are streams on one connection), same
# run, interleaved rounds, medians.
# Load on CPU 0; gantry and the nginx servers on CPU 1, so every copy's
# work competes with the main requests for the same core.
#
# Usage: bench/mirror_cost.sh [build-dir]   (env: DURATION=5 ROUNDS=3 CONNS=32)
set -euo pipefail
BUILD=${1:-build}
GANTRY=$(realpath "$BUILD/gantry")
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
. "$(dirname "$0")/lib.sh"
bench_init mirrorbench
UP=19300 M1=19301 M2=19302 GA=19303 AD=19304 M3=19305

for port in $UP $M1 $M2; do
  cat > "$D/nginx-$port.conf" <<EOF
worker_processes 1; daemon off; pid $D/$port.pid; error_log $D/$port.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000;
  server { listen 127.0.0.1:$port backlog=4096; location / { return 200 "ok\n"; } } }
EOF
  "${PROXY[@]}" nginx -p "$D" -c "$D/nginx-$port.conf" -e "$D/$port.err" & pids+=($!)
done
cat > "$D/nginx-$M3.conf" <<EOF
worker_processes 1; daemon off; pid $D/$M3.pid; error_log $D/$M3.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000; http2_max_concurrent_streams 1000;
  server { listen 127.0.0.1:$M3 http2 backlog=4096; location / { return 200 "ok\n"; } } }
EOF
"${PROXY[@]}" nginx -p "$D" -c "$D/nginx-$M3.conf" -e "$D/$M3.err" & pids+=($!)
cat > "$D/dynamic.yaml" <<EOF
http:
  routers:
    none: { rule: "Host(\`none.test\`)", service: main }
    one:  { rule: "Host(\`one.test\`)", service: one }
    two:  { rule: "Host(\`two.test\`)", service: two }
    h2c:  { rule: "Host(\`h2c.test\`)", service: h2c }
  services:
    main: { loadBalancer: { servers: [ { url: "http://127.0.0.1:$UP" } ] } }
    m1:   { loadBalancer: { servers: [ { url: "http://127.0.0.1:$M1" } ] } }
    m2:   { loadBalancer: { servers: [ { url: "http://127.0.0.1:$M2" } ] } }
    m3:   { loadBalancer: { servers: [ { url: "h2c://127.0.0.1:$M3" } ] } }
    one:  { mirroring: { service: main, mirrors: [ { name: m1, percent: 100 } ] } }
    two:  { mirroring: { service: main, mirrors: [ { name: m1, percent: 100 }, { name: m2, percent: 100 } ] } }
    h2c:  { mirroring: { service: main, mirrors: [ { name: m3, percent: 100 } ] } }
EOF
"${PROXY[@]}" "$GANTRY" --workers=1 --log.level=ERROR --admin.address=127.0.0.1:$AD \
  --entryPoints.web.address=127.0.0.1:$GA --providers.file.filename="$D/dynamic.yaml" & pids+=($!)
sleep 1

rps() { "${LOAD[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Host: $1" "http://127.0.0.1:$GA/" |
  awk '/Requests\/sec/ { printf "%.0f\n", $2 }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -A r
for _ in $(seq "$ROUNDS"); do
  for h in none one two h2c; do r[$h]+="$(rps $h.test) "; done
done
base=$(printf '%s\n' ${r[none]} | median)
echo "| main traffic | requests/s (median of $ROUNDS × ${DURATION}s, wrk -c$CONNS) | vs no mirror |"
echo "|---|---|---|"
for h in none one two h2c; do
  v=$(printf '%s\n' ${r[$h]} | median)
  case $h in none) label="no mirror" ;; one) label="one mirror at 100%" ;; two) label="two mirrors at 100%" ;;
    h2c) label="one h2c:// mirror at 100%" ;; esac
  awk -v l="$label" -v v="$v" -v b="$base" 'BEGIN { printf "| %s | %d | %.2fx |\n", l, v, v / b }'
done
dropped=$(curl -s "http://127.0.0.1:$AD/metrics" | awk '/^gantry_mirror_dropped_total/ { s += $2 } END { print s + 0 }')
echo
echo "Copies dropped (mirror queue full) during the run: $dropped."
