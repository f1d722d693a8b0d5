#!/usr/bin/env bash
# A router with a typical middleware chain against nginx doing the same work,
# in one run, one worker each, load generator on CPU 0, proxies and the
# upstream on CPU 1 (issue 14's benchmark):
#   redirect  — web entry point: redirectScheme to https (nginx: return 301)
#   chain     — headers (two custom request headers, security response
#               headers) + stripPrefix + rateLimit high enough never to refuse
#               (nginx: proxy_set_header, add_header, rewrite, limit_req)
#   plain     — the same router without middlewares (the no-middleware path)
# The median of ROUNDS interleaved runs is reported with the ratio to nginx,
# as requests/s and as requests per proxy CPU-second (lib.sh cpu_ns: other
# load on the machine disturbs it much less).
#
# Usage: bench/middleware_chain.sh [build-dir]   (env: DURATION=10 ROUNDS=3 CONNS=64)
set -euo pipefail
BUILD=${1:-build}
GANTRY=$(realpath "$BUILD/gantry")
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
. "$(dirname "$0")/lib.sh"
bench_init bench-mw
UP=19200 NG=19201 GA=19202 NGP=19203

cat > "$D/upstream.conf" <<EOF
worker_processes 1; daemon off; pid $D/up.pid; error_log $D/up.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000;
  server { listen 127.0.0.1:$UP backlog=4096; location / { return 200 "ok\n"; } } }
EOF
cat > "$D/proxy.conf" <<EOF
worker_processes 1; daemon off; pid $D/px.pid; error_log $D/px.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000;
  limit_req_zone \$binary_remote_addr zone=rl:10m rate=1000000r/s;
  upstream up { server 127.0.0.1:$UP; keepalive 256; }
  server { listen 127.0.0.1:$NGP backlog=4096; return 301 https://\$host\$request_uri; }
  server { listen 127.0.0.1:$NG backlog=4096;
    location /plain/ { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";
                       proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; }
    location /api/ {
      limit_req zone=rl burst=1000000 nodelay;
      rewrite ^/api(/.*)\$ \$1 break;
      add_header X-Frame-Options DENY always; add_header X-Content-Type-Options nosniff always;
      add_header Strict-Transport-Security "max-age=31536000" always;
      proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Team platform; proxy_set_header X-Env bench; proxy_set_header X-Forwarded-Prefix /api; } } }
EOF
cat > "$D/dynamic.yaml" <<EOF
http:
  routers:
    redirect: { rule: "Host(\`bench.test\`)", service: up, entryPoints: [web], middlewares: [to-https] }
    chain: { rule: "Host(\`bench.test\`) && PathPrefix(\`/api\`)", service: up, entryPoints: [app], middlewares: [hdrs, strip, limit] }
    plain: { rule: "Host(\`bench.test\`) && PathPrefix(\`/plain\`)", service: up, entryPoints: [app] }
  middlewares:
    to-https: { redirectScheme: { scheme: https, permanent: true } }
    hdrs:
      headers:
        customRequestHeaders: { X-Team: platform, X-Env: bench }
        frameDeny: true
        contentTypeNosniff: true
        stsSeconds: 31536000
        forceSTSHeader: true
    strip: { stripPrefix: { prefixes: [/api] } }
    limit: { rateLimit: { average: 1000000, burst: 1000000 } }
  services:
    up: { loadBalancer: { servers: [ { url: "http://127.0.0.1:$UP" } ] } }
EOF

"${PROXY[@]}" nginx -e "$D/up.err" -p "$D" -c "$D/upstream.conf" >"$D/up.log" 2>&1 & pids+=($!)
"${PROXY[@]}" nginx -e "$D/px.err" -p "$D" -c "$D/proxy.conf" >"$D/px.log" 2>&1 & pids+=($!)
"${PROXY[@]}" "$GANTRY" --workers=1 --log.level=WARN --admin.address= --entryPoints.web.address=127.0.0.1:$GA \
  --entryPoints.app.address=127.0.0.1:$((GA + 10)) --providers.file.filename="$D/dynamic.yaml" >"$D/gantry.log" 2>&1 & pids+=($!)
GAPP=$((GA + 10))
for p in $UP $NG $NGP $GA $GAPP; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.05; done
done
sleep 0.5
# the chain must be served (a refused router would answer 404)
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.test' "http://127.0.0.1:$GAPP/api/x")
[ "$code" = 200 ] || { echo "gantry's chain router answers $code (log: $(tail -3 "$D/gantry.log"))" >&2; exit 1; }

wrk_rps() { # url expected-status -> "requests/s requests", or ERR when any answer differed
  local out
  out=$("${LOAD[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" -H 'Host: bench.test' "$1" 2>&1)
  if [ "$2" = 200 ] && grep -qE "Non-2xx|Socket errors" <<<"$out"; then echo "ERR"; return; fi
  if [ "$2" = 301 ] && grep -qE "Socket errors" <<<"$out"; then echo "ERR"; return; fi
  awk '/Requests\/sec/ {r=$2} / requests in / {n=$1} END {printf "%d %d", r, n}' <<<"$out"
}
median() { grep -v -e '^$' -e ERR | sort -n | awk '{a[NR]=$1} END {if (NR==0) print "-"; else print a[int((NR+1)/2)]}'; }

nginx_proxy_master=${pids[1]} gantry_pid=${pids[2]}
declare -A R C
measure() { # who case url status -> requests/s into R[who,case], requests per proxy CPU-second into C[who,case]
  local pl c0 c1 out
  if [ "$1" = nginx ]; then pl=$(pgrep -P "$nginx_proxy_master" | tr '\n' ' '); else pl=$gantry_pid; fi
  # shellcheck disable=SC2086
  c0=$(cpu_ns $pl)
  out=$(wrk_rps "$3" "$4")
  # shellcheck disable=SC2086
  c1=$(cpu_ns $pl)
  if [ "$out" = ERR ]; then R[$1,$2]+="ERR "; C[$1,$2]+="ERR "; return; fi
  R[$1,$2]+="${out% *} "
  C[$1,$2]+="$(awk -v n="${out#* }" -v t=$((c1 - c0)) 'BEGIN { printf "%d", (t > 0 ? n / (t / 1e9) : 0) }') "
}

for round in $(seq "$ROUNDS"); do
  measure nginx redirect http://127.0.0.1:$NGP/x 301
  measure gantry redirect http://127.0.0.1:$GA/x 301
  measure nginx chain http://127.0.0.1:$NG/api/x 200
  measure gantry chain http://127.0.0.1:$GAPP/api/x 200
  measure nginx plain http://127.0.0.1:$NG/plain/x 200
  measure gantry plain http://127.0.0.1:$GAPP/plain/x 200
done
table() { # array-name title
  local -n A=$1
  echo "| case: $2 (median of $ROUNDS x ${DURATION}s, wrk -c$CONNS, 1 worker each) | nginx | gantry | gantry/nginx |"
  echo "|---|---:|---:|---:|"
  for c in redirect chain plain; do
    n=$(tr ' ' '\n' <<<"${A[nginx,$c]}" | median || true)
    g=$(tr ' ' '\n' <<<"${A[gantry,$c]}" | median || true)
    ratio=$(awk -v g="$g" -v n="$n" 'BEGIN { if (n+0 > 0 && g+0 > 0) printf "%.2f", g/n; else print "-" }')
    echo "| $c | $n | $g | $ratio |"
  done
}
table R "requests/s"
echo
table C "requests per proxy CPU-second"
