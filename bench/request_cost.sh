#!/usr/bin/env bash
# What one proxied request costs the proxy: user-space instructions
# (valgrind --tool=callgrind, counted only while the load runs) and
# system calls (strace -c -f), Gantry vs nginx vs HAProxy, the same nginx
# upstream (`return 200`), one worker each. Deterministic enough to compare
# commits on a busy machine, unlike req/s.
#   h1:   N sequential keep-alive HTTP/1.1 requests (h2load --h1 -c 1)
#   h2c:  N HTTP/2 requests, 4 connections x 10 streams (h2load -c 4 -m 10)
#   grpc: N unary gRPC calls over h2c to an h2c gRPC server (Gantry, nginx grpc_pass, HAProxy proto h2)
# Usage: bench/request_cost.sh [build-dir]   (env: N=20000 MODES="h1 h2c grpc")
set -euo pipefail
BUILD=${1:-build}
GANTRY=$(realpath "$BUILD/gantry")
HERE=$(cd "$(dirname "$0")" && pwd)
N=${N:-20000}
MODES=${MODES:-h1 h2c grpc}
. "$(dirname "$0")/lib.sh"
bench_init cost
chmod 755 "$D"
# free ports from the kernel (other benchmarks and tests may hold fixed ones)
read -r UP GUP PORT ADMIN < <(/usr/bin/python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
for t in valgrind callgrind_control strace h2load nginx; do
  command -v $t >/dev/null || { echo "request_cost: $t not installed, skipped"; exit 0; }
done

cat > "$D/upstream.conf" <<X
worker_processes 1; daemon off; pid $D/up.pid; error_log $D/up.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000;
  server { listen 127.0.0.1:$UP backlog=4096; location / { return 200 "ok\n"; } } }
X
nginx -e "$D/up.err" -p "$D" -c "$D/upstream.conf" >/dev/null 2>&1 & pids+=($!)
have_grpc=0
if [[ " $MODES " == *" grpc "* ]]; then
  SRV="$BUILD/bench-grpc/grpc_echo_server"
  if [ ! -x "$SRV" ]; then # grpc_compare.sh builds it
    DURATION=1 ROUNDS=1 bash "$HERE/grpc_compare.sh" "$BUILD" >/dev/null 2>&1 || true
  fi
  if [ -x "$SRV" ]; then "$SRV" $GUP >"$D/grpc.log" 2>&1 & pids+=($!); have_grpc=1; fi
  printf '\x00\x00\x00\x00\x07\x0a\x05hello' > "$D/req.bin"
fi

# config per proxy and mode: the upstream is h2c for grpc
write_configs() { # $1 mode
  local up="http://127.0.0.1:$UP" ngx_loc="proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\";" \
        ngx_listen="listen 127.0.0.1:$PORT;" hap_bind="bind 127.0.0.1:$PORT" hap_srv="server up 127.0.0.1:$UP"
  [ "$1" = h2c ] && { ngx_listen="listen 127.0.0.1:$PORT http2;"; hap_bind="bind 127.0.0.1:$PORT proto h2"; }
  if [ "$1" = grpc ]; then
    up="h2c://127.0.0.1:$GUP"; ngx_listen="listen 127.0.0.1:$PORT http2;"; ngx_loc="grpc_pass grpc://gup;"
    hap_bind="bind 127.0.0.1:$PORT proto h2"; hap_srv="server up 127.0.0.1:$GUP proto h2"
  fi
  cat > "$D/dynamic.yaml" <<X
http:
  routers: { r: { rule: "PathPrefix(\`/\`)", service: up } }
  services: { up: { loadBalancer: { servers: [ { url: "$up" } ] } } }
X
  cat > "$D/proxy.conf" <<X
worker_processes 1; daemon off; master_process off; pid $D/px.pid; error_log $D/px.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000; http2_max_concurrent_streams 1000;
  upstream up { server 127.0.0.1:$UP; keepalive 256; }
  upstream gup { server 127.0.0.1:$GUP; keepalive 256; }
  server { $ngx_listen location / { $ngx_loc } } }
X
  cat > "$D/haproxy.cfg" <<X
global
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend fe
  $hap_bind
  default_backend be
