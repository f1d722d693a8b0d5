#!/usr/bin/env bash
# Memory of the proxy process(es), Gantry vs nginx vs HAProxy, two workers
# each, one route to the same nginx upstream: idle after start, right after
# HTTP/1.1 and h2c load (256 connections), and after 12 s of quiet
# (Gantry gives freed memory back every 10 s). Columns:
# RSS (what `ps` shows: every page mapped, shared library text included),
# anonymous (the process's own heap and stacks), file-backed (library and
# binary pages mapped), PSS (shared pages divided among the processes that
# map them). nginx and HAProxy count their master process too.
# Usage: bench/memory.sh [build-dir]   (env: N=200000 requests per load)
set -euo pipefail
BUILD=${1:-build}
GANTRY=$(realpath "$BUILD/gantry")
N=${N:-200000}
. "$(dirname "$0")/lib.sh"
bench_init memory
chmod 755 "$D"
for t in h2load nginx haproxy; do
  command -v $t >/dev/null || { echo "memory: $t not installed, skipped"; exit 0; }
done
# HAProxy speaks h2c only on a bind of its own ("proto h2"): its h2c load goes to H2PORT
read -r UP PORT ADMIN H2PORT < <(/usr/bin/python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')

cat > "$D/upstream.conf" <<X
worker_processes 1; daemon off; pid $D/up.pid; error_log $D/up.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000;
  server { listen 127.0.0.1:$UP backlog=4096; location / { return 200 "ok\n"; } } }
X
"${PROXY[@]}" nginx -e "$D/up.err" -p "$D" -c "$D/upstream.conf" >/dev/null 2>&1 & pids+=($!)

cat > "$D/dynamic.yaml" <<X
http:
  routers: { r: { rule: "PathPrefix(\`/\`)", service: up } }
  services: { up: { loadBalancer: { servers: [ { url: "http://127.0.0.1:$UP" } ] } } }
X
cat > "$D/proxy.conf" <<X
worker_processes 2; daemon off; pid $D/px.pid; error_log $D/px.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000;
  upstream up { server 127.0.0.1:$UP; keepalive 256; }
  server { listen 127.0.0.1:$PORT http2; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
X
cat > "$D/haproxy.cfg" <<X
global
  nbthread 2
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$PORT
  bind 127.0.0.1:$H2PORT proto h2
  default_backend be
backend be
  http-reuse always
  server up 127.0.0.1:$UP
X

# the pids of a server and its children (nginx workers)
tree_pids() {
  local p=$1
  echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}

# "rss / anon / file / pss" in MB, summed over the process tree of $1
measure() {
  local rss=0 anon=0 file=0 pss=0 r a f
  for p in $(tree_pids "$1"); do
    [ -r /proc/"$p"/smaps_rollup ] || continue
    read -r r a f < <(awk '/^VmRSS:/{r=$2} /^RssAnon:/{a=$2} /^RssFile:/{f=$2} END{print r+0, a+0, f+0}' /proc/"$p"/status)
    rss=$((rss + r)); anon=$((anon + a)); file=$((file + f))
    pss=$((pss + $(awk '/^Pss:/{print $2}' /proc/"$p"/smaps_rollup)))
  done
  awk -v r=$rss -v a=$anon -v f=$file -v s=$pss 'BEGIN{printf "%.1f / %.1f / %.1f / %.1f", r/1024, a/1024, f/1024, s/1024}'
}

run() { # $1 name, $2... command
  local name=$1; shift
  "${PROXY[@]}" "$@" >"$D/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
  done
  sleep 1
  local idle; idle=$(measure $pid)
  local h2port=$PORT
  [ "$name" = haproxy ] && h2port=$H2PORT
  "${LOAD[@]}" h2load --h1 -c 256 -n "$N" "http://127.0.0.1:$PORT/" >/dev/null 2>&1 || true
  "${LOAD[@]}" h2load -c 256 -m 10 -n "$N" "http://127.0.0.1:$h2port/" >"$D/h2.out" 2>&1 || true
  local loaded; loaded=$(measure $pid)
  sleep 12
  local quiet; quiet=$(measure $pid)
  echo "| $name | $idle | $loaded | $quiet |"
  kill $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
}

echo "MB: RSS / anonymous / file-backed / PSS; $N HTTP/1.1 requests then $N h2c requests, 256 connections"
echo
echo "| proxy (2 workers) | idle | after load | 12 s later |"
echo "|---|---|---|---|"
run gantry "$GANTRY" --workers=2 --log.level=WARN --admin.address=127.0.0.1:$ADMIN \
  --entryPoints.web.address=127.0.0.1:$PORT --providers.file.filename="$D/dynamic.yaml"
run nginx nginx -e "$D/px.err" -p "$D" -c "$D/proxy.conf"
run haproxy haproxy -f "$D/haproxy.cfg"
