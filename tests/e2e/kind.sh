#!/usr/bin/env bash
# End-to-end on a real Kubernetes: creates a kind cluster, builds the gantry
# image and loads it, installs the Helm chart, deploys an echo backend and
# Ingresses, and checks routing, scaling, TLS from a Secret and a rolling
# restart of gantry under load without failed requests; leader election
# (one pod holds the Lease, another takes over when it is deleted) and the
# Ingress status it writes. tests/e2e/run.sh runs it, or the emulator mode
# (emulator_e2e.py) where kind or helm is missing.
#
# Needs kind, helm, kubectl, docker (a daemon that can pull kindest/node and
# the echo image) and wrk. Where any is missing it prints
# "skipped: <what is missing>" and exits 77 (not a pass).
# Usage: tests/e2e/kind.sh   (env: KEEP_CLUSTER=1 to keep it afterwards)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cluster=${CLUSTER:-gantry-e2e}
missing=()
for tool in kind helm kubectl docker wrk curl openssl; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -eq 0 ] && ! docker info >/dev/null 2>&1; then missing+=("a running docker daemon"); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "skipped: ${missing[*]} not available"
  exit 77
fi
if ! docker pull -q kindest/node:v1.32.0 >/dev/null 2>&1; then
  echo "skipped: cannot pull kindest/node (no registry access)"
  exit 77
fi

fail() { echo "FAIL: $*" >&2; kubectl -n gantry logs deploy/gantry --tail=50 >&2 || true; exit 1; }
# the run's files (kind config, certificate, wrk output) in a directory of its own, removed at exit
work=$(mktemp -d "${TMPDIR:-/tmp}/gantry-e2e.XXXXXX")
cleanup() { [ -n "${KEEP_CLUSTER:-}" ] || kind delete cluster --name "$cluster" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

echo "== cluster"
cat > "$work/kind.yaml" <<YAML
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
    extraPortMappings:
      - { containerPort: 30080, hostPort: 18080, listenAddress: 127.0.0.1 }
      - { containerPort: 30443, hostPort: 18443, listenAddress: 127.0.0.1 }
YAML
kind create cluster --name "$cluster" --config "$work/kind.yaml" --wait 120s

echo "== image"
docker build -t gantry:e2e "$root"
kind load docker-image gantry:e2e --name "$cluster"

echo "== chart"
helm install gantry "$root/charts/gantry" --namespace gantry --create-namespace --wait --timeout 180s \
  --set image.repository=gantry --set image.tag=e2e --set service.type=NodePort \
  --set service.nodePorts.http=30080 --set service.nodePorts.https=30443 --set replicaCount=2

echo "== backend and Ingresses"
kubectl create deployment echo --image=registry.k8s.io/echoserver:1.10 --replicas=2
kubectl expose deployment echo --port=80 --target-port=8080
kubectl rollout status deployment/echo --timeout=180s
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=secure.e2e.test -addext subjectAltName=DNS:secure.e2e.test \
  -days 1 -keyout "$work/e2e.key" -out "$work/e2e.crt" 2>/dev/null
kubectl create secret tls secure-tls --cert="$work/e2e.crt" --key="$work/e2e.key"
kubectl apply -f - <<YAML
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: echo }
spec:
  ingressClassName: gantry
  tls: [ { hosts: [secure.e2e.test], secretName: secure-tls } ]
  rules:
    - host: echo.e2e.test
      http: { paths: [ { path: /, pathType: Prefix, backend: { service: { name: echo, port: { number: 80 } } } } ] }
    - host: secure.e2e.test
      http: { paths: [ { path: /, pathType: Prefix, backend: { service: { name: echo, port: { number: 80 } } } } ] }
YAML

echo "== routing"
for i in $(seq 60); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: echo.e2e.test' http://127.0.0.1:18080/) || true
  [ "$code" = 200 ] && break; sleep 1
done
[ "$code" = 200 ] || fail "echo.e2e.test answered $code"
pods=$(for i in $(seq 40); do curl -s -H 'Host: echo.e2e.test' http://127.0.0.1:18080/ | awk '/^Hostname:/ {print $2}'; done | sort -u | wc -l)
[ "$pods" -ge 2 ] || fail "requests reached $pods echo pods, expected 2"

echo "== leader election and Ingress status"
lease() { kubectl -n gantry get lease gantry-leader -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true; }
holder=
for i in $(seq 60); do holder=$(lease); [ -n "$holder" ] && break; sleep 1; done
case "$holder" in gantry-*_*) ;; *) fail "no gantry pod holds the Lease gantry/gantry-leader (holder: '$holder')" ;; esac
ip=
for i in $(seq 60); do
  ip=$(kubectl get ingress echo -o jsonpath='{.status.loadBalancer.ingress[*].ip}') || true
  [ -n "$ip" ] && break; sleep 1
done
[ -n "$ip" ] || fail "the leader did not write status.loadBalancer of Ingress echo"
# the holder's identity is <pod>_<pid>: deleting that pod hands the Lease over
kubectl -n gantry delete pod "${holder%_*}" --wait=false
for i in $(seq 60); do h2=$(lease); [ -n "$h2" ] && [ "${h2%_*}" != "${holder%_*}" ] && break; sleep 1; done
[ -n "$h2" ] && [ "${h2%_*}" != "${holder%_*}" ] || fail "the Lease stayed with the deleted pod ${holder%_*}"
kubectl -n gantry rollout status deployment/gantry --timeout=180s

echo "== scaling"
kubectl scale deployment echo --replicas=4
kubectl rollout status deployment/echo --timeout=180s
for i in $(seq 30); do
  pods=$(for j in $(seq 60); do curl -s -H 'Host: echo.e2e.test' http://127.0.0.1:18080/ | awk '/^Hostname:/ {print $2}'; done | sort -u | wc -l)
  [ "$pods" -ge 4 ] && break; sleep 1
done
[ "$pods" -ge 4 ] || fail "after scaling to 4, requests reached $pods pods"

echo "== TLS from the Secret"
curl -s --cacert "$work/e2e.crt" --resolve secure.e2e.test:18443:127.0.0.1 https://secure.e2e.test:18443/ | grep -q Hostname ||
  fail "TLS with the secret's certificate failed"

echo "== rolling restart of gantry under load"
wrk -t1 -c8 -d40s -H 'Host: echo.e2e.test' http://127.0.0.1:18080/ > "$work/wrk.txt" &
wrk_pid=$!
sleep 3
kubectl -n gantry rollout restart deployment/gantry
kubectl -n gantry rollout status deployment/gantry --timeout=180s
wait $wrk_pid
cat "$work/wrk.txt"
if grep -q "Non-2xx" "$work/wrk.txt"; then fail "non-2xx responses during the rolling restart"; fi
if grep -q "Socket errors" "$work/wrk.txt"; then fail "socket errors during the rolling restart"; fi
echo "e2e: passed"