backend be
  http-reuse always
  $hap_srv
X
}

load() { # $1 mode, $2 count
  case $1 in
    h1) h2load --h1 -c 1 -n "$2" "http://127.0.0.1:$PORT/" ;;
    h2c) h2load -c 4 -m 10 -n "$2" "http://127.0.0.1:$PORT/" ;;
    grpc) h2load -c 4 -m 10 -n "$2" -d "$D/req.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
            "http://127.0.0.1:$PORT/gantry.test.Echo/Unary" ;;
  esac
}

proxy_cmd() { # $1 proxy
  case $1 in
    gantry) echo "$GANTRY --workers=1 --log.level=WARN --admin.address=127.0.0.1:$ADMIN --entryPoints.web.address=127.0.0.1:$PORT --providers.file.filename=$D/dynamic.yaml" ;;
    nginx) echo "nginx -e $D/px.err -p $D -c $D/proxy.conf" ;;
    haproxy) echo "haproxy -f $D/haproxy.cfg" ;;
  esac
}

wait_ready() { # $1 mode
  for _ in $(seq 1 100); do
    if load "$1" 10 2>/dev/null | grep -q "10 succeeded"; then return 0; fi
    sleep 0.3
  done
  return 1
}

instructions() { # $1 proxy, $2 mode -> instructions per request
  # shellcheck disable=SC2046 # the command line splits on purpose
  valgrind --tool=callgrind --callgrind-out-file="$D/cg.out" --instr-atstart=no $(proxy_cmd "$1") >"$D/vg.log" 2>&1 &
  local pid=$!
  wait_ready "$2" || { kill $pid; wait $pid 2>/dev/null; echo "n/a"; return; }
  load "$2" 1000 >/dev/null 2>&1
  callgrind_control -i on $pid >/dev/null 2>&1
  local ok; ok=$(load "$2" "$N" | awk '/^requests:/{print $8}')
  callgrind_control -i off $pid >/dev/null 2>&1
  kill -INT $pid 2>/dev/null || true; kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  local total; total=$(callgrind_annotate "$D"/cg.out* 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); s+=$1} END{print s+0}')
  rm -f "$D"/cg.out*
  [ "$ok" = "$N" ] || { echo "n/a"; return; }
  echo $(( total / N ))
}

syscalls() { # $1 proxy, $2 mode -> system calls per request, and the top three
  # shellcheck disable=SC2046
  $(proxy_cmd "$1") >"$D/px.log" 2>&1 &
  local pid=$!
  wait_ready "$2" || { kill $pid; wait $pid 2>/dev/null; echo "n/a"; return; }
  load "$2" 1000 >/dev/null 2>&1
  strace -c -f -p $pid -o "$D/st.txt" 2>/dev/null &
  local sp=$!
  sleep 1
  load "$2" "$N" >/dev/null
  sleep 0.5
  kill -INT $sp; wait $sp 2>/dev/null || true
  kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  # strace -c columns: % time, seconds, usecs/call, calls, [errors], syscall
  local rows; rows=$(awk -v n="$N" '$1 ~ /^[0-9.]+$/ && $NF != "total" { printf "%s %.3f\n", $NF, $4 / n }' "$D/st.txt" | sort -k2 -rn)
  local total; total=$(echo "$rows" | awk '{s += $2} END {printf "%.2f", s}')
  echo "$total ($(echo "$rows" | awk '$2 >= 0.05 {printf "%s%s %.2f", (k++ ? ", " : ""), $1, $2}'))"
}

echo "| mode | proxy | instructions / request | system calls / request |"
echo "|---|---|---:|---|"
for mode in $MODES; do
  [ "$mode" = grpc ] && [ $have_grpc = 0 ] && { echo "| grpc | (no gRPC server built) | | |"; continue; }
  write_configs "$mode"
  for px in gantry nginx haproxy; do
    command -v "$px" >/dev/null || [ "$px" = gantry ] || continue
    echo "| $mode | $px | $(instructions $px "$mode") | $(syscalls $px "$mode") |"
  done
done
echo
echo "(N=$N requests; h1 sequential on one connection, h2c/grpc 4 connections x 10 streams; command: bench/request_cost.sh $BUILD)"
