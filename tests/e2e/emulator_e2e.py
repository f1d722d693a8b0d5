#!/usr/bin/python3
"""The e2e suite where kind and Helm are missing ("emulator" mode).

The chart is rendered (tests/helm-render, defaults + replicaCount=2, the
Gateway API and Traefik CRD providers on) and applied with the real kubectl
to the project's API-server emulator, after Kubernetes' Gateway API CRDs
(manifests/gateway-api, as a user installs them). This
script then does what the Deployment controller and the kubelet would: it
reads the Deployment back from the API and runs its pod template as
containers of the real gantry image in a real dockerd (the image from
scripts/image.sh, i.e. `make image`), with the pod's security settings,
its args and env (fieldRefs resolved), the ServiceAccount's token, CA and
namespace mounted at /var/run/secrets/kubernetes.io/serviceaccount and
KUBERNETES_SERVICE_HOST/PORT pointing at the emulator. A small TCP proxy
stands in for kube-proxy: the gantry Service's traffic goes to the replicas
whose readiness probe passes.

Checked: Ingress traffic to an upstream on loopback (Ingress, Service and
EndpointSlice applied with kubectl); HTTPRoute traffic (a Gateway of the
chart's GatewayClass and an HTTPRoute applied with kubectl, the Gateway's
and the route's status written by the leader); a mixed cluster (Ingress,
IngressRoute and HTTPRoute on one host) with the precedence
docs/kubernetes.md states; leader election (exactly one replica
holds the Lease, the other takes over when it stops); Ingress status
written by the leader; a rolling update to a new image tag under steady
curl traffic with zero failed requests.

Prints "e2e (mode: emulator): passed" and exits 0, or "FAIL: ..." and 1.
Env: GANTRY_E2E_IMAGE=<tag> uses an image already in the e2e dockerd
instead of building one; GANTRY_CACHE (default /var/cache/gantry) holds the
dockerd data root kept between runs, so the image build is cached.
"""
import fcntl
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulated_cluster as cluster  # noqa: E402
import dockerenv  # noqa: E402  (tests/integration, put on sys.path by emulated_cluster)

NS = "gantry"
CACHE = os.environ.get("GANTRY_CACHE", "/var/cache/gantry")
LB_IP = "203.0.113.10"  # what a cloud load-balancer controller would write into the Service's status
T0 = time.time()


def step(msg):
    print("== [%5.1fs] %s" % (time.time() - T0, msg), flush=True)


class Fail(Exception):
    pass


def wait(pred, timeout, what, interval=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise Fail("timed out after %ss waiting for %s" % (timeout, what))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, host=None, timeout=2):
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError:
        return None, ""


class Upstream:
    """The application behind the Ingress: answers its own name."""

    def __init__(self, name):
        body = ("hello from %s\n" % name).encode()

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class ServiceProxy:
    """kube-proxy's part: a Service address whose new connections go round
    robin to the endpoints currently ready; an endpoint removed gets no new
    connection (those already open finish)."""

    def __init__(self):
        self.endpoints = []
        self.lock = threading.Lock()
        self.n = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def set_endpoints(self, ports):
        with self.lock:
            self.endpoints = list(ports)

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                eps = list(self.endpoints)
                self.n += 1
                n = self.n
            if not eps:
                c.close()
                continue
            try:
                u = socket.create_connection(("127.0.0.1", eps[n % len(eps)]), timeout=2)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        self.sock.close()


