"""Traefik's Ingress annotations (traefik.ingress.kubernetes.io/router.* on
the Ingress, service.* on the Service) through the API-server emulator,
applied with the real kubectl and requested through gantry: each does what
Traefik's documentation says, and a malformed or unknown one refuses only
the Ingresses it concerns, with the object, the annotation and the reason
in the API.
"""
import json
import shutil

import pytest

from conftest import get, run, wait_for
from k8s_objects import endpoint_slice_yaml, ingress_yaml, service_yaml
from test_k8s_nginx import apply, emu  # noqa: F401 (the emulator fixture)

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

# a file-provider middleware the annotations refer to as tag@file
DYNAMIC = """\
http:
  middlewares:
    tag:
      headers:
        customRequestHeaders:
          X-Tagged: "yes"
"""


def gantry(procs, tmp_path, emu):
    g = procs.gantry(tmp_path, DYNAMIC, entrypoints=("web", "websecure"),
                     args=["--providers.kubernetesIngress=true",
                           "--providers.kubernetesIngress.endpoint=" + emu.url,
                           "--providers.kubernetesIngress.token=" + emu.token,
                           "--providers.kubernetesIngress.certAuthFilePath=" + emu.ca])
    wait_for(lambda: g.admin("/readyz")[0] == 200, what="kubernetes provider synced")
    return g


CLASS = """\
    apiVersion: networking.k8s.io/v1
    kind: IngressClass
    metadata: {name: gantry}
    spec: {controller: gantry.io/ingress-controller}
    """


def service(emu, name, ups, annotations=None, extra_spec=""):
    """The Service <name> (port 80, annotated) whose endpoints are the whoami servers <ups>, one slice each."""
    apply(emu, service_yaml(name, annotations, spec=extra_spec))
    for i, up in enumerate(ups):
        apply(emu, endpoint_slice_yaml("%s-%d" % (name, i), name, up.port))


def ingress(emu, name, host, svc, annotations=None, tls=None, port=80):
    apply(emu, ingress_yaml(name, host, svc, port, "gantry", annotations, tls))


def whoami(port, host, headers=None):
    h = {"Accept": "application/json"}
    h.update(headers or {})
    status, hdrs, body = get(port, "/", host, headers=h)
    return status, hdrs, (json.loads(body) if status == 200 and body.startswith(b"{") else body)


def problems(g):
    return "\n".join(g.api("/api/overview")["problems"])


def https_name(tmp_path, port, host):
    """The whoami name behind https://<host> on <port> (the default certificate: not verified)."""
    r = run(["curl", "-sk", "--resolve", "%s:%d:127.0.0.1" % (host, port), "-H", "Accept: application/json",
             "https://%s:%d/" % (host, port)], check=False)
    try:
        return json.loads(r.stdout)["name"]
    except ValueError:
        return r.stdout[:200]


