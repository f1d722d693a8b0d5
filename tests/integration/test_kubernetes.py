"""The Kubernetes Ingress provider against the project's API-server
emulator (k8s_emulator.py: HTTPS, bearer token, list + chunked watch,
bookmarks, 410 Gone, faults), with real whoami backends: routes follow
Ingress, Service and EndpointSlice changes; every fault ends with the right
routes; class selection; the Ingress specification's path rules; TLS from
a Secret; kubeconfig; and the real kubectl applying YAML to the emulator.
"""
import base64
import os
import shutil
import subprocess
import textwrap

import pytest

from attack import metric
from conftest import SLOW, get, run, wait_for
from k8s_emulator import Emulator, kubeconfig
from test_tls import peer_names
from tls_certs import make_cert


@pytest.fixture
def emu(tmp_path):
    d = str(tmp_path)
    cert, key = make_cert(d, "apiserver", ["localhost"], ips=["127.0.0.1"])
    e = Emulator(cert=cert, key=key, bookmark_interval=0.5).start()
    e.ca = d + "/ca.crt"
    yield e
    e.stop()


def gantry(procs, tmp_path, emu, args=(), **kw):
    return procs.gantry(tmp_path, None, args=["--providers.kubernetesIngress=true",
                                              "--providers.kubernetesIngress.endpoint=" + emu.url,
                                              "--providers.kubernetesIngress.token=" + emu.token,
                                              "--providers.kubernetesIngress.certAuthFilePath=" + emu.ca] + list(args),
                        **kw)


def subdir(tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    return d


def ingress_class(name="gantry", default=False, controller="gantry.io/ingress-controller"):
    meta = {"name": name}
    if default:
        meta["annotations"] = {"ingressclass.kubernetes.io/is-default-class": "true"}
    return {"kind": "IngressClass", "metadata": meta, "spec": {"controller": controller}}


def service(name, port=80, port_name="http", ns="default", **spec):
    s = {"ports": [{"name": port_name, "port": port, "targetPort": 8080, "protocol": "TCP"}]}
    s.update(spec)
    return {"kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": s}


def slice_for(svc, backends, port_name="http", ns="default", name=None, ready=True, terminating=False):
    """An EndpointSlice of <svc> whose endpoints are the whoami servers <backends> (all on one port)."""
    port = backends[0].port if backends else 8080
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": name or svc + "-abc", "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": ready, "serving": True,
                                                                        "terminating": terminating}}
                          for _ in backends[:1]]}


def ingress(name, rules, ns="default", cls="gantry", tls=None, default_backend=None, annotations=None):
    spec = {"rules": rules}
    if cls:
        spec["ingressClassName"] = cls
    if tls:
        spec["tls"] = tls
    if default_backend:
        spec["defaultBackend"] = default_backend
    meta = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    return {"kind": "Ingress", "metadata": meta, "spec": spec}


def rule(host, paths):
    r = {"http": {"paths": [{"path": p, "pathType": t, "backend": {"service": {"name": s, "port": {"number": 80}}}}
                            for p, t, s in paths]}}
    if host:
        r["host"] = host
    return r


def app_service(emu, up):
    """Our IngressClass and the Service "app" whose one endpoint is <up>."""
    emu.apply(ingress_class())
    emu.apply(service("app"))
    emu.apply(slice_for("app", [up]))


def app_behind(emu, up, host, name="web"):
    """app_service, and the Ingress <name> routing every path of <host> to it."""
    app_service(emu, up)
    emu.apply(ingress(name, [rule(host, [("/", "Prefix", "app")])]))


def name_of(port, path, host):
    status, _, body = get(port, path + ("&" if "?" in path else "?") + "format=json", host)
    if status != 200:
        return status
    import json
    return json.loads(body)["name"]


