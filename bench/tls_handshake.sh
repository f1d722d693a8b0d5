#!/usr/bin/env bash
# TLS handshakes per second: Gantry vs nginx vs HAProxy in one run, one
# worker each, ECDSA P-256 and RSA-2048 certificates, full handshakes (TLS
# 1.3) and resumed ones (TLS 1.2 session tickets). Pinned like
# proxy_compare.sh: load on CPU 0, servers on CPU 1; rounds interleaved,
# medians reported.
#
# Load generator: `openssl s_time` (-new: a full handshake per connection,
# then close; -reuse: one full handshake, then every connection resumes its
# session). It measures the handshake alone (no HTTP request), and it is a
# sequential client, so CLIENTS copies run in parallel. On a shared 2-core
# machine the client can be the bottleneck (it verifies every ECDSA
# signature, which costs more than making it), so two numbers are reported:
#   - handshakes/s seen by the clients (wall clock; depends on the client
#     and on the other load on the machine), and
#   - handshakes per server CPU-second: the handshakes done divided by the
#     CPU time the server's processes used meanwhile (/proc/<pid>/task/*/
#     schedstat, ns), which measures the server alone and is what the goal is
#     about. Noise from other processes on CPU 1 does not enter it.
# s_time sends no SNI, so each server serves one certificate per port (Gantry
# through tls.stores.default.defaultCertificate, one process per
# certificate type; only the one under load uses CPU). It cannot resume
# TLS 1.3 sessions (it never reads, so the NewSessionTicket that TLS 1.3
# sends after the handshake is not processed): resumption is measured with
# TLS 1.2 tickets.
#
# Usage: bench/tls_handshake.sh [build-dir]   (env: DURATION=8 ROUNDS=3 CLIENTS=2)
set -euo pipefail
BUILD=${1:-build}
GANTRY=$(realpath "$BUILD/gantry")
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-2}
. "$(dirname "$0")/lib.sh"
bench_init tlsbench
chmod 755 "$D"
NG_EC=19201 NG_RSA=19202 GA_EC=19203 GA_RSA=19204 HA_EC=19205 HA_RSA=19206 ADM_EC=19207 ADM_RSA=19208

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench.test \
  -addext subjectAltName=DNS:bench.test -days 1 -keyout "$D/ec.key" -out "$D/ec.crt" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=bench.test \
  -addext subjectAltName=DNS:bench.test -days 1 -keyout "$D/rsa.key" -out "$D/rsa.crt" 2>/dev/null
cat "$D/ec.crt" "$D/ec.key" > "$D/ec.pem"
cat "$D/rsa.crt" "$D/rsa.key" > "$D/rsa.pem"

# Each server with its defaults for sessions: tickets on (nginx and HAProxy
# by default; Gantry: OpenSSL's default), TLS 1.2 and 1.3.
cat > "$D/nginx.conf" <<EOF
worker_processes 1; daemon off; pid $D/ng.pid; error_log $D/ng.err;
events { worker_connections 4096; }
http { access_log off;
  server { listen 127.0.0.1:$NG_EC ssl backlog=4096; ssl_certificate $D/ec.crt; ssl_certificate_key $D/ec.key;
           ssl_protocols TLSv1.2 TLSv1.3; location / { return 200 "ok\n"; } }
  server { listen 127.0.0.1:$NG_RSA ssl backlog=4096; ssl_certificate $D/rsa.crt; ssl_certificate_key $D/rsa.key;
           ssl_protocols TLSv1.2 TLSv1.3; location / { return 200 "ok\n"; } } }
EOF
cat > "$D/haproxy.cfg" <<EOF
global
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend ec
  bind 127.0.0.1:$HA_EC ssl crt $D/ec.pem
  http-request return status 200 content-type text/plain string ok
frontend rsa
  bind 127.0.0.1:$HA_RSA ssl crt $D/rsa.pem
  http-request return status 200 content-type text/plain string ok
EOF
for t in ec rsa; do
  cat > "$D/gantry-$t.yaml" <<EOF
http:
  routers:
    bench: { rule: "Host(\`bench.test\`)", service: up, tls: {} }
  services:
    up: { loadBalancer: { servers: [ { url: "http://127.0.0.1:9" } ] } }
tls:
  stores:
    default:
      defaultCertificate: { certFile: $D/$t.crt, keyFile: $D/$t.key }
EOF
done

"${PROXY[@]}" nginx -e "$D/ng.err" -p "$D" -c "$D/nginx.conf" >"$D/ng.log" 2>&1 & pids+=($!)
nginx_master=$!
"${PROXY[@]}" haproxy -f "$D/haproxy.cfg" -db >"$D/haproxy.log" 2>&1 & pids+=($!)
haproxy_pid=$!
"${PROXY[@]}" "$GANTRY" --workers=1 --log.level=WARN --admin.address=127.0.0.1:$ADM_EC --entryPoints.tls.address=127.0.0.1:$GA_EC \
  --providers.file.filename="$D/gantry-ec.yaml" >"$D/gantry-ec.log" 2>&1 & pids+=($!)
