#!/usr/bin/env bash
# TLS passthrough throughput: one large HTTPS download from an nginx TLS
# backend, routed by SNI through gantry (splice relay) and through HAProxy
# in TCP mode (req.ssl_sni), in one run; plus the proxy's CPU time for the
# transfer. Client on CPU 0, proxies and backend on CPU 1.
#
# Usage: bench/tcp_passthrough.sh [build-dir]   (env: SIZE_MB=512 ROUNDS=3)
set -euo pipefail
BUILD=${1:-build}
GANTRY=$(realpath "$BUILD/gantry")
SIZE_MB=${SIZE_MB:-512}
ROUNDS=${ROUNDS:-3}
. "$(dirname "$0")/lib.sh"
bench_init tcpbench
chmod 755 "$D"
BE=19200 GA=19201 HA=19202

head -c $((SIZE_MB << 20)) /dev/urandom > "$D/big"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=big.test \
  -addext subjectAltName=DNS:big.test -days 1 -keyout "$D/key.pem" -out "$D/cert.pem" 2>/dev/null
cat > "$D/backend.conf" <<EOF
worker_processes 1; daemon off; pid $D/be.pid; error_log $D/be.err; user root;
events { worker_connections 1024; }
http { access_log off; sendfile on;
  server { listen 127.0.0.1:$BE ssl; ssl_certificate $D/cert.pem; ssl_certificate_key $D/key.pem;
           location = /big { alias $D/big; } } }
EOF
cat > "$D/dynamic.yaml" <<EOF
tcp:
  routers:
    big: { rule: "HostSNI(\`big.test\`)", service: be, tls: { passthrough: true } }
  services:
    be: { loadBalancer: { servers: [ { address: "127.0.0.1:$BE" } ] } }
EOF
cat > "$D/haproxy.cfg" <<EOF
global
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend tls
  bind 127.0.0.1:$HA
  tcp-request inspect-delay 5s
  tcp-request content accept if { req.ssl_hello_type 1 }
  use_backend be if { req.ssl_sni -i big.test }
backend be
  server s1 127.0.0.1:$BE
EOF
"${PROXY[@]}" nginx -p "$D" -c "$D/backend.conf" -e "$D/be.err" & pids+=($!)
"${PROXY[@]}" "$GANTRY" --workers=1 --log.level=ERROR --admin.address= --entryPoints.tls.address=127.0.0.1:$GA \
  --providers.file.filename="$D/dynamic.yaml" & pids+=($!); gantry_pid=$!
have_haproxy=0
if command -v haproxy >/dev/null; then
  "${PROXY[@]}" haproxy -f "$D/haproxy.cfg" -db >"$D/haproxy.log" 2>&1 & pids+=($!); haproxy_pid=$!; have_haproxy=1
fi
sleep 1

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
run() { # port pid -> "MB/s cpu_seconds"
  local before after t
  before=$(cpu "$2")
  t=$("${LOAD[@]}" curl -sk -o /dev/null -w '%{time_total}' --resolve "big.test:$1:127.0.0.1" "https://big.test:$1/big")
  after=$(cpu "$2")
  awk -v mb="$SIZE_MB" -v t="$t" -v c=$((after - before)) -v k="$tick" 'BEGIN { printf "%.0f %.2f\n", mb * 1.048576 / t, c / k }'
}
direct() { "${LOAD[@]}" curl -sk -o /dev/null -w '%{time_total}' --resolve "big.test:$BE:127.0.0.1" "https://big.test:$BE/big" |
  awk -v mb="$SIZE_MB" '{ printf "%.0f\n", mb * 1.048576 / $1 }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

g_rate=(); g_cpu=(); h_rate=(); h_cpu=(); d_rate=()
for _ in $(seq "$ROUNDS"); do
  d_rate+=("$(direct)")
  read -r r c < <(run $GA $gantry_pid); g_rate+=("$r"); g_cpu+=("$c")
  if [ $have_haproxy = 1 ]; then read -r r c < <(run $HA $haproxy_pid); h_rate+=("$r"); h_cpu+=("$c"); fi
done
gr=$(printf '%s\n' "${g_rate[@]}" | median); gc=$(printf '%s\n' "${g_cpu[@]}" | median)
dr=$(printf '%s\n' "${d_rate[@]}" | median)
echo "| path | MB/s (median of $ROUNDS × $SIZE_MB MiB) | proxy CPU seconds per transfer |"
echo "|---|---|---|"
echo "| direct to the backend (no proxy) | $dr | — |"
echo "| gantry, SNI passthrough (splice) | $gr | $gc |"
if [ $have_haproxy = 1 ]; then
  hr=$(printf '%s\n' "${h_rate[@]}" | median); hc=$(printf '%s\n' "${h_cpu[@]}" | median)
  echo "| HAProxy $(haproxy -v | head -1 | awk '{print $3}'), mode tcp, req.ssl_sni | $hr | $hc |"
fi