class Pod:
    """One replica: the Deployment's pod template run as a container."""

    def __init__(self, name, deployment, ports, docker, em, sa_dir):
        self.name = name
        spec = deployment["spec"]["template"]["spec"]
        c = spec["containers"][0]
        self.image = c["image"]
        # In a cluster every pod has its own address; here the replicas share
        # the host's network, so each gets its own ports. Only the port
        # numbers of the listen addresses change; everything else is the
        # pod template as the API returned it.
        remap = {":%d" % cp["containerPort"]: ":%d" % ports[cp["name"]] for cp in c["ports"]}
        self.ports = ports

        def fix(s):
            m = re.match(r"^(.*=|)(:\d+)$", s)
            return m.group(1) + remap.get(m.group(2), m.group(2)) if m else s

        args = ["run", "-d", "--name", name, "--network", "host",
                "--stop-timeout", str(spec["terminationGracePeriodSeconds"])]
        psc, csc = spec.get("securityContext", {}), c.get("securityContext", {})
        if psc.get("runAsUser") is not None:
            args += ["--user", "%d:%d" % (psc["runAsUser"], psc.get("runAsGroup", psc["runAsUser"]))]
        if csc.get("readOnlyRootFilesystem"):
            args.append("--read-only")
        for cap in csc.get("capabilities", {}).get("drop", []):
            args += ["--cap-drop", cap]
        if csc.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for m in c.get("volumeMounts", []):
            if "emptyDir" in volumes[m["name"]]:
                args += ["--tmpfs", "%s:uid=%d" % (m["mountPath"], psc.get("runAsUser", 0))]
        if spec.get("automountServiceAccountToken", True):
            args += ["-v", "%s:/var/run/secrets/kubernetes.io/serviceaccount:ro" % sa_dir]
        env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(em.port)}
        fields = {"metadata.name": name, "metadata.namespace": NS}
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = fix(e["value"])
            else:
                env[e["name"]] = fields[e["valueFrom"]["fieldRef"]["fieldPath"]]
        for k, v in env.items():
            args += ["-e", "%s=%s" % (k, v)]
        args.append(self.image)
        args += [fix(a) for a in c.get("args", [])]
        self.readiness = c["readinessProbe"]["httpGet"]["path"]
        self.docker = docker
        docker.docker(*args)

    def ready(self):
        return http_get("http://127.0.0.1:%d%s" % (self.ports["admin"], self.readiness))[0] == 200

    def logs(self):
        r = self.docker.docker("logs", "--tail", "30", self.name, check=False)
        return (r.stdout + r.stderr).decode(errors="replace")

    def stop(self):
        self.docker.docker("stop", self.name, timeout=60)


def docs_of(text):
    import yaml
    return [d for d in yaml.safe_load_all(text) if d]