gantry_ec=$!
"${PROXY[@]}" "$GANTRY" --workers=1 --log.level=WARN --admin.address=127.0.0.1:$ADM_RSA --entryPoints.tls.address=127.0.0.1:$GA_RSA \
  --providers.file.filename="$D/gantry-rsa.yaml" >"$D/gantry-rsa.log" 2>&1 & pids+=($!)
gantry_rsa=$!
for p in $NG_EC $NG_RSA $GA_EC $GA_RSA $HA_EC $HA_RSA; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.05; done
done
sleep 0.5
# Gantry serves the store's certificate (not its generated one) on both ports
for p in $GA_EC $GA_RSA; do
  openssl s_client -connect 127.0.0.1:$p </dev/null 2>/dev/null | grep -q "CN = bench.test" ||
    { echo "gantry on $p does not serve the bench certificate" >&2; cat "$D"/gantry-*.log >&2; exit 1; }
done

cpu_ns() { # pids... -> CPU time of them and all their threads, in ns (schedstat: ns resolution, not 10 ms ticks)
  local s=0 p t
  for p in "$@"; do
    for t in /proc/"$p"/task/*/schedstat; do s=$((s + $(cut -d' ' -f1 "$t"))); done
  done
  echo "$s"
}
server_pids() { # server -> the processes doing its work
  case $1 in
    nginx) pgrep -P "$nginx_master" | tr '\n' ' ' ;; # the worker (the master only waits)
    haproxy) echo "$haproxy_pid" ;;
    gantry-ec) echo "$gantry_ec" ;;
    gantry-rsa) echo "$gantry_rsa" ;;
  esac
}

# one measurement: prints "<handshakes/s wall> <handshakes per server CPU-s>"
measure() { # server port mode(new|reuse)
  local server=$1 port=$2 mode=$3 extra=() pidlist c0 c1 total=0 n i
  [ "$mode" = reuse ] && extra=(-tls1_2)
  pidlist=$(server_pids "$server")
  # shellcheck disable=SC2086
  c0=$(cpu_ns $pidlist)
  for i in $(seq "$CLIENTS"); do
    "${LOAD[@]}" openssl s_time -connect 127.0.0.1:$port "-$mode" "${extra[@]}" -time "$DURATION" >"$D/st.$i" 2>&1 &
  done
  wait_clients
  # shellcheck disable=SC2086
  c1=$(cpu_ns $pidlist)
  for i in $(seq "$CLIENTS"); do
    n=$(awk '/connections in [0-9]+ real seconds/ {print $1}' "$D/st.$i" | tail -1)
    total=$((total + ${n:-0}))
  done
  awk -v n="$total" -v d="$DURATION" -v t=$((c1 - c0)) \
    'BEGIN { printf "%d %d\n", n / d, (t > 0 ? n / (t / 1e9) : 0) }'
}
wait_clients() { # the s_time jobs only (the servers are jobs of this shell too)
  local j
  for j in $(jobs -p); do
    case " ${pids[*]} " in *" $j "*) ;; *) wait "$j" || true ;; esac
  done
}
median() { grep -v -e '^$' | sort -n | awk '{a[NR]=$1} END {if (NR==0) print "-"; else print a[int((NR+1)/2)]}'; }

declare -A W C
cases=("ecdsa-full" "rsa-full" "ecdsa-resumed" "rsa-resumed")
port_of() { # server case -> port
  local s=$1 c=$2
  case "$s,$c" in
    nginx,ecdsa*) echo $NG_EC ;; nginx,rsa*) echo $NG_RSA ;;
    haproxy,ecdsa*) echo $HA_EC ;; haproxy,rsa*) echo $HA_RSA ;;
    gantry,ecdsa*) echo $GA_EC ;; gantry,rsa*) echo $GA_RSA ;;
  esac
}
for round in $(seq "$ROUNDS"); do
  for c in "${cases[@]}"; do
    mode=new; [[ $c == *resumed ]] && mode=reuse
    for s in nginx gantry haproxy; do
      who=$s; [ "$s" = gantry ] && who=gantry-${c%%-*}; who=${who/ecdsa/ec}
      read -r w cpu < <(measure "$who" "$(port_of "$s" "$c")" "$mode")
      W[$s,$c]+="$w "
      C[$s,$c]+="$cpu "
      echo "round $round $c $s: $w/s wall, $cpu per server CPU-s" >&2
    done
  done
done

echo "| case (median of $ROUNDS x ${DURATION}s, $CLIENTS clients, 1 worker) | nginx | gantry | haproxy | gantry/nginx |"
echo "|---|---:|---:|---:|---:|"
for c in "${cases[@]}"; do
  for k in C W; do
    declare -n M=$k
    n=$(tr ' ' '\n' <<<"${M[nginx,$c]}" | median)
    g=$(tr ' ' '\n' <<<"${M[gantry,$c]}" | median)
    h=$(tr ' ' '\n' <<<"${M[haproxy,$c]}" | median)
    ratio=$(awk -v g="$g" -v n="$n" 'BEGIN { if (n+0 > 0 && g+0 > 0) printf "%.2f", g/n; else print "-" }')
    label=$([ $k = C ] && echo "handshakes per server CPU-s" || echo "handshakes/s (wall)")
    echo "| $c, $label | $n | $g | $h | $ratio |"
    unset -n M
  done
done