def test_routes_follow_ingress_service_and_endpointslice_changes(tmp_path, procs, emu):
    a, b = procs.whoami(name="a"), procs.whoami(name="b")
    app_behind(emu, a, "app.test", "web")
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: g.admin("/readyz")[0] == 200, what="kubernetes provider synced")
    wait_for(lambda: name_of(g.port, "/", "app.test") == "a", what="route to a")
    # the endpoints move to b (a rollout): the route follows the EndpointSlice
    emu.apply(slice_for("app", [b]))
    wait_for(lambda: name_of(g.port, "/", "app.test") == "b", what="route to b")
    # a second host added to the Ingress
    emu.apply(ingress("web", [rule("app.test", [("/", "Prefix", "app")]), rule("www.test", [("/", "Prefix", "app")])]))
    wait_for(lambda: name_of(g.port, "/", "www.test") == "b", what="second host")
    # endpoints not ready: none left, 503 (the service has no server)
    emu.apply(slice_for("app", [b], ready=False))
    wait_for(lambda: name_of(g.port, "/", "app.test") == 503, what="no ready endpoint")
    # serving but terminating endpoints are used when no ready one remains
    emu.apply(slice_for("app", [b], ready=False, terminating=True))
    wait_for(lambda: name_of(g.port, "/", "app.test") == "b", what="terminating endpoint used")
    # the Ingress deleted: its routes go
    emu.delete("Ingress", "default", "web")
    wait_for(lambda: name_of(g.port, "/", "app.test") == 404, what="route removed")
    assert g.api("/api/overview")["problems"] == []


def test_watch_faults_end_with_the_right_routes(tmp_path, procs, emu):
    a, b = procs.whoami(name="a"), procs.whoami(name="b")
    app_behind(emu, a, "app.test", "web")
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: name_of(g.port, "/", "app.test") == "a", what="initial route")

    # dropped watch connections: changes made meanwhile arrive on the re-watch
    emu.drop_watches()
    emu.apply(slice_for("app", [b]))
    wait_for(lambda: name_of(g.port, "/", "app.test") == "b", what="change after dropped watches")

    # history compacted while the Ingress changes: 410 Gone as an ERROR event -> relist
    emu.compact()
    emu.apply(ingress("web", [rule("new.test", [("/", "Prefix", "app")])]))
    wait_for(lambda: name_of(g.port, "/", "new.test") == "b", what="relist after 410 (event)")
    assert name_of(g.port, "/", "app.test") == 404  # a deletion missed while away is not left behind

    # 410 as an HTTP status on the watch request
    emu.watch_gone_as_event = False
    emu.compact()
    emu.apply(ingress("web", [rule("third.test", [("/", "Prefix", "app")])]))
    wait_for(lambda: name_of(g.port, "/", "third.test") == "b", what="relist after 410 (status)")

    # 500s and a 429 with Retry-After on every request for a while: the last
    # good routes keep serving, then the change lands
    emu.fail_next(500, count=3)
    emu.fail_next(429, count=1, retry_after=1)
    emu.drop_watches()
    emu.apply(ingress("web", [rule("fourth.test", [("/", "Prefix", "app")])]))
    assert name_of(g.port, "/", "third.test") in ("b", 404)
    wait_for(lambda: name_of(g.port, "/", "fourth.test") == "b", timeout=15, what="routes after 500s and 429")
    assert name_of(g.port, "/", "third.test") == 404
    out = g.output()
    assert "410" in out or "expired" in out
    assert any("ingresses?limit=500" in p for _, p in emu.requests)  # lists are paginated
    assert any("allowWatchBookmarks=true" in p for _, p in emu.requests)


