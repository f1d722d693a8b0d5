#!/usr/bin/env bash
# gRPC unary through Gantry (h2c:// upstream) vs nginx (grpc_pass) vs HAProxy
# (proto h2) to the same upstream, in one run, same worker count: a C++ echo
# server on Debian's libgrpc++ (bench/grpc_echo_server.cc, built here with
# protoc + grpc_cpp_plugin from tests/integration/grpc/echo.proto). The load
# is h2load with a pre-encoded gRPC message (content-type application/grpc,
# te: trailers), clients h2c prior knowledge. h2load counts HTTP 200 as
# success and a gRPC error is an HTTP 200 too, so each proxy is first checked
# with one nghttp call that must end in the trailer grpc-status: 0; a proxy
# that fails it (or a run with errors) is reported "n/a (reason)", not timed.
# The load generator runs on CPU 0, proxies and upstream on CPU 1 (as in
# bench/proxy_compare.sh); runs are interleaved, the median of ROUNDS runs is
# reported with the ratio of Gantry to the best of nginx and HAProxy. The
# "direct" row (no proxy) shows the upstream is not the bottleneck.
#
# Usage: bench/grpc_compare.sh [build-dir]   (env: DURATION=10 ROUNDS=3 CONNS=32 STREAMS=10 WORKERS=1)
set -euo pipefail
BUILD=${1:-build}
GANTRY=$(realpath "$BUILD/gantry")
HERE=$(cd "$(dirname "$0")" && pwd)
PROTO_DIR=$(realpath "$HERE/../tests/integration/grpc")
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
STREAMS=${STREAMS:-10}
WORKERS=${WORKERS:-1}
. "$(dirname "$0")/lib.sh"
bench_init bench
UP=19200 NG=19201 GA=19202 HA=19203

# the upstream, rebuilt when its source or the proto changed (kept in the build dir)
SRV_DIR="$BUILD/bench-grpc"
SRV="$SRV_DIR/grpc_echo_server"
if [ ! -x "$SRV" ] || [ "$HERE/grpc_echo_server.cc" -nt "$SRV" ] || [ "$PROTO_DIR/echo.proto" -nt "$SRV" ]; then
  mkdir -p "$SRV_DIR"
  protoc -I"$PROTO_DIR" --cpp_out="$SRV_DIR" --grpc_out="$SRV_DIR" --plugin=protoc-gen-grpc="$(command -v grpc_cpp_plugin)" \
    "$PROTO_DIR/echo.proto"
  # shellcheck disable=SC2046 # pkg-config's flags are meant to split
  g++ -O2 -std=c++17 -I"$SRV_DIR" "$HERE/grpc_echo_server.cc" "$SRV_DIR/echo.pb.cc" "$SRV_DIR/echo.grpc.pb.cc" \
    $(pkg-config --cflags --libs grpc++ protobuf) -o "$SRV"
fi

# EchoRequest{message: "hello"} in a gRPC frame: flag 0, length 7, then the protobuf
printf '\x00\x00\x00\x00\x07\x0a\x05hello' > "$D/req.bin"
RPC=/gantry.test.Echo/Unary
GRPC_HDRS=(-H 'content-type: application/grpc' -H 'te: trailers')

cat > "$D/nginx.conf" <<EOF
worker_processes $WORKERS; daemon off; pid $D/ng.pid; error_log $D/ng.err;
events { worker_connections 4096; }
http { access_log off; http2_max_concurrent_streams 1000; keepalive_requests 10000000;
  upstream up { server 127.0.0.1:$UP; keepalive 1024; keepalive_requests 10000000; }
  server { listen 127.0.0.1:$NG http2 backlog=4096; location / { grpc_pass grpc://up; } } }
EOF
cat > "$D/dynamic.yaml" <<EOF
http:
  routers:
    grpc: { rule: "PathPrefix(\`/\`)", service: up }
  services:
    up: { loadBalancer: { servers: [ { url: "h2c://127.0.0.1:$UP" } ] } }
EOF
cat > "$D/haproxy.cfg" <<EOF
global
  nbthread $WORKERS
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:$HA proto h2
  default_backend be
backend be
  http-reuse always
  server up 127.0.0.1:$UP proto h2
EOF

"${PROXY[@]}" "$SRV" $UP >"$D/up.log" 2>&1 & pids+=($!)
"${PROXY[@]}" nginx -e "$D/ng.err" -p "$D" -c "$D/nginx.conf" >"$D/ng.log" 2>&1 & pids+=($!)
"${PROXY[@]}" "$GANTRY" --workers="$WORKERS" --log.level=WARN --entryPoints.h2c.address=127.0.0.1:$GA \
  --providers.file.filename="$D/dynamic.yaml" >"$D/gantry.log" 2>&1 & pids+=($!)
gantry_pid=$!
have_haproxy=0
if command -v haproxy >/dev/null; then
  "${PROXY[@]}" haproxy -f "$D/haproxy.cfg" -db >"$D/haproxy.log" 2>&1 & pids+=($!)
  have_haproxy=1
  haproxy_pid=$!
fi
for p in $UP $NG $GA $([ $have_haproxy = 1 ] && echo $HA); do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null && break; sleep 0.05; done
done
sleep 0.5

grpc_check() { # port -> "" when one unary RPC succeeds end to end, else the reason
  local out status grpc
  out=$(nghttp -v -d "$D/req.bin" "${GRPC_HDRS[@]}" "http://127.0.0.1:$1$RPC" 2>&1 | tr -d '\0' || true)
  status=$(grep -a -o ':status: [0-9]*' <<<"$out" | head -1 | awk '{print $2}')
  grpc=$(grep -a -o 'grpc-status: [0-9]*' <<<"$out" | head -1 | awk '{print $2}')
  if [ "$status" = 200 ] && [ "$grpc" = 0 ] && grep -a -q 'recv DATA' <<<"$out"; then return; fi
  if [ -z "$status" ]; then echo "no HTTP/2 response"; return; fi
  echo "HTTP $status, grpc-status ${grpc:-missing}"
}
h2load_rps() { # port -> "<requests/s> <requests>", or "ERR" when any request failed
  local out
  out=$("${LOAD[@]}" h2load -D "$DURATION" -c "$CONNS" -m "$STREAMS" -t 1 -d "$D/req.bin" "${GRPC_HDRS[@]}" \
    "http://127.0.0.1:$1$RPC" 2>&1 || true)
  if ! grep -q " 0 failed, 0 errored" <<<"$out"; then echo "ERR"; return; fi
  awk '/^finished in/ {for (i=1;i<=NF;i++) if ($i ~ /req\/s/) {gsub(",","",$(i-1)); printf "%d", $(i-1)}}
       /^requests:/ {printf " %d", $2}' <<<"$out"
}
proxy_pids() { # name -> the processes doing its work ("" for the upstream alone)
  case $1 in
    nginx) pgrep -P "${pids[1]}" | tr '\n' ' ' ;; # the workers (the master only waits)
    gantry) echo "$gantry_pid" ;;
    haproxy) echo "$haproxy_pid" ;;
  esac
}
median() { grep -v -e '^$' -e ERR | sort -n | awk '{a[NR]=$1} END {if (NR==0) print "-"; else print a[int((NR+1)/2)]}'; }

