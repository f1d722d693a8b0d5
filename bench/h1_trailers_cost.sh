#!/usr/bin/env bash
# What Gantry's own chunked framing for HTTP/1.1 clients that sent
# "TE: trailers" (h1_trailers.c) costs against libh2o's chunked encoder:
# wrk through gantry to nginx (h2c:// upstream, gzip on: a response of
# unknown length, chunked to the client either way), with and without the
# header. Same run, interleaved rounds, medians. Load on CPU 0; gantry and
# nginx on CPU 1.
#
# Usage: bench/h1_trailers_cost.sh [build-dir]   (env: DURATION=5 ROUNDS=3 CONNS=32)
set -euo pipefail
BUILD=${1:-build}
GANTRY=$(realpath "$BUILD/gantry")
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
. "$(dirname "$0")/lib.sh"
bench_init h1trbench
H2=19331 GA=19333 AD=19334

chmod 755 "$D"
head -c 4096 /dev/zero | tr '\0' 'x' > "$D/4k.txt"; chmod 644 "$D/4k.txt"
cat > "$D/nginx.conf" <<EOF
worker_processes 1; daemon off; pid $D/nginx.pid; error_log $D/nginx.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000; http2_max_concurrent_streams 1000;
  gzip on; gzip_min_length 0; gzip_types text/plain; default_type text/plain;
  server { listen 127.0.0.1:$H2 http2 backlog=4096; root $D; } }
EOF
"${PROXY[@]}" nginx -p "$D" -c "$D/nginx.conf" -e "$D/nginx.err" & pids+=($!)
cat > "$D/dynamic.yaml" <<EOF
http:
  routers:
    r: { rule: "Host(\`t.test\`)", service: s }
  services:
    s: { loadBalancer: { servers: [ { url: "h2c://127.0.0.1:$H2" } ] } }
EOF
"${PROXY[@]}" "$GANTRY" --workers=1 --log.level=ERROR --admin.address=127.0.0.1:$AD \
  --entryPoints.web.address=127.0.0.1:$GA --providers.file.filename="$D/dynamic.yaml" & pids+=($!)
sleep 1
# both ways chunked (gzip: no length); with TE: trailers Gantry frames it
curl -sf --raw -H "Host: t.test" -H "Accept-Encoding: gzip" -H "TE: trailers" -D - -o /dev/null "http://127.0.0.1:$GA/4k.txt" |
  grep -qi "transfer-encoding: chunked" || { echo "not chunked" >&2; exit 1; }

rps() { "${LOAD[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "Host: t.test" -H "Accept-Encoding: gzip" "$@" \
  "http://127.0.0.1:$GA/4k.txt" | awk '/Requests\/sec/ { printf "%.0f\n", $2 }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
plain="" te=""
for _ in $(seq "$ROUNDS"); do
  plain+="$(rps) "
  te+="$(rps -H 'TE: trailers') "
done
a=$(printf '%s\n' $plain | median)
b=$(printf '%s\n' $te | median)
echo "| HTTP/1.1 clients, h2c upstream, gzip 4 KiB | libh2o chunked req/s | TE: trailers (h1_trailers.c) req/s | ratio |"
echo "|---|---:|---:|---:|"
awk -v a="$a" -v b="$b" 'BEGIN { printf "| wrk -c%s | %d | %d | %.2f |\n", '"$CONNS"', a, b, b / a }'
echo
echo "(median of $ROUNDS × ${DURATION}s, $CONNS client connections, 1 worker)"