def test_class_selection(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    emu.apply(ingress_class("gantry"))
    emu.apply(ingress_class("other", controller="example.com/other"))
    emu.apply(service("app"))
    emu.apply(slice_for("app", [a]))
    rules = lambda h: [rule(h, [("/", "Prefix", "app")])]  # noqa: E731
    emu.apply(ingress("mine", rules("mine.test")))
    emu.apply(ingress("theirs", rules("theirs.test"), cls="other"))
    emu.apply(ingress("legacy", rules("legacy.test"), cls=None, annotations={"kubernetes.io/ingress.class": "gantry"}))
    emu.apply(ingress("legacy-other", rules("legacy-other.test"), cls=None,
                      annotations={"kubernetes.io/ingress.class": "nginx"}))
    emu.apply(ingress("classless", rules("classless.test"), cls=None))
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: name_of(g.port, "/", "mine.test") == "a", what="ingressClassName")
    assert name_of(g.port, "/", "legacy.test") == "a"
    assert name_of(g.port, "/", "theirs.test") == 404
    assert name_of(g.port, "/", "legacy-other.test") == 404
    assert name_of(g.port, "/", "classless.test") == 404
    # our IngressClass becomes the default: class-less Ingresses are ours
    emu.apply(ingress_class("gantry", default=True))
    wait_for(lambda: name_of(g.port, "/", "classless.test") == "a", what="default class")


def test_path_rules_of_the_ingress_specification(tmp_path, procs, emu):
    ups = {n: procs.whoami(name=n) for n in ("root", "foo", "foo-exact", "foobar", "aaa-bbb", "wild", "default")}
    emu.apply(ingress_class())
    for n, up in ups.items():
        emu.apply(service(n))
        emu.apply(slice_for(n, [up]))
    emu.apply(ingress("paths", [
        rule("p.test", [("/", "Prefix", "root"), ("/foo", "Prefix", "foo"), ("/foo", "Exact", "foo-exact"),
                        ("/foobar", "Prefix", "foobar"), ("/aaa/bbb/", "Prefix", "aaa-bbb")]),
        rule("*.wild.test", [("/", "ImplementationSpecific", "wild")]),
    ], default_backend={"service": {"name": "default", "port": {"number": 80}}}))
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: name_of(g.port, "/", "p.test") == "root", what="routes")
    cases = [  # the Ingress specification's examples of Prefix matching
        ("/", "root"), ("/foo", "foo-exact"), ("/foo/", "foo"), ("/foo/bar", "foo"), ("/foobar", "foobar"),
        ("/foobarbaz", "root"), ("/fo", "root"), ("/aaa/bbb", "aaa-bbb"), ("/aaa/bbb/", "aaa-bbb"),
        ("/aaa/bbbxyz", "root"), ("/aaa/bbb/ccc", "aaa-bbb"),
    ]
    got = [(p, name_of(g.port, p, "p.test")) for p, _ in cases]
    assert got == cases
    assert name_of(g.port, "/x", "a.wild.test") == "wild"
    assert name_of(g.port, "/x", "a.b.wild.test") == "default"  # one label only; else the defaultBackend
    assert name_of(g.port, "/anything", "unknown.test") == "default"


