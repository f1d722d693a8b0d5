#!/usr/bin/env bash
# All benchmarks, printing markdown tables (copy them into docs/benchmarks.md
# with the date and this command). Usage: bench/run.sh [build-dir]
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
echo "## Gantry benchmarks — $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)"
echo
echo "### Proxy throughput: gantry vs nginx (and HAProxy) to the same upstream"
echo
bash bench/proxy_compare.sh "$BUILD"
echo
echo "### A typical middleware chain: gantry vs nginx doing the same work"
echo
bash bench/middleware_chain.sh "$BUILD"
echo
echo "### What access logs and metrics cost"
echo
bash bench/observability_cost.sh "$BUILD"
echo
echo "### TCP: TLS passthrough throughput (gantry vs HAProxy mode tcp)"
echo
bash bench/tcp_passthrough.sh "$BUILD"
echo
echo "### What a slowloris attack costs everyone else (gantry vs nginx)"
echo
/usr/bin/python3 bench/slowloris_latency.py "$BUILD"
echo
echo "### What mirroring costs the main traffic"
echo
bash bench/mirror_cost.sh "$BUILD"
echo
echo "### Response trailers to HTTP/1.1 clients: Gantry's chunked framing vs libh2o's"
echo
bash bench/h1_trailers_cost.sh "$BUILD"
echo
echo "### An HTTP/1.1 upload streamed through (gantry vs nginx proxy_request_buffering off)"
echo
bash bench/h1_upload.sh "$BUILD"
echo
echo "### TLS handshakes per second (gantry vs nginx vs haproxy, 1 worker)"
echo
bash bench/tls_handshake.sh "$BUILD"
echo
echo "### What one request costs the proxy: instructions and system calls (callgrind, strace)"
echo
bash bench/request_cost.sh "$BUILD"
echo
echo "### Memory: idle, after a burst, after quiet (gantry vs nginx vs HAProxy, 2 workers)"
echo
bash bench/memory.sh "$BUILD"
echo
echo "### Routing table"
echo
"$BUILD/bench/table_bench" 2>/dev/null | grep -v "configuration applied" || "$BUILD/bench/table_bench"
echo
echo "### Configuration change latency"
echo
/usr/bin/python3 bench/config_latency.py "$BUILD" 100
echo
echo "### Kubernetes: watch event to route at 1,000 Ingresses and 10,000 endpoints"
echo
/usr/bin/python3 bench/k8s_latency.py "$BUILD" 50 1000 10
echo
echo "### Gateway API: 5,000 HTTPRoutes on one Gateway"
echo
/usr/bin/python3 bench/gateway_scale.py "$BUILD" 5000 100
echo
echo "### Docker: container start to route"
echo
if /usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests/integration"); import dockerenv; sys.exit(0 if dockerenv.available() else 1)' 2>/dev/null; then
  /usr/bin/python3 bench/docker_latency.py "$BUILD" 50 2>/dev/null
else
  echo "(skipped: needs root, dockerd and busybox-static)"
fi
echo
echo "### Docker: a burst of 300 starts at 1,000 containers (emulated Engine API)"
echo
/usr/bin/python3 bench/docker_burst.py "$BUILD" 1000 300 50
echo
echo "### Container image: size and start-up"
echo
if /usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests/integration"); import dockerenv; sys.exit(0 if dockerenv.available() else 1)' 2>/dev/null; then
  /usr/bin/python3 bench/image_startup.py 10 2>/dev/null
else
  echo "(skipped: needs root, dockerd and busybox-static)"
fi