def test_router_annotations(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    apply(emu, CLASS)
    service(emu, "app", [a])
    pfx = "traefik.ingress.kubernetes.io/router."
    ingress(emu, "tagged", "tagged.test", "app", {pfx + "middlewares": "tag@file"})
    ingress(emu, "secure-only", "secure.test", "app", {pfx + "entrypoints": "websecure", pfx + "tls": "true"})
    ingress(emu, "other-port", "ep.test", "app", {pfx + "entrypoints": "websecure"})
    ingress(emu, "bad-priority", "bad.test", "app", {pfx + "priority": "high"})
    ingress(emu, "unknown-key", "unknown.test", "app", {pfx + "colour": "blue"})
    ingress(emu, "plain", "plain.test", "app")
    g = gantry(procs, tmp_path, emu)
    web, websecure = g.ports["web"], g.ports["websecure"]
    wait_for(lambda: whoami(web, "plain.test")[0] == 200, what="plain route")
    # router.middlewares: the file middleware runs on the Ingress's routers
    info = whoami(web, "tagged.test")[2]
    assert info["name"] == "a" and info["headers"].get("X-Tagged") == "yes", info
    assert "X-Tagged" not in whoami(web, "plain.test")[2]["headers"]
    # router.entrypoints + router.tls: TLS on websecure only
    assert get(web, "/", "secure.test")[0] == 404
    assert https_name(tmp_path, websecure, "secure.test") == "a"
    # router.entrypoints alone: a plain-HTTP router on websecure, not on web
    assert get(web, "/", "ep.test")[0] == 404
    assert whoami(websecure, "ep.test")[2]["name"] == "a"
    # malformed and unknown router annotations: only those Ingresses are refused
    p = problems(g)
    assert "ingress default/bad-priority: annotation traefik.ingress.kubernetes.io/router.priority: " \
           "not an integer: `high` (not served)" in p, p
    assert "ingress default/unknown-key: annotation traefik.ingress.kubernetes.io/router.colour: " \
           "unknown router option `colour` (not served)" in p, p
    assert get(web, "/", "bad.test")[0] == 404 and get(web, "/", "unknown.test")[0] == 404
    # fixed: the Ingress is served again
    ingress(emu, "bad-priority", "bad.test", "app", {pfx + "priority": "7"})
    wait_for(lambda: whoami(web, "bad.test")[0] == 200, what="fixed Ingress served")
    assert "bad-priority" not in problems(g)


def test_service_annotations(tmp_path, procs, emu):
    a, b, c = procs.whoami(name="a"), procs.whoami(name="b"), procs.whoami(name="c")
    apply(emu, CLASS)
    svc = "traefik.ingress.kubernetes.io/service."
    service(emu, "sticky", [a, b], {svc + "sticky.cookie": "true", svc + "sticky.cookie.name": "lb",
                                    svc + "sticky.cookie.httponly": "true", svc + "sticky.cookie.samesite": "strict",
                                    svc + "sticky.cookie.maxage": "60"})
    service(emu, "nohost", [a], {svc + "passhostheader": "false", svc + "middlewares": "tag@file"})
    # nativelb: the one server is the Service's clusterIP and port (here whoami c itself), no EndpointSlice
    apply(emu, """\
        apiVersion: v1
        kind: Service
        metadata:
          name: native
          namespace: default
          annotations: {traefik.ingress.kubernetes.io/service.nativelb: "true"}
        spec:
          clusterIP: 127.0.0.1
          ports: [{name: http, port: %d, targetPort: 8080}]
        """ % c.port)
    service(emu, "bad-age", [a], {svc + "sticky.cookie.maxage": "soon"})
    service(emu, "unknown", [a], {svc + "colour": "blue"})
    service(emu, "nodeport", [a], {svc + "nodeportlb": "true"}, extra_spec="  type: NodePort\n")
    service(emu, "no-transport", [a], {svc + "serverstransport": "absent@file"})
    service(emu, "plain", [b])
    ingress(emu, "sticky", "sticky.test", "sticky")
    ingress(emu, "nohost", "nohost.test", "nohost")
    ingress(emu, "native", "native.test", "native", port=c.port)
    ingress(emu, "bad-age", "bad-age.test", "bad-age")
    ingress(emu, "unknown", "unknown.test", "unknown")
    ingress(emu, "nodeport", "nodeport.test", "nodeport")
    ingress(emu, "no-transport", "no-transport.test", "no-transport")
    ingress(emu, "plain", "plain.test", "plain")
    g = gantry(procs, tmp_path, emu)
    web = g.port
    wait_for(lambda: whoami(web, "plain.test")[0] == 200, what="plain route")
    # sticky.cookie.*: the cookie as asked, and a client holding it stays on one server
    names = {whoami(web, "sticky.test")[2]["name"] for _ in range(8)}
    assert names == {"a", "b"}
    status, hdrs, info = whoami(web, "sticky.test")
    cookie = hdrs["set-cookie"]
    assert cookie.startswith("lb=") and "Max-Age=60" in cookie and "HttpOnly" in cookie \
        and "SameSite=Strict" in cookie, cookie
    pinned = {whoami(web, "sticky.test", {"Cookie": cookie.split(";")[0]})[2]["name"] for _ in range(8)}
    assert pinned == {info["name"]}
    # passhostheader false: the server's address as Host; service.middlewares run
    info = whoami(web, "nohost.test")[2]
    assert info["headers"].get("host") == "127.0.0.1:%d" % a.port and info["headers"].get("X-Tagged") == "yes", info
    assert whoami(web, "plain.test")[2]["headers"].get("host") == "plain.test"
    # nativelb: the clusterIP
    assert whoami(web, "native.test")[2]["name"] == "c"
    # malformed, unknown and unimplemented annotations refuse the Ingresses of that Service only
    p = problems(g)
    assert "ingress default/bad-age: service default/bad-age: annotation " \
           "traefik.ingress.kubernetes.io/service.sticky.cookie.maxage: not an integer: `soon` (not served)" in p, p
    assert "ingress default/unknown: service default/unknown: annotation " \
           "traefik.ingress.kubernetes.io/service.colour: unknown service option `colour` (not served)" in p, p
    assert "ingress default/nodeport: service default/nodeport: annotation " \
           "traefik.ingress.kubernetes.io/service.nodeportlb: is not implemented by gantry" in p, p
    for host in ("bad-age.test", "unknown.test", "nodeport.test"):
        assert get(web, "/", host)[0] == 404, host
    # a serversTransport that does not exist: the service is refused by name
    assert "serversTransport 'absent@file' does not exist" in p, p
    assert get(web, "/", "no-transport.test")[0] == 404
    # the Service fixed: its Ingress is served (the Ingress itself did not change)
    service(emu, "bad-age", [a], {svc + "sticky.cookie.maxage": "30"})
    wait_for(lambda: whoami(web, "bad-age.test")[0] == 200, what="Service fixed")
    assert "Max-Age=30" in whoami(web, "bad-age.test")[1]["set-cookie"]