def kubectl(em, *args, stdin=None):
    r = cluster.kubectl(em, *args, stdin=stdin)
    if r.returncode != 0:
        raise Fail("kubectl %s: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
    return r.stdout.decode()


def on_alarm(signum, frame):
    raise Fail("the e2e took longer than its %d s budget" % BUDGET)


BUDGET = int(os.environ.get("GANTRY_E2E_BUDGET", "600"))  # a first image build takes about 2 min of it


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(BUDGET)
    work = tempfile.mkdtemp(prefix="gantry-e2e-")
    cleanups = []
    pods = []
    try:
        step("renderer and chart (defaults + replicaCount=2 + Gateway API and Traefik CRD providers)")
        renderer, err = cluster.build_renderer(os.path.join(cluster.ROOT, "build"))
        if not renderer:
            raise Fail("building tests/helm-render: " + err)

        def render(tag):
            rc, out, err = cluster.render(renderer, "--name", "gantry", "--namespace", NS, "--set",
                                          "replicaCount=2,image.repository=gantry,image.tag=%s,"
                                          "providers.kubernetesGateway.enabled=true,providers.kubernetesCRD.enabled=true"
                                          % tag)
            if rc != 0:
                raise Fail("helm-render: " + err)
            return out

        manifests = render("e2e-1")

        step("API emulator; kubectl apply of the Gateway API CRDs, then of the rendered chart")
        em = cluster.start_emulator(work)
        cleanups.append(em.stop)
        for f in sorted(os.listdir(os.path.join(cluster.ROOT, "manifests", "gateway-api"))):
            if f.startswith("standard-"):
                kubectl(em, "apply", "--validate=false", "-f", os.path.join(cluster.ROOT, "manifests", "gateway-api", f))
        # --validate=false: kubectl's schema check needs /openapi/v2, which the emulator does not serve
        out = kubectl(em, "apply", "--validate=false", "-f", "-", stdin=manifests.encode())
        applied = [line for line in out.splitlines() if line.endswith(" created")]
        if len(applied) != len(docs_of(manifests)):
            raise Fail("kubectl apply created %d of %d objects:\n%s" % (len(applied), len(docs_of(manifests)), out))
        deployment = json.loads(kubectl(em, "-n", NS, "get", "deployment", "gantry", "-o", "json"))
        replicas = deployment["spec"]["replicas"]
        if replicas != 2:
            raise Fail("Deployment replicas %r, want 2" % replicas)
        sa_name = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        kubectl(em, "-n", NS, "get", "serviceaccount", sa_name)
        # the cloud's load-balancer controller: the Service gets an address
        svc = em.get("Service", NS, "gantry")
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": LB_IP}]}}
        em.apply(svc)

        step("dockerd and the gantry image")
        # The data root is kept between runs (the image build is cached
        # there); a second run at the same time would kill this one's
        # daemon, so runs take turns.
        os.makedirs(CACHE, exist_ok=True)
        lock = open(os.path.join(CACHE, "dockerd-e2e.lock"), "w")
        cleanups.append(lock.close)
        fcntl.flock(lock, fcntl.LOCK_EX)
        d = dockerenv.Dockerd(root=os.path.join(CACHE, "dockerd-e2e"), live_restore=False, keep=True).start()
        cleanups.append(d.stop)
        for c in d.docker("ps", "-aq").stdout.decode().split():  # left by an interrupted run
            d.docker("rm", "-f", c, check=False)
        image = os.environ.get("GANTRY_E2E_IMAGE")
        if not image:
            env = dict(os.environ, DOCKER_HOST=d.host, GANTRY_CACHE=CACHE)
            r = subprocess.run(["bash", os.path.join(cluster.ROOT, "scripts", "image.sh"), "gantry"], env=env,
                               capture_output=True, timeout=1200)
            if r.returncode != 0:
                raise Fail("make image (scripts/image.sh gantry) failed:\n" + (r.stdout + r.stderr).decode(
                    errors="replace")[-3000:])
            image = "gantry:dev"
        d.docker("tag", image, "gantry:e2e-1")
        # a new tag that is a different image, as a release would be
        r = subprocess.run(["docker", "-H", d.host, "build", "-q", "-t", "gantry:e2e-2", "-"],
                           input=b"FROM gantry:e2e-1\nLABEL io.gantry.e2e.revision=2\n", capture_output=True, timeout=120)
        if r.returncode != 0:
            raise Fail("building gantry:e2e-2: " + r.stderr.decode(errors="replace"))

        step("service account volume (token, ca.crt, namespace) as the kubelet mounts it")
        sa_dir = os.path.join(work, "serviceaccount")
        os.makedirs(sa_dir)
        for name, text in (("token", em.token), ("ca.crt", open(em.ca).read()), ("namespace", NS)):
            with open(os.path.join(sa_dir, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(sa_dir, name), 0o644)
        os.chmod(work, 0o755)
        os.chmod(sa_dir, 0o755)

        step("two replicas of the pod template")
        proxy = ServiceProxy()
        cleanups.append(proxy.close)

        def start_pod(suffix, dep):
            p = Pod("gantry-%s" % suffix, dep, {"web": free_port(), "websecure": free_port(), "admin": free_port()},
                    d, em, sa_dir)
            pods.append(p)
            return p

        for s in ("rev1-a", "rev1-b"):
            start_pod(s, deployment)
        for p in pods:
            wait(p.ready, 30, "%s ready (readinessProbe)" % p.name)
        proxy.set_endpoints([p.ports["web"] for p in pods])

        step("Ingress traffic: Service + EndpointSlice + Ingress applied with kubectl")
        up = Upstream("app")
        cleanups.append(up.stop)
        kubectl(em, "apply", "--validate=false", "-f", "-", stdin=("""
apiVersion: v1
kind: Service
metadata: {name: app, namespace: default}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: app-1
  namespace: default
  labels: {kubernetes.io/service-name: app}
addressType: IPv4
ports: [{name: http, port: %d}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: app, namespace: default}
spec:
  ingressClassName: gantry
  rules:
  - host: app.e2e.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
""" % up.port).encode())
        for p in pods:
            wait(lambda: http_get("http://127.0.0.1:%d/" % p.ports["web"], "app.e2e.test") == (200, "hello from app\n"),
                 20, "%s routes app.e2e.test" % p.name)
        codes = [http_get("http://127.0.0.1:%d/" % proxy.port, "app.e2e.test")[0] for _ in range(20)]
        if codes != [200] * 20:
            raise Fail("through the Service: %s" % codes)
        if http_get("http://127.0.0.1:%d/" % proxy.port, "other.e2e.test")[0] != 404:
            raise Fail("a host without an Ingress rule is not 404")

        step("HTTPRoute traffic: Gateway + HTTPRoute applied with kubectl")
        kubectl(em, "apply", "--validate=false", "-f", "-", stdin=b"""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: gantry
  listeners:
  - {name: http, port: 80, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [gw.e2e.test]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: app, port: 80}]
""")
        for p in pods:
            wait(lambda: http_get("http://127.0.0.1:%d/" % p.ports["web"], "gw.e2e.test") == (200, "hello from app\n"),
                 20, "%s routes gw.e2e.test (HTTPRoute)" % p.name)
        codes = [http_get("http://127.0.0.1:%d/x" % proxy.port, "gw.e2e.test")[0] for _ in range(10)]
        if codes != [200] * 10:
            raise Fail("HTTPRoute through the Service: %s" % codes)

        def gateway_status():
            gw = json.loads(kubectl(em, "get", "gateway", "gw", "-o", "json")).get("status") or {}
            rt = json.loads(kubectl(em, "get", "httproute", "app", "-o", "json")).get("status") or {}
            addrs = [a.get("value") for a in gw.get("addresses") or []]
            conds = {c["type"]: c["status"] for par in rt.get("parents") or [] for c in par.get("conditions") or []}
            return addrs == [LB_IP] and conds.get("Accepted") == "True" and conds.get("ResolvedRefs") == "True"
        wait(gateway_status, 30, "Gateway gw's status.addresses = %s and HTTPRoute app Accepted, ResolvedRefs" % LB_IP)

        step("mixed cluster: Ingress, IngressRoute and HTTPRoute on one host (docs/kubernetes.md precedence)")
        mixed = {n: Upstream(n) for n in ("ing", "ir", "gw")}
        for u in mixed.values():
            cleanups.append(u.stop)
        objs = ""
        for n, u in mixed.items():
            objs += """
---
apiVersion: v1
kind: Service
metadata: {name: mixed-%(n)s, namespace: default}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: mixed-%(n)s-1
  namespace: default
  labels: {kubernetes.io/service-name: mixed-%(n)s}
addressType: IPv4
ports: [{name: http, port: %(port)d}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
""" % {"n": n, "port": u.port}
        objs += """
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: mixed, namespace: default}
spec:
  ingressClassName: gantry
  rules:
  - host: mixed.e2e.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: mixed-ing, port: {number: 80}}}}]}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: mixed, namespace: default}
spec:
  routes:
  - match: Host(`mixed.e2e.test`) && PathPrefix(`/ir`)
    kind: Rule
    services: [{name: mixed-ir, port: 80}]
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: mixed-priority, namespace: default}
spec:
  routes:
  - match: Host(`mixed.e2e.test`) && PathPrefix(`/prio`)
    kind: Rule
    priority: 5000000000
    services: [{name: mixed-ir, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: mixed, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [mixed.e2e.test]
  rules:
  - matches: [{path: {type: PathPrefix, value: /gw}}, {path: {type: PathPrefix, value: /prio/gw}}]
    backendRefs: [{name: mixed-gw, port: 80}]
"""
        kubectl(em, "apply", "--validate=false", "-f", "-", stdin=objs.encode())
        # path -> who answers: an HTTPRoute on a hostname (>= 10^12) over an IngressRoute with an explicit
        # priority (5*10^9) over an Ingress rule on an exact host (4*10^9 + path) over an IngressRoute
        # without a priority (its rule's length)
        want = {"/": "ing", "/ir": "ing", "/gw": "gw", "/prio": "ir", "/prio/x": "ir", "/prio/gw": "gw"}
        for p in pods:
            def mixed_ok():
                return {path: http_get("http://127.0.0.1:%d%s" % (p.ports["web"], path), "mixed.e2e.test")[1].strip()
                        .replace("hello from ", "") for path in want} == want
            wait(mixed_ok, 30, "%s to serve mixed.e2e.test as %s" % (p.name, want))

        step("leader election: exactly one replica holds the Lease")

        def holder():
            lease = em.get("Lease", NS, "gantry-leader")
            h = lease and lease["spec"].get("holderIdentity")
            return h or None

        h1 = wait(holder, 30, "a Lease holder")
        owners = [p for p in pods if h1.startswith(p.name + "_")]
        if len(owners) != 1:
            raise Fail("Lease holder %r is not one of the replicas" % h1)
        leader, follower = owners[0], [p for p in pods if p is not owners[0]][0]
        print("   holder: %s" % h1, flush=True)

        step("Ingress status written by the leader")

        def status_ip():
            out = kubectl(em, "get", "ingress", "app", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}")
            return out == LB_IP
        wait(status_ip, 30, "status.loadBalancer.ingress of Ingress app = %s" % LB_IP)

        step("the leader stops: the other replica takes over")
        proxy.set_endpoints([follower.ports["web"]])
        leader.stop()
        pods.remove(leader)
        h2 = wait(lambda: (holder() or "").startswith(follower.name + "_") and holder(), 30,
                  "%s to take the Lease" % follower.name)
        print("   holder: %s" % h2, flush=True)
        kubectl(em, "apply", "--validate=false", "-f", "-", stdin=b"""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: app2, namespace: default}
spec:
  ingressClassName: gantry
  rules:
  - host: app2.e2e.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
""")
        wait(lambda: kubectl(em, "get", "ingress", "app2", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}")
             == LB_IP, 30, "the new leader to write the status of Ingress app2")
        # back to two replicas, as the ReplicaSet would
        p = start_pod("rev1-c", deployment)
        wait(p.ready, 30, "%s ready" % p.name)
        proxy.set_endpoints([q.ports["web"] for q in pods])

        step("rolling update to gantry:e2e-2 under steady curl traffic")
        results = []
        stop = threading.Event()

        def traffic():
            while not stop.is_set():
                r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-m", "5", "-w", "%{http_code}", "-H",
                                    "Host: app.e2e.test", "http://127.0.0.1:%d/" % proxy.port], capture_output=True)
                results.append(r.stdout.decode() or "curl exit %d" % r.returncode)

        threads = [threading.Thread(target=traffic) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            time.sleep(1)
            new = docs_of(render("e2e-2"))
            dep2 = [x for x in new if x["kind"] == "Deployment"][0]
            kubectl(em, "replace", "--validate=false", "-f", "-", stdin=json.dumps(dep2).encode())
            deployment = json.loads(kubectl(em, "-n", NS, "get", "deployment", "gantry", "-o", "json"))
            image2 = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
            if image2 != "gantry:e2e-2":
                raise Fail("Deployment image after replace: %s" % image2)
            strategy = deployment["spec"]["strategy"]["rollingUpdate"]
            # maxSurge 1, maxUnavailable 0: a new pod is ready before an old one goes
            old = [p for p in pods]
            for i, o in enumerate(old):
                n = start_pod("rev2-%d" % i, deployment)
                wait(n.ready, 30, "%s ready" % n.name)
                proxy.set_endpoints([q.ports["web"] for q in pods if q is not o])
                o.stop()
                pods.remove(o)
                time.sleep(1)
            if strategy != {"maxSurge": 1, "maxUnavailable": 0}:
                raise Fail("rolling update strategy %s" % strategy)
            time.sleep(1)
        finally:
            stop.set()
            for t in threads:
                t.join()
        bad = [c for c in results if c != "200"]
        print("   %d requests during the update, %d failed" % (len(results), len(bad)), flush=True)
        if bad or len(results) < 50:
            raise Fail("rolling update: %d of %d requests failed: %s" % (len(bad), len(results), sorted(set(bad))))
        for p in pods:
            img = d.docker("inspect", "-f", "{{.Config.Image}}", p.name).stdout.decode().strip()
            if img != "gantry:e2e-2":
                raise Fail("%s runs %s after the update" % (p.name, img))
        wait(lambda: any((holder() or "").startswith(p.name + "_") for p in pods), 30,
             "a new replica to hold the Lease")
        print("e2e (mode: emulator: kubectl + API emulator + dockerd + image gantry:e2e-*): passed in %.0fs"
              % (time.time() - T0), flush=True)
        return 0
    except (Fail, AssertionError, subprocess.TimeoutExpired) as e:
        print("FAIL: %s" % e, file=sys.stderr, flush=True)
        for p in pods:
            print("--- logs of %s\n%s" % (p.name, p.logs()), file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        for c in reversed(cleanups):
            try:
                c()
            except Exception as e:  # cleanup must not hide the result
                print("cleanup: %s" % e, file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