declare -A PORT=([direct]=$UP [nginx]=$NG [gantry]=$GA [haproxy]=$HA)
declare -A WHY R C
names=(direct nginx haproxy gantry)
[ $have_haproxy = 1 ] || WHY[haproxy]="haproxy not installed"
for n in "${names[@]}"; do
  [ -n "${WHY[$n]:-}" ] && continue
  reason=$(grpc_check "${PORT[$n]}")
  [ -n "$reason" ] && WHY[$n]="$reason"
done
for _ in $(seq "$ROUNDS"); do
  for n in "${names[@]}"; do
    [ -n "${WHY[$n]:-}" ] && continue
    pl=$(proxy_pids "$n")
    # shellcheck disable=SC2086
    c0=$(cpu_ns $pl)
    out=$(h2load_rps "${PORT[$n]}")
    # shellcheck disable=SC2086
    c1=$(cpu_ns $pl)
    if [ "$out" = ERR ]; then R[$n]+="ERR "; C[$n]+="ERR "; continue; fi
    R[$n]+="${out% *} "
    C[$n]+="$(awk -v r="${out#* }" -v t=$((c1 - c0)) 'BEGIN { printf "%d", (t > 0 ? r / (t / 1e9) : 0) }') "
  done
done

cell() { # name [C] -> median req/s (or requests per proxy CPU-second), or n/a (reason)
  local n=$1 m errs v
  if [ -n "${WHY[$n]:-}" ]; then echo "n/a (${WHY[$n]})"; return; fi
  if [ "${2:-}" = C ]; then v=${C[$n]}; else v=${R[$n]}; fi
  m=$(tr ' ' '\n' <<<"$v" | median || true)
  errs=$(grep -o ERR <<<"$v" | wc -l || true)
  if [ "$m" = "-" ]; then echo "n/a (every run had failed requests)"; return; fi
  echo "$m$([ "$errs" -gt 0 ] && echo " ($errs runs with errors)")"
}
num() { awk '{print ($1 ~ /^[0-9]+$/) ? $1 : 0}' <<<"$1"; }
d=$(cell direct) n=$(cell nginx) h=$(cell haproxy) g=$(cell gantry)
best=$(( $(num "$n") > $(num "$h") ? $(num "$n") : $(num "$h") ))
ratio=$(awk -v g="$(num "$g")" -v b="$best" 'BEGIN { if (b > 0 && g > 0) printf "%.2f", g/b; else print "-" }')
echo "| gRPC unary, h2c in and out (median of $ROUNDS x ${DURATION}s, $WORKERS worker each, h2load -c $CONNS -m $STREAMS) | req/s |"
echo "|---|---:|"
echo "| direct to the upstream (no proxy) | $d |"
echo "| nginx grpc_pass | $n |"
echo "| haproxy proto h2 | $h |"
echo "| gantry h2c:// | $g |"
echo "| gantry / best of nginx, haproxy | $ratio |"
echo
# what each proxy costs per call: the upstream shares the proxies' core, so req/s moves by a fraction of a proxy's gain
nc=$(cell nginx C) hc=$(cell haproxy C) gc=$(cell gantry C)
bestc=$(( $(num "$nc") > $(num "$hc") ? $(num "$nc") : $(num "$hc") ))
ratioc=$(awk -v g="$(num "$gc")" -v b="$bestc" 'BEGIN { if (b > 0 && g > 0) printf "%.2f", g/b; else print "-" }')
echo "| gRPC unary, calls per proxy CPU-second (same runs) | calls/CPU-s |"
echo "|---|---:|"
echo "| nginx grpc_pass | $nc |"
echo "| haproxy proto h2 | $hc |"
echo "| gantry h2c:// | $gc |"
echo "| gantry / best of nginx, haproxy | $ratioc |"
echo
echo "RSS after the run (kB): gantry $(ps -o rss= -p "$gantry_pid" || echo gone), nginx $(ps --ppid "${pids[1]}" -o rss= | awk '{s+=$1} END {print s}') (workers) + $(ps -o rss= -p "${pids[1]}") (master)"