def test_missing_objects_are_reported_and_the_rest_served(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    app_behind(emu, a, "good.test", "good")
    emu.apply(ingress("nosvc", [rule("nosvc.test", [("/", "Prefix", "missing")])]))
    bad_port = ingress("noport", [rule("noport.test", [("/", "Prefix", "app")])])
    bad_port["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = {"name": "grpc"}
    emu.apply(bad_port)
    emu.apply(ingress("nosecret", [rule("s.test", [("/", "Prefix", "app")])],
                      tls=[{"hosts": ["s.test"], "secretName": "absent"}]))
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: name_of(g.port, "/", "good.test") == "a", what="good route")
    problems = "\n".join(g.api("/api/overview")["problems"])
    assert "ingress default/nosvc: service default/missing does not exist" in problems
    assert "ingress default/noport: service default/app has no port grpc" in problems
    assert "ingress default/nosecret: TLS secret default/absent does not exist" in problems
    assert name_of(g.port, "/", "s.test") == "a"  # served, with the default certificate on TLS
    assert "ingress default/nosvc" in g.output()


def test_tls_from_a_secret_by_sni(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    d = str(tmp_path)
    crt, key = make_cert(d, "secure.test")
    app_service(emu, a)
    emu.apply({"kind": "Secret", "metadata": {"name": "secure-tls", "namespace": "default"}, "type": "kubernetes.io/tls",
               "data": {"tls.crt": base64.b64encode(open(crt, "rb").read()).decode(),
                        "tls.key": base64.b64encode(open(key, "rb").read()).decode()}})
    emu.apply(ingress("secure", [rule("secure.test", [("/", "Prefix", "app")])],
                      tls=[{"hosts": ["secure.test"], "secretName": "secure-tls"}]))
    g = gantry(procs, tmp_path, emu, entrypoints=("web", "websecure"))
    tls_port = g.ports["websecure"]
    wait_for(lambda: "DNS:secure.test" in peer_names(tls_port, "secure.test"), what="certificate from the secret")
    r = run(["curl", "-s", "--cacert", d + "/ca.crt", "--resolve", "secure.test:%d:127.0.0.1" % tls_port,
             "https://secure.test:%d/" % tls_port])
    assert b"Name: a" in r.stdout
    assert name_of(g.port, "/", "secure.test") == "a"  # and over plain HTTP


def test_kubeconfig_and_the_real_kubectl(tmp_path, procs, emu):
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    a = procs.whoami(name="a")
    kc = kubeconfig(str(tmp_path / "kubeconfig"), emu, emu.ca)
    env = dict(os.environ, KUBECONFIG=kc)
    manifest = tmp_path / "app.yaml"
    manifest.write_text(textwrap.dedent("""\
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: gantry}
        spec: {controller: gantry.io/ingress-controller}
        ---
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
        metadata: {name: web, namespace: default}
        spec:
          ingressClassName: gantry
          rules:
          - host: kubectl.test
            http:
              paths:
              - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
        """ % a.port))
    r = subprocess.run(["kubectl", "create", "--validate=false", "-f", str(manifest)], env=env, capture_output=True,
                       timeout=60 * SLOW)
    assert r.returncode == 0, r.stderr.decode()
    # gantry finds the emulator through KUBECONFIG (server, CA file, token)
    g = procs.gantry(tmp_path, None, args=["--providers.kubernetesIngress=true"], env_extra={"KUBECONFIG": kc})
    wait_for(lambda: name_of(g.port, "/", "kubectl.test") == "a", what="route from kubectl's objects")
    r = subprocess.run(["kubectl", "get", "ingress", "web", "-o", "jsonpath={.spec.rules[0].host}"], env=env,
                       capture_output=True, timeout=60 * SLOW)
    assert r.stdout == b"kubectl.test", r.stderr.decode()
    r = subprocess.run(["kubectl", "delete", "ingress", "web"], env=env, capture_output=True, timeout=60 * SLOW)
    assert r.returncode == 0, r.stderr.decode()
    wait_for(lambda: name_of(g.port, "/", "kubectl.test") == 404, what="route gone after kubectl delete")
    assert metric(g, "gantry_provider_synced", provider="kubernetes") == 1


def test_no_api_server_is_a_clear_error(tmp_path):
    from conftest import GANTRY_BIN
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    r = subprocess.run([GANTRY_BIN, "--providers.kubernetesIngress=true", "--entryPoints.web.address=127.0.0.1:0",
                        "--admin.address="], env=env, capture_output=True, timeout=20 * SLOW)
    assert r.returncode != 0
    assert b"no API server" in r.stdout + r.stderr


def test_only_the_lease_holder_writes_status_and_the_other_takes_over(tmp_path, procs, emu):
    """Two instances with different ingressEndpoint IPs: the Ingress's status
    always names the Lease holder's; when it stops (lease released) the
    other takes over at once, and when it is killed (lease not renewed)
    after the lease duration."""
    import signal
    import time
    a = procs.whoami(name="a")
    app_behind(emu, a, "app.test", "web")
    emu.apply(ingress("other-class", [rule("o.test", [("/", "Prefix", "app")])], cls="nginx"))
    lease = ["--providers.kubernetesIngress.leaderElection.leaseDuration=2s",
             "--providers.kubernetesIngress.leaderElection.namespace=gantry-system"]
    g1 = gantry(procs, subdir(tmp_path, "one"), emu,
                args=lease + ["--providers.kubernetesIngress.ingressEndpoint.ip=10.0.0.1"])
    g2 = gantry(procs, subdir(tmp_path, "two"), emu,
                args=lease + ["--providers.kubernetesIngress.ingressEndpoint.ip=10.0.0.2"])
    ip_of = {g1.proc.pid: "10.0.0.1", g2.proc.pid: "10.0.0.2"}

    def holder():
        le = emu.get("Lease", "gantry-system", "gantry-leader")
        h = (le or {}).get("spec", {}).get("holderIdentity", "")
        return int(h.rsplit("_", 1)[1]) if "_" in h else None

    def status_ip():
        ing = emu.get("Ingress", "default", "web")
        lb = (ing.get("status") or {}).get("loadBalancer", {}).get("ingress") or [{}]
        return lb[0].get("ip")

    leader = wait_for(holder, what="a lease holder")
    wait_for(lambda: status_ip() == ip_of[leader], what="status written by the leader")
    for _ in range(10):  # stable: the follower never overwrites it
        time.sleep(0.2)
        assert holder() == leader and status_ip() == ip_of[leader]
    assert "status" not in emu.get("Ingress", "default", "other-class")  # not ours: untouched
    first, second = (g1, g2) if leader == g1.proc.pid else (g2, g1)

    # SIGTERM: the lease is released, the other instance takes over without waiting for expiry
    t0 = time.time()
    first.stop()
    wait_for(lambda: holder() == second.proc.pid, timeout=3, what="takeover after release")
    wait_for(lambda: status_ip() == ip_of[second.proc.pid], what="status from the new leader")
    print("takeover after a graceful stop: %.2f s" % (time.time() - t0))
    assert "released the lease" in first.output()
    assert "became the leader" in second.output()

    # a third instance, then the leader killed: taken over once the lease expires
    g3 = gantry(procs, subdir(tmp_path, "three"), emu,
                args=lease + ["--providers.kubernetesIngress.ingressEndpoint.ip=10.0.0.3"])
    time.sleep(1)
    assert holder() == second.proc.pid
    t0 = time.time()
    second.proc.send_signal(signal.SIGKILL)
    second.proc.wait()
    second.check_exit = False
    wait_for(lambda: holder() == g3.proc.pid, timeout=10, what="takeover after expiry")
    took = time.time() - t0
    print("takeover after a kill: %.2f s (lease 2 s)" % took)
    assert took >= 1.5
    wait_for(lambda: status_ip() == "10.0.0.3", what="status from the third instance")


def test_mirroring_annotation(tmp_path, procs, emu):
    """gantry.io/mirror on an Ingress: a share of its requests is copied to
    another Service of its namespace; a broken annotation is reported and
    the Ingress served without mirroring."""
    from attack import RecordingUpstream
    main, shadow = RecordingUpstream(body=b"main"), RecordingUpstream(body=b"shadow")
    emu.apply(ingress_class())
    for name, up in (("app", main), ("shadow", shadow)):
        emu.apply(service(name))
        emu.apply(slice_for(name, [up]))
    emu.apply(ingress("web", [rule("m.test", [("/", "Prefix", "app")])],
                      annotations={"gantry.io/mirror": "shadow:80=50", "gantry.io/mirror-max-body-size": "1000"}))
    emu.apply(ingress("broken", [rule("b.test", [("/", "Prefix", "app")])],
                      annotations={"gantry.io/mirror": "shadow=50"}))
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: get(g.port, "/", "m.test")[2] == b"main", what="mirrored route")
    for i in range(99):
        assert get(g.port, "/r%d" % i, "m.test")[2] == b"main"
    wait_for(lambda: len(shadow.requests) >= 50, what="copies")
    assert abs(len(shadow.requests) - 50) <= 2, len(shadow.requests)
    svc = [s for s in g.api("/api/http/services") if s["name"].startswith("default-web-mirror")][0]
    assert svc["type"] == "mirroring" and svc["mirroring"]["maxBodySize"] == 1000
    assert svc["mirroring"]["mirrors"][0]["stats"]["requests"] == len(shadow.requests)
    assert get(g.port, "/", "b.test")[2] == b"main"
    problems = "\n".join(g.api("/api/overview")["problems"])
    assert "ingress default/broken: annotation gantry.io/mirror: `shadow=50` is not" in problems
    n = len(shadow.requests)
    for _ in range(10):
        get(g.port, "/", "b.test")
    assert len(shadow.requests) == n  # not mirrored


def test_kubeconfig_with_embedded_data_client_certificate_and_rotating_token(tmp_path, procs):
    """kubeconfig variants: certificate-authority-data with a client
    certificate and key given as -data (no token at all), and a tokenFile
    that is rotated while gantry runs (re-read at every request)."""
    from tls_certs import make_client_cert
    d = str(tmp_path)
    cert, key = make_cert(d, "apiserver", ["localhost"], ips=["127.0.0.1"])
    emu = Emulator(cert=cert, key=key, bookmark_interval=0.5, client_ca=d + "/ca.crt").start()
    try:
        a = procs.whoami(name="a")
        app_behind(emu, a, "one.test", "web")
        b64 = lambda p: base64.b64encode(open(p, "rb").read()).decode()  # noqa: E731
        ccrt, ckey = make_client_cert(d, "gantry-client")
        kc1 = tmp_path / "kc-cert"
        kc1.write_text("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n"
                       "    server: %s\n    certificate-authority-data: %s\nusers:\n- name: u\n  user:\n"
                       "    client-certificate-data: %s\n    client-key-data: %s\ncontexts:\n- name: c\n"
                       "  context: {cluster: k, user: u}\n" % (emu.url, b64(d + "/ca.crt"), b64(ccrt), b64(ckey)))
        g1 = procs.gantry(subdir(tmp_path, "g1"), None, args=["--providers.kubernetesIngress=true"],
                          env_extra={"KUBECONFIG": str(kc1)})
        wait_for(lambda: name_of(g1.port, "/", "one.test") == "a", what="route with a client certificate")

        token_file = tmp_path / "token"
        token_file.write_text(emu.token + "\n")
        kc2 = tmp_path / "kc-token"
        kc2.write_text("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n"
                       "    server: %s\n    certificate-authority: %s\nusers:\n- name: u\n  user:\n"
                       "    tokenFile: %s\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n"
                       % (emu.url, d + "/ca.crt", token_file))
        g2 = procs.gantry(subdir(tmp_path, "g2"), None, args=["--providers.kubernetesIngress=true"],
                          env_extra={"KUBECONFIG": str(kc2)})
        wait_for(lambda: name_of(g2.port, "/", "one.test") == "a", what="route with a token file")
        # the token rotates: the API server only accepts the new one, the file says so
        emu.token = "rotated-token"
        token_file.write_text("rotated-token\n")
        emu.drop_watches()
        emu.apply(ingress("web", [rule("two.test", [("/", "Prefix", "app")])]))
        wait_for(lambda: name_of(g2.port, "/", "two.test") == "a", what="route after the token rotated")
        assert "HTTP status 401" not in g2.output()  # the new token was read from the file at once
    finally:
        emu.stop()


def test_in_cluster_service_account(tmp_path, procs, emu):
    """In a pod: KUBERNETES_SERVICE_HOST/_PORT and the service account's
    token and CA under /var/run/secrets/kubernetes.io/serviceaccount (made
    here for the test when this machine has none); the token is re-read at
    every request, as kubelet rotates it."""
    sa = "/var/run/secrets/kubernetes.io/serviceaccount"
    if os.path.exists(sa):
        pytest.skip("this machine has a real service account directory; not touching it")
    if os.geteuid() != 0:
        pytest.skip("needs root to create %s" % sa)
    created = [p for p in ("/var/run/secrets", "/var/run/secrets/kubernetes.io", sa) if not os.path.exists(p)]
    os.makedirs(sa)
    try:
        shutil.copy(emu.ca, sa + "/ca.crt")
        with open(sa + "/token", "w") as f:
            f.write(emu.token)
        a = procs.whoami(name="a")
        app_behind(emu, a, "pod.test", "web")
        g = procs.gantry(tmp_path, None, args=["--providers.kubernetesIngress=true"],
                         env_extra={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(emu.port),
                                    "KUBECONFIG": ""})
        wait_for(lambda: name_of(g.port, "/", "pod.test") == "a", what="route in-cluster")
        assert "in-cluster service account" in g.output()
        emu.token = "kubelet-rotated"
        with open(sa + "/token.tmp", "w") as f:
            f.write("kubelet-rotated")
        os.rename(sa + "/token.tmp", sa + "/token")
        emu.drop_watches()
        emu.apply(ingress("web", [rule("pod2.test", [("/", "Prefix", "app")])]))
        wait_for(lambda: name_of(g.port, "/", "pod2.test") == "a", what="route after the token rotated")
    finally:
        shutil.rmtree(sa)
        for p in reversed(created[:-1]):  # only what this test made
            os.rmdir(p)


def test_large_lists_are_paginated(tmp_path, procs, emu):
    """1,100 Ingresses: listed in pages of 500 with continue tokens; an
    expired continue token (history compacted mid-list) restarts the list."""
    a = procs.whoami(name="a")
    app_service(emu, a)
    for i in range(1100):
        emu.apply(ingress("ing-%d" % i, [rule("h%d.test" % i, [("/", "Prefix", "app")])]))
    emu.fail_next(410, count=1, path=r"ingresses\?.*continue=")  # the first continue token has expired
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: name_of(g.port, "/", "h1099.test") == "a", timeout=20, what="the last page's Ingress")
    assert name_of(g.port, "/", "h0.test") == "a" and name_of(g.port, "/", "h550.test") == "a"
    pages = [p for m, p in emu.requests if m == "GET" and "/ingresses?limit=500" in p]
    assert sum("continue=" in p for p in pages) >= 3, pages  # 2 continues, the first one refused and redone


