#!/usr/bin/env bash
# Gantry vs nginx (and HAProxy when installed) as reverse proxies to the same
# nginx upstream (HTTP/1.1 behind every proxy), in one run, with the same
# worker count, for HTTP/1.1, h2c (prior knowledge) and h2 over TLS (ALPN) in
# front. The load generator
# runs on CPU 0, proxies and upstream on CPU 1 (on a 2-core machine) so the
# proxies compete for the same core. Runs are interleaved; the median of
# ROUNDS runs is reported with the ratio to nginx: requests/s, and requests
# per CPU-second of the proxy's own processes (steadier on a busy machine).
#
# Usage: bench/proxy_compare.sh [build-dir]   (env: DURATION=10 ROUNDS=3 CONNS=64 WORKERS=1 CASES="http1-small ...")
set -euo pipefail
BUILD=${1:-build}
GANTRY=$(realpath "$BUILD/gantry")
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
WORKERS=${WORKERS:-1}
. "$(dirname "$0")/lib.sh"
bench_init bench
chmod 755 "$D" # nginx workers (nobody) serve /16k from here
UP=19100 NG=19101 GA=19102 HA=19103 NG2=19104 GA2=19105 NGS=19106 GAS=19107 HA2=19108 HAS=19109

head -c 16384 /dev/urandom > "$D/16k"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench.test \
  -addext subjectAltName=DNS:bench.test -days 1 -keyout "$D/key.pem" -out "$D/cert.pem" 2>/dev/null
cat "$D/cert.pem" "$D/key.pem" > "$D/haproxy.pem" # HAProxy reads both from one file

cat > "$D/upstream.conf" <<EOF
worker_processes 1; daemon off; pid $D/up.pid; error_log $D/up.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000;
  server { listen 127.0.0.1:$UP backlog=4096; location / { return 200 "ok\n"; } location = /16k { alias $D/16k; } } }
EOF
cat > "$D/proxy.conf" <<EOF
worker_processes $WORKERS; daemon off; pid $D/px.pid; error_log $D/px.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000;
  upstream up { server 127.0.0.1:$UP; keepalive 256; }
  server { listen 127.0.0.1:$NG backlog=4096; listen 127.0.0.1:$NG2 http2;
           listen 127.0.0.1:$NGS ssl http2; ssl_certificate $D/cert.pem; ssl_certificate_key $D/key.pem;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";
                 proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; } } }
EOF
cat > "$D/dynamic.yaml" <<EOF
http:
  routers:
    bench: { rule: "Host(\`bench.test\`)", service: up }
    bench-tls: { rule: "Host(\`bench.test\`)", service: up, tls: {} }
  services:
    up: { loadBalancer: { servers: [ { url: "http://127.0.0.1:$UP" } ] } }
tls:
  certificates: [ { certFile: $D/cert.pem, keyFile: $D/key.pem } ]
EOF
cat > "$D/haproxy.cfg" <<EOF
global
  nbthread $WORKERS
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  option forwardfor # X-Forwarded-For, as nginx's proxy_set_header and Gantry add
frontend fe
  bind 127.0.0.1:$HA
  default_backend be
# h2c by prior knowledge, as nginx's "listen ... http2" and Gantry's sniffing
frontend fe_h2c
  bind 127.0.0.1:$HA2 proto h2
  default_backend be
frontend fe_tls
  bind 127.0.0.1:$HAS ssl crt $D/haproxy.pem alpn h2,http/1.1
  default_backend be
backend be
  http-reuse always
  server up 127.0.0.1:$UP
EOF

"${PROXY[@]}" nginx -e "$D/up.err" -p "$D" -c "$D/upstream.conf" >"$D/up.log" 2>&1 & pids+=($!)
"${PROXY[@]}" nginx -e "$D/px.err" -p "$D" -c "$D/proxy.conf" >"$D/px.log" 2>&1 & pids+=($!)
"${PROXY[@]}" "$GANTRY" --workers="$WORKERS" --log.level=WARN --entryPoints.web.address=127.0.0.1:$GA \
  --entryPoints.h2c.address=127.0.0.1:$GA2 --entryPoints.tls.address=127.0.0.1:$GAS \
  --providers.file.filename="$D/dynamic.yaml" >"$D/gantry.log" 2>&1 & pids+=($!)
gantry_pid=$!
have_haproxy=0
if command -v haproxy >/dev/null; then
  "${PROXY[@]}" haproxy -f "$D/haproxy.cfg" -db >"$D/haproxy.log" 2>&1 & pids+=($!)
  have_haproxy=1
  haproxy_pid=$!
fi
ports="$UP $NG $GA $GA2 $GAS"
[ $have_haproxy = 1 ] && ports+=" $HA $HA2 $HAS"
for p in $ports; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.05; done
done
sleep 0.5

