#!/usr/bin/env bash
# What basicAuth costs per request, and what its per-worker credential cache
# buys: one gantry worker, an nginx upstream, wrk with the same credentials
# on every request, for a route without auth and routes whose user has a
# bcrypt (cost 10), apr1 (MD5-crypt) or {SHA} secret; the same source built
# a second time without the cache (-DGANTRY_BENCH_NO_AUTH_CACHE).
# Usage: bench/basic_auth_cost.sh [build-dir]   (env: DURATION=5)
set -euo pipefail
BUILD=${1:-build}
GANTRY=$(realpath "$BUILD/gantry")
SRC=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-5}
. "$(dirname "$0")/lib.sh"
bench_init auth
chmod 755 "$D"
UP=19310 CACHED=19311 NOCACHE=19312 ADMIN1=19313 ADMIN2=19314

NOCACHE_BUILD=${NOCACHE_BUILD:-$SRC/build-nocache}
cmake -S "$SRC" -B "$NOCACHE_BUILD" -DCMAKE_C_FLAGS=-DGANTRY_BENCH_NO_AUTH_CACHE >/dev/null
cmake --build "$NOCACHE_BUILD" --target gantry -j2 >/dev/null

htpasswd -cbB -C 10 "$D/users" bcrypt pw >/dev/null 2>&1
htpasswd -bm "$D/users" apr1 pw >/dev/null 2>&1
htpasswd -bs "$D/users" sha1 pw >/dev/null 2>&1
cat > "$D/upstream.conf" <<CONF
worker_processes 1; daemon off; pid $D/up.pid; error_log $D/up.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000; server { listen 127.0.0.1:$UP backlog=4096; location / { return 200 "ok\n"; } } }
CONF
cat > "$D/dynamic.yaml" <<CONF
http:
  routers:
    none: { rule: "Host(\`none.test\`)", service: up }
    auth: { rule: "Host(\`a.test\`)", service: up, middlewares: [auth] }
  middlewares: { auth: { basicAuth: { usersFile: "$D/users" } } }
  services: { up: { loadBalancer: { servers: [ { url: "http://127.0.0.1:$UP" } ] } } }
CONF
"${PROXY[@]}" nginx -e "$D/up.err" -p "$D" -c "$D/upstream.conf" >/dev/null 2>&1 & pids+=($!)
common=(--workers=1 --log.level=WARN --providers.file.filename="$D/dynamic.yaml")
"${PROXY[@]}" "$GANTRY" "${common[@]}" --entryPoints.web.address=127.0.0.1:$CACHED --admin.address=127.0.0.1:$ADMIN1 \
  >"$D/cached.log" 2>&1 & pids+=($!)
"${PROXY[@]}" "$NOCACHE_BUILD/gantry" "${common[@]}" --entryPoints.web.address=127.0.0.1:$NOCACHE \
  --admin.address=127.0.0.1:$ADMIN2 >"$D/nocache.log" 2>&1 & pids+=($!)
for p in $UP $CACHED $NOCACHE; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.05; done
done
sleep 1
rps() { # port host user
  "${LOAD[@]}" wrk -t1 -c16 -d"${DURATION}s" -H "Host: $2" -H "Authorization: Basic $(printf '%s:pw' "$3" | base64)" \
    "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {printf "%d", $2}'
}
echo "| gantry, 1 worker, wrk -c16 ${DURATION}s, same credentials each request | with cache req/s | without cache req/s |"
echo "|---|---:|---:|"
echo "| no basicAuth | $(rps $CACHED none.test x) | $(rps $NOCACHE none.test x) |"
for u in sha1 apr1 bcrypt; do
  echo "| basicAuth, $u secret | $(rps $CACHED a.test $u) | $(rps $NOCACHE a.test $u) |"
done