def test_server_timeouts_resume_the_watch_without_a_relist(tmp_path, procs, emu):
    """The API server ends every watch after a second (its timeoutSeconds):
    gantry watches again from the last resourceVersion, never lists again,
    and changes keep arriving."""
    import time
    import urllib.parse
    a = procs.whoami(name="a")
    emu.max_watch_seconds = 1
    app_behind(emu, a, "t0.test", "web")
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: name_of(g.port, "/", "t0.test") == "a", what="first route")
    for i in range(1, 4):
        time.sleep(1.2)
        emu.apply(ingress("web", [rule("t%d.test" % i, [("/", "Prefix", "app")])]))
        wait_for(lambda: name_of(g.port, "/", "t%d.test" % i) == "a", what="route after a server timeout")
    ing = [urllib.parse.parse_qs(urllib.parse.urlsplit(p).query) for m, p in emu.requests
           if m == "GET" and "/ingresses?" in p]
    lists = [q for q in ing if "watch" not in q]
    watches = [int(q["resourceVersion"][0]) for q in ing if "watch" in q]
    assert len(lists) == 1, lists  # one list at start, never again
    assert len(watches) >= 4 and watches == sorted(watches), watches  # resumed from ever newer versions
    assert all("allowWatchBookmarks" in q for q in ing if "watch" in q)