wrk_rps() { # url path -> "<requests/s> <requests>", or "ERR" when any request failed
  local out
  out=$("${LOAD[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" -H 'Host: bench.test' "$1$2" 2>&1)
  if grep -qE "Non-2xx|Socket errors" <<<"$out"; then echo "ERR"; return; fi
  awk '/Requests\/sec/ {r=$2} / requests in / {n=$1} END {printf "%d %d", r, n}' <<<"$out"
}
h2load_rps() { # extra args... -> "<requests/s> <requests>", or "ERR"
  local out
  out=$("${LOAD[@]}" h2load -D "$DURATION" -c 32 -m 10 -t 1 "$@" 2>&1)
  if ! grep -q " 0 failed, 0 errored" <<<"$out" || ! grep -q " 0 3xx, 0 4xx, 0 5xx" <<<"$out" \
     || ! grep -q "^Application protocol: h2" <<<"$out"; then echo "ERR"; return; fi # h2, not an ALPN fallback to h1
  awk '/^finished in/ {for (i=1;i<=NF;i++) if ($i ~ /req\/s/) {gsub(",","",$(i-1)); r=$(i-1)}}
       /^requests: / {n=$8} END {printf "%d %d", r, n}' <<<"$out"
}
median() { grep -v -e '^$' -e ERR | sort -n | awk '{a[NR]=$1} END {if (NR==0) print "-"; else print a[int((NR+1)/2)]}'; }

nginx_proxy_master=${pids[1]}
proxy_pids() { # who -> the processes doing its work
  case $1 in
    nginx) pgrep -P "$nginx_proxy_master" | tr '\n' ' ' ;; # the workers (the master only waits)
    gantry) echo "$gantry_pid" ;;
    haproxy) echo "$haproxy_pid" ;;
  esac
}

declare -A R C
measure() { # who case tool args... -> appends requests/s to R[who,case] and requests per CPU-s to C[who,case]
  local who=$1 c=$2 tool=$3 pl c0 c1 out
  shift 3
  [ "$who" = haproxy ] && [ $have_haproxy = 0 ] && return
  pl=$(proxy_pids "$who")
  # shellcheck disable=SC2086
  c0=$(cpu_ns $pl)
  out=$($tool "$@")
  # shellcheck disable=SC2086
  c1=$(cpu_ns $pl)
  if [ "$out" = ERR ]; then R[$who,$c]+="ERR "; C[$who,$c]+="ERR "; return; fi
  R[$who,$c]+="${out% *} "
  C[$who,$c]+="$(awk -v n="${out#* }" -v t=$((c1 - c0)) 'BEGIN { printf "%d", (t > 0 ? n / (t / 1e9) : 0) }') "
}

read -ra cases <<<"${CASES:-http1-small http1-16k h2c-small h2c-16k h2-tls-small}" # CASES: a subset
run_case() { # who case: one measurement, the three proxies' ports chosen by who
  local p1 p2 ps
  case $1 in nginx) p1=$NG p2=$NG2 ps=$NGS ;; gantry) p1=$GA p2=$GA2 ps=$GAS ;; haproxy) p1=$HA p2=$HA2 ps=$HAS ;; esac
  case $2 in
    http1-small) measure "$1" "$2" wrk_rps http://127.0.0.1:$p1 / ;;
    http1-16k) measure "$1" "$2" wrk_rps http://127.0.0.1:$p1 /16k ;;
    h2c-small) measure "$1" "$2" h2load_rps -H ':authority: bench.test' http://127.0.0.1:$p2/ ;;
    h2c-16k) measure "$1" "$2" h2load_rps -H ':authority: bench.test' http://127.0.0.1:$p2/16k ;;
    h2-tls-small) measure "$1" "$2" h2load_rps --connect-to=127.0.0.1:$ps https://bench.test:$ps/ ;;
  esac
}
for round in $(seq "$ROUNDS"); do
  for c in "${cases[@]}"; do
    for who in nginx gantry haproxy; do run_case $who "$c"; done # interleaved: drift hits all three alike
  done
done

table() { # array-name title
  local -n A=$1
  echo "| case: $2 (median of $ROUNDS x ${DURATION}s, $WORKERS worker each) | nginx | gantry | gantry/nginx | haproxy | haproxy/nginx | gantry/haproxy |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for c in "${cases[@]}"; do
    n=$(tr ' ' '\n' <<<"${A[nginx,$c]}" | median || true)
    g=$(tr ' ' '\n' <<<"${A[gantry,$c]}" | median || true)
    h=$(tr ' ' '\n' <<<"${A[haproxy,$c]:-}" | median || true)
    errs=$(grep -o ERR <<<"${A[nginx,$c]} ${A[gantry,$c]} ${A[haproxy,$c]:-}" | wc -l || true)
    ratio=$(awk -v g="$g" -v n="$n" 'BEGIN { if (n+0 > 0 && g+0 > 0) printf "%.2f", g/n; else print "-" }')
    hratio=$(awk -v g="$h" -v n="$n" 'BEGIN { if (n+0 > 0 && g+0 > 0) printf "%.2f", g/n; else print "-" }')
    ghratio=$(awk -v g="$g" -v n="$h" 'BEGIN { if (n+0 > 0 && g+0 > 0) printf "%.2f", g/n; else print "-" }')
    echo "| $c$([ "$errs" -gt 0 ] && echo " ($errs runs with errors)") | $n | $g | $ratio | $h | $hratio | $ghratio |"
  done
}
table R "requests/s"
echo
table C "requests per proxy CPU-second"
echo
echo "RSS after the run (kB): gantry $(ps -o rss= -p "$gantry_pid"), nginx proxy $(ps --ppid "${pids[1]}" -o rss= | awk '{s+=$1} END {print s}') (workers) + $(ps -o rss= -p "${pids[1]}") (master)"
