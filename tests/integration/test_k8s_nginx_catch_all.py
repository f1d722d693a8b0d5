"""ingress-nginx's catch-all server `_`, with the real kubectl against the
API-server emulator. An Ingress with a defaultBackend and no rules
configures `_`'s location with its annotations but the Rewrite and Redirect
ones (createServers keeps the location's own): CORS applies,
permanent-redirect, app-root and force-ssl-redirect do not. Host-less rules
also live in `_`, whose request hosts have no certificate: ssl-redirect
never fires there (lua_ingress.lua asks for a certificate for the host),
force-ssl-redirect and the other redirects do; a host with a certificate is
redirected (the control)."""
import http.client

from conftest import SLOW, wait_for
from test_k8s_nginx import NGINX_CLASS, apply, backends, emu, gantry  # noqa: F401

BACKEND = "{service: {name: app, port: {number: 80}}}"


def ingress(emu, name, annotations, spec):
    lines = "\n".join("    nginx.ingress.kubernetes.io/%s: \"%s\"" % kv for kv in annotations.items())
    apply(emu, "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: %s\n  namespace: default\n"
          "  annotations:\n%s\nspec:\n  ingressClassName: nginx\n%s" % (name, lines or "    example.com/plain: \"x\"", spec))


def rule(path, host=None):
    return "  rules:\n  - %shttp: {paths: [{path: %s, pathType: Prefix, backend: %s}]}\n" % (
        "host: %s\n    " % host if host else "", path, BACKEND)


TLS = "  tls: [{hosts: [a.test], secretName: missing}]\n"


def request(port, host, path="/"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
    conn.request("GET", path, headers={"Host": host, "Origin": "http://o.test"})
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status, r.getheader("Location"), r.getheader("Access-Control-Allow-Origin")


def test_catch_all_and_host_less_redirects(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    apply(emu, NGINX_CLASS)
    backends(emu, "app", [a])
    ingress(emu, "catchall", {"permanent-redirect": "https://moved.test/", "app-root": "/app",
                              "force-ssl-redirect": "true", "enable-cors": "true"},
            "  defaultBackend: %s\n" % BACKEND + TLS)
    ingress(emu, "hostless", {}, rule("/h") + TLS)
    ingress(emu, "hostless-force", {"force-ssl-redirect": "true"}, rule("/f"))
    ingress(emu, "hostless-temp", {"temporal-redirect": "https://tmp.test/"}, rule("/t"))
    ingress(emu, "hosted", {}, rule("/", "a.test") + TLS)
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: request(g.port, "a.test")[0] == 301, what="the Ingresses")
    assert request(g.port, "a.test", "/x?y=1")[:2] == (301, "https://a.test/x?y=1")  # the control (301 for a GET: docs)
    # defaultBackend only: served, with CORS, no redirect of any kind (not even app-root's "/")
    assert request(g.port, "any.test") == (200, None, "http://o.test")
    assert request(g.port, "any.test", "/deep") == (200, None, "http://o.test")
    # host-less rules: ssl-redirect (on by default, TLS section) does not fire; force- does
    assert request(g.port, "any.test", "/h")[:2] == (200, None)
    assert request(g.port, "any.test", "/f/1")[:2] == (301, "https://any.test/f/1")
    assert request(g.port, "any.test", "/t")[:2] == (302, "https://tmp.test/")
    # the catch-all's CORS stays its own: a host-less rule of another Ingress has none
    assert request(g.port, "any.test", "/h")[2] is None