def test_namespace_and_label_selector_filters(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    emu.apply(ingress_class())
    for ns in ("team-a", "team-b"):
        emu.apply(service("app", ns=ns))
        emu.apply(slice_for("app", [a], ns=ns))
    labelled = ingress("yes", [rule("yes.test", [("/", "Prefix", "app")])], ns="team-a")
    labelled["metadata"]["labels"] = {"expose": "public"}
    emu.apply(labelled)
    emu.apply(ingress("nolabel", [rule("nolabel.test", [("/", "Prefix", "app")])], ns="team-a"))
    other = ingress("otherns", [rule("otherns.test", [("/", "Prefix", "app")])], ns="team-b")
    other["metadata"]["labels"] = {"expose": "public"}
    emu.apply(other)
    g = gantry(procs, tmp_path, emu, args=["--providers.kubernetesIngress.namespaces=team-a",
                                           "--providers.kubernetesIngress.labelSelector=expose=public"])
    wait_for(lambda: name_of(g.port, "/", "yes.test") == "a", what="the selected Ingress")
    assert name_of(g.port, "/", "nolabel.test") == 404   # filtered by the label selector
    assert name_of(g.port, "/", "otherns.test") == 404   # another namespace
    paths = [p for m, p in emu.requests if m == "GET"]
    assert any("/namespaces/team-a/ingresses?" in p and "labelSelector=expose%3Dpublic" in p for p in paths)
    assert not any("/namespaces/team-b/" in p for p in paths)
    assert any("/namespaces/team-a/secrets?" in p and "fieldSelector=type%3Dkubernetes.io%2Ftls" in p for p in paths)


def test_retry_after_is_honoured(tmp_path, procs, emu):
    """A 429 with Retry-After: 2 on the Ingress watch: the next request for
    Ingresses comes no sooner than two seconds later."""
    a = procs.whoami(name="a")
    app_behind(emu, a, "r0.test", "web")
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: name_of(g.port, "/", "r0.test") == "a", what="first route")
    emu.fail_next(429, count=1, retry_after=2, path=r"/ingresses\?.*watch=1")
    emu.drop_watches()
    emu.apply(ingress("web", [rule("r1.test", [("/", "Prefix", "app")])]))
    wait_for(lambda: name_of(g.port, "/", "r1.test") == "a", timeout=10, what="route after the 429")
    log = [e for e in emu.request_log if "/ingresses?" in e[2]]
    refused = [i for i, e in enumerate(log) if e[3] == 429]
    assert refused, log
    i = refused[0]
    gap = log[i + 1][0] - log[i][0]
    print("429 with Retry-After 2: next request after %.2f s" % gap)
    assert gap >= 1.9, gap


def test_status_from_a_published_service(tmp_path, procs, emu):
    """ingressEndpoint.publishedService: the Ingress status follows the
    Service's load-balancer addresses, else its cluster IP."""
    a = procs.whoami(name="a")
    app_behind(emu, a, "p.test")
    published = service("gantry", ns="gantry-system", clusterIP="10.96.0.10")
    published["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}, {"hostname": "lb.example.net"}]}}
    emu.apply(published)
    gantry(procs, tmp_path, emu, args=["--providers.kubernetesIngress.ingressEndpoint.publishedService=gantry-system/gantry",
                                       "--providers.kubernetesIngress.leaderElection.leaseDuration=2s"])

    def status():
        return ((emu.get("Ingress", "default", "web") or {}).get("status") or {}).get("loadBalancer", {}).get("ingress")
    wait_for(lambda: status() == [{"ip": "192.0.2.10"}, {"hostname": "lb.example.net"}], what="load-balancer addresses")
    published["status"] = {"loadBalancer": {}}  # the load balancer went away: the cluster IP
    emu.apply(published)
    wait_for(lambda: status() == [{"ip": "10.96.0.10"}], timeout=15, what="cluster IP")
