#!/usr/bin/env bash
# An HTTP/1.1 upload through gantry (its body streamed to the upstream as
# it arrives) against nginx with proxy_request_buffering off and against
# the upstream directly, same run, interleaved rounds, medians. The
# upstream is an nginx that reads the whole body (in memory) before it
# answers, so the time is the transfer's. Also gantry's RSS after the runs.
#
# Usage: bench/h1_upload.sh [build-dir]   (env: MIB=256 ROUNDS=5)
set -euo pipefail
BUILD=${1:-build}
GANTRY=$(realpath "$BUILD/gantry")
MIB=${MIB:-256}
ROUNDS=${ROUNDS:-5}
. "$(dirname "$0")/lib.sh"
bench_init uploadbench
UP=19320 OK=19321 NG=19322 GA=19323 AD=19324

cat > "$D/nginx.conf" <<EOF
worker_processes 1; daemon off; pid $D/nginx.pid; error_log $D/nginx.err;
events { worker_connections 256; }
http { access_log off; client_max_body_size 0; client_body_temp_path $D/body;
  server { listen 127.0.0.1:$UP; location / { client_body_buffer_size $((MIB + 16))m; proxy_pass http://127.0.0.1:$OK; } }
  server { listen 127.0.0.1:$OK; location / { return 200 "ok\n"; } }
  server { listen 127.0.0.1:$NG; location / { proxy_pass http://127.0.0.1:$UP; proxy_http_version 1.1;
                                               proxy_request_buffering off; } } }
EOF
nginx -p "$D" -c "$D/nginx.conf" -e "$D/nginx.err" & pids+=($!)
cat > "$D/dynamic.yaml" <<EOF
http:
  routers: { up: { rule: "Host(\`up.test\`)", service: up } }
  services: { up: { loadBalancer: { servers: [ { url: "http://127.0.0.1:$UP" } ] } } }
EOF
"$GANTRY" --workers=1 --log.level=ERROR --admin.address=127.0.0.1:$AD \
  --entryPoints.web.address=127.0.0.1:$GA --providers.file.filename="$D/dynamic.yaml" & pids+=($!)
gpid=$!
head -c $((MIB * 1024 * 1024)) /dev/zero > "$D/body"
sleep 1

secs() { # port, extra curl args...
  local port=$1; shift
  curl -s -o /dev/null -w "%{http_code} %{time_total}\n" -H "Host: up.test" -H "Expect:" "$@" \
    --data-binary @"$D/body" "http://127.0.0.1:$port/" | awk '$1 != 200 { exit 1 } { print $2 }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -A r
for _ in $(seq "$ROUNDS"); do
  r[gantry]+="$(secs $GA) "; r[nginx]+="$(secs $NG) "; r[direct]+="$(secs $UP) "
  r[gantry_chunked]+="$(secs $GA -H 'Transfer-Encoding: chunked') "
done
echo "| $MIB MiB upload (HTTP/1.1, curl) | seconds (median of $ROUNDS) | MiB/s |"
echo "|---|---:|---:|"
for k in gantry gantry_chunked nginx direct; do
  v=$(printf '%s\n' ${r[$k]} | median)
  printf "| %s | %s | %.0f |\n" "$k" "$v" "$(echo "$MIB / $v" | bc -l)"
done
echo "gantry VmRSS after the runs: $(awk '/VmRSS/ { print $2, $3 }' /proc/$gpid/status)"
