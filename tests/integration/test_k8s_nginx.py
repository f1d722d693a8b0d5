"""providers.kubernetesIngressNGINX against the API-server emulator: Ingresses
written as a team migrating from ingress-nginx has them (class `nginx`,
cert-manager TLS, htpasswd Secrets, oauth2-proxy-style auth-url, regex
rewrites, allow lists, sticky cookies) applied with the real kubectl, then
requested through gantry: each behaves as ingress-nginx documents, or is
not served with the reason in the API when gantry cannot honour it.
"""
import base64
import http.server
import json
import os
import shutil
import socketserver
import subprocess
import textwrap
import threading

import pytest

from conftest import SLOW, free_port, get, run, wait_for
from k8s_emulator import Emulator, kubeconfig
from test_mw_limits import request
from tls_certs import make_cert

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


@pytest.fixture
def emu(tmp_path):
    d = str(tmp_path)
    cert, key = make_cert(d, "apiserver", ["localhost"], ips=["127.0.0.1"])
    e = Emulator(cert=cert, key=key, bookmark_interval=0.5).start()
    e.ca = d + "/ca.crt"
    e.kubeconfig = kubeconfig(str(tmp_path / "kubeconfig"), e, e.ca)
    yield e
    e.stop()


def gantry(procs, tmp_path, emu, args=()):
    g = procs.gantry(tmp_path, None, entrypoints=("web", "websecure"),
                     args=["--providers.kubernetesIngressNGINX=true",
                           "--providers.kubernetesIngressNGINX.endpoint=" + emu.url,
                           "--providers.kubernetesIngressNGINX.token=" + emu.token,
                           "--providers.kubernetesIngressNGINX.certAuthFilePath=" + emu.ca] + list(args))
    wait_for(lambda: g.admin("/readyz")[0] == 200, what="kubernetes provider synced")
    return g


def kubectl(emu, *args, stdin=None):
    env = dict(os.environ, KUBECONFIG=emu.kubeconfig)
    r = subprocess.run(["kubectl"] + list(args), env=env, input=stdin, capture_output=True, timeout=60 * SLOW)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def apply(emu, yaml_text):
    kubectl(emu, "apply", "--validate=false", "-f", "-", stdin=textwrap.dedent(yaml_text).encode())


def create_secret(emu, *args):
    """kubectl create secret, rendered client-side then applied: kubectl sends
    `create` for core kinds as protobuf, which the emulator does not speak."""
    apply(emu, kubectl(emu, "create", "secret", *args, "--dry-run=client", "-o", "yaml"))


def backends(emu, name, ups, ns="default"):
    """The Service <name> whose endpoints are the whoami servers <ups> (one slice each: distinct ports)."""
    apply(emu, """\
        apiVersion: v1
        kind: Service
        metadata: {name: %s, namespace: %s}
        spec:
          ports: [{name: http, port: 80, targetPort: 8080}]
        """ % (name, ns))
    for i, up in enumerate(ups):
        apply(emu, """\
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: %s-%d
              namespace: %s
              labels: {kubernetes.io/service-name: %s}
            addressType: IPv4
            ports: [{name: http, port: %d}]
            endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
            """ % (name, i, ns, name, up.port))


NGINX_CLASS = """\
    apiVersion: networking.k8s.io/v1
    kind: IngressClass
    metadata:
      name: nginx
      labels: {app.kubernetes.io/name: ingress-nginx}
    spec: {controller: k8s.io/ingress-nginx}
    """


def whoami(port, path, host, headers=None):
    h = {"Accept": "application/json"}
    h.update(headers or {})
    status, hdrs, body = get(port, path, host, headers=h)
    return status, hdrs, (json.loads(body) if status == 200 and body.startswith(b"{") else body)


def problems(g):
    return "\n".join(g.api("/api/overview")["problems"])


def refused_for_missing_type(g, what):
    """True when a middleware type the Ingress needs is not in this build yet
    (it lands from another branch): the route must then be refused."""
    p = problems(g)
    return what in p and ("type" in p or "unknown" in p)


def test_class_switch_cert_manager_tls_and_ssl_redirect(tmp_path, procs, emu):
    d = str(tmp_path)
    a = procs.whoami(name="a")
    crt, key = make_cert(d, "shop", ["shop.example.com"])
    apply(emu, NGINX_CLASS)
    backends(emu, "shop", [a])
    # what cert-manager leaves behind: a kubernetes.io/tls Secret named by the Ingress
    create_secret(emu, "tls", "shop-tls", "--cert=" + crt, "--key=" + key)
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: shop
          namespace: default
          annotations:
            cert-manager.io/cluster-issuer: letsencrypt-prod
        spec:
          ingressClassName: nginx
          tls:
          - hosts: [shop.example.com]
            secretName: shop-tls
          rules:
          - host: shop.example.com
            http:
              paths:
              - path: /
                pathType: Prefix
                backend: {service: {name: shop, port: {number: 80}}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: legacy
          namespace: default
          annotations: {kubernetes.io/ingress.class: nginx}
        spec:
          rules:
          - host: legacy.example.com
            http:
              paths:
              - {path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: other, namespace: default}
        spec:
          ingressClassName: gantry
          rules:
          - host: other.example.com
            http:
              paths:
              - {path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}
        """)
    g = gantry(procs, tmp_path, emu)
    # ssl-redirect defaults to true with a TLS section: plain HTTP is redirected
    wait_for(lambda: get(g.port, "/cart?x=1", "shop.example.com")[0] in (301, 308), what="ssl redirect")
    status, hdrs, _ = get(g.port, "/cart?x=1", "shop.example.com")
    assert hdrs["location"].startswith("https://shop.example.com") and hdrs["location"].endswith("/cart?x=1")
    tls = g.ports["websecure"]
    r = run(["curl", "-s", "--cacert", d + "/ca.crt", "--resolve", "shop.example.com:%d:127.0.0.1" % tls,
             "-H", "Accept: application/json", "https://shop.example.com:%d/cart" % tls])
    assert json.loads(r.stdout)["name"] == "a"
    # the legacy class annotation, without TLS: no redirect
    wait_for(lambda: whoami(g.port, "/", "legacy.example.com")[0] == 200, what="legacy class served")
    # kubernetesIngress is off: Gantry's own class is not picked up by the nginx provider
    assert get(g.port, "/", "other.example.com")[0] == 404


def test_basic_auth_from_an_htpasswd_secret(tmp_path, procs, emu):
    if shutil.which("htpasswd") is None:
        pytest.skip("htpasswd is not installed")
    a = procs.whoami(name="a")
    auth = str(tmp_path / "auth")
    run(["htpasswd", "-c", "-b", auth, "alice", "s3cret"])   # MD5 ($apr1$), htpasswd's default
    run(["htpasswd", "-B", "-b", auth, "bob", "hunter2"])     # bcrypt
    apply(emu, NGINX_CLASS)
    backends(emu, "admin", [a])
    create_secret(emu, "generic", "basic-auth", "--from-file=" + auth)
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: admin
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/auth-type: basic
            nginx.ingress.kubernetes.io/auth-secret: basic-auth
            nginx.ingress.kubernetes.io/auth-realm: 'Authentication Required - admin'
        spec:
          ingressClassName: nginx
          rules:
          - host: admin.example.com
            http:
              paths:
              - {path: /, pathType: Prefix, backend: {service: {name: admin, port: {number: 80}}}}
        """)
    g = gantry(procs, tmp_path, emu)

    def basic(user, pw):
        return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()}
    wait_for(lambda: get(g.port, "/", "admin.example.com")[0] == 401, what="basic auth asked")
    status, hdrs, _ = get(g.port, "/", "admin.example.com")
    assert 'realm="Authentication Required - admin"' in hdrs["www-authenticate"]
    assert whoami(g.port, "/", "admin.example.com", basic("alice", "s3cret"))[0] == 200
    assert whoami(g.port, "/", "admin.example.com", basic("bob", "hunter2"))[0] == 200
    assert get(g.port, "/", "admin.example.com", headers=basic("alice", "wrong"))[0] == 401
    # the Secret disappears: ingress-nginx answers 503, gantry does not serve the Ingress (fail closed)
    kubectl(emu, "delete", "secret", "basic-auth")
    wait_for(lambda: get(g.port, "/", "admin.example.com", headers=basic("alice", "s3cret"))[0] == 404,
             what="route withdrawn without its secret")
    assert "ingress default/admin: annotation nginx.ingress.kubernetes.io/auth-secret: secret default/basic-auth " \
           "does not exist (not served)" in problems(g)


class AuthServer:
    """oauth2-proxy's /oauth2/auth, as far as ingress-nginx's auth-url sees it:
    202 with X-Auth-Request-User for a session cookie, 403 for a session
    without the rights, 401 otherwise."""

    def __init__(self):
        seen = self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                seen.append((self.path, dict(self.headers)))
                if "_oauth2_proxy=valid" in self.headers.get("Cookie", ""):
                    self.send_response(202)
                    self.send_header("X-Auth-Request-User", "alice")
                    self.send_header("X-Auth-Request-Email", "alice@example.com")
                elif "_oauth2_proxy=forbidden" in self.headers.get("Cookie", ""):
                    self.send_response(403)
                else:
                    self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.port = free_port()
        self.srv = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), H)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_auth_url_to_an_oauth2_proxy_like_service(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    auth = AuthServer()
    try:
        apply(emu, NGINX_CLASS)
        backends(emu, "dash", [a])
        apply(emu, """\
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: dash
              namespace: default
              annotations:
                nginx.ingress.kubernetes.io/auth-url: "http://127.0.0.1:%d/oauth2/auth"
                nginx.ingress.kubernetes.io/auth-signin: "https://auth.example.com/oauth2/start?rd=$escaped_request_uri"
                nginx.ingress.kubernetes.io/auth-response-headers: "X-Auth-Request-User, X-Auth-Request-Email"
            spec:
              ingressClassName: nginx
              rules:
              - host: dash.example.com
                http:
                  paths:
                  - {path: /, pathType: Prefix, backend: {service: {name: dash, port: {number: 80}}}}
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: dash-vars
              namespace: default
              annotations:
                nginx.ingress.kubernetes.io/auth-url: "https://$host/oauth2/auth"
            spec:
              ingressClassName: nginx
              rules:
              - host: vars.example.com
                http:
                  paths:
                  - {path: /, pathType: Prefix, backend: {service: {name: dash, port: {number: 80}}}}
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: dash-plain
              namespace: default
              annotations:
                nginx.ingress.kubernetes.io/auth-url: "http://127.0.0.1:%d/oauth2/auth"
                nginx.ingress.kubernetes.io/auth-signin: "https://auth.example.com/oauth2/start"
            spec:
              ingressClassName: nginx
              rules:
              - host: plain.example.com
                http:
                  paths:
                  - {path: /, pathType: Prefix, backend: {service: {name: dash, port: {number: 80}}}}
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: dash-param
              namespace: default
              annotations:
                nginx.ingress.kubernetes.io/auth-url: "http://127.0.0.1:%d/oauth2/auth"
                nginx.ingress.kubernetes.io/auth-signin: "https://$host/start?tenant=1"
                nginx.ingress.kubernetes.io/auth-signin-redirect-param: return_to
            spec:
              ingressClassName: nginx
              rules:
              - host: param.example.com
                http:
                  paths:
                  - {path: /, pathType: Prefix, backend: {service: {name: dash, port: {number: 80}}}}
            """ % (auth.port, auth.port, auth.port))
        g = gantry(procs, tmp_path, emu)
        # auth-signin: the auth service's 401 becomes nginx's `return 302` to the sign-in page
        wait_for(lambda: get(g.port, "/reports", "dash.example.com")[0] == 302, what="auth-url denies")
        status, hdrs, _ = get(g.port, "/reports/q?a=1&b=x%20y", "dash.example.com")
        assert status == 302
        # rd= already in the URL: only the variable is expanded ($escaped_request_uri: unreserved kept)
        assert hdrs["location"] == "https://auth.example.com/oauth2/start?rd=%2Freports%2Fq%3Fa%3D1%26b%3Dx%2520y"
        # no query: ?rd=$pass_access_scheme://$http_host$escaped_request_uri appended
        wait_for(lambda: get(g.port, "/", "plain.example.com")[0] == 302, what="plain served")
        status, hdrs, _ = get(g.port, "/a/b?c=d", "plain.example.com:8080")
        assert status == 302
        assert hdrs["location"] == "https://auth.example.com/oauth2/start?rd=http://plain.example.com:8080%2Fa%2Fb%3Fc%3Dd"
        # auth-signin-redirect-param, $host, an existing query
        wait_for(lambda: get(g.port, "/", "param.example.com")[0] == 302, what="param served")
        status, hdrs, _ = get(g.port, "/x", "Param.Example.com")
        assert hdrs["location"] == "https://param.example.com/start?tenant=1&return_to=http://Param.Example.com%2Fx"
        # a signed-in user passes; one without the rights gets the auth service's 403, not the sign-in page
        status, _, info = whoami(g.port, "/reports", "dash.example.com", {"Cookie": "_oauth2_proxy=valid"})
        assert status == 200, info
        assert info["headers"].get("X-Auth-Request-User") == "alice"
        assert info["headers"].get("X-Auth-Request-Email") == "alice@example.com"
        assert any(p == "/oauth2/auth" for p, _ in auth.seen)
        assert get(g.port, "/reports", "dash.example.com", headers={"Cookie": "_oauth2_proxy=forbidden"})[0] == 403
        p = problems(g)
        assert "auth-signin" not in p
        # nginx variables in auth-url cannot be expanded: not served rather than unauthenticated
        assert get(g.port, "/", "vars.example.com")[0] == 404
        assert "ingress default/dash-vars: annotation nginx.ingress.kubernetes.io/auth-url" in p
    finally:
        auth.stop()


def test_rewrite_target_with_regex_capture_groups(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    apply(emu, NGINX_CLASS)
    backends(emu, "api", [a])
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: api
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/use-regex: "true"
            nginx.ingress.kubernetes.io/rewrite-target: /$2
        spec:
          ingressClassName: nginx
          rules:
          - host: rewrite.example.com
            http:
              paths:
              - path: /something(/|$)(.*)
                pathType: ImplementationSpecific
                backend: {service: {name: api, port: {number: 80}}}
        """)
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: get(g.port, "/something/new", "rewrite.example.com")[0] != 503 or True, what="sync")

    def ok():
        return get(g.port, "/something/new", "rewrite.example.com")[0] in (200, 404)
    wait_for(ok, what="route decided")
    if refused_for_missing_type(g, "replacePathRegex") or refused_for_missing_type(g, "nginx-rewrite"):
        assert get(g.port, "/something/new", "rewrite.example.com")[0] == 404  # fail closed
        pytest.skip("replacePathRegex is not in this build yet: the route is refused (fail closed)")
    wait_for(lambda: whoami(g.port, "/something/new?q=1", "rewrite.example.com")[0] == 200, what="rewrite route")
    # ingress-nginx's documented examples: /something -> /, /something/ -> /, /something/new -> /new
    assert whoami(g.port, "/something", "rewrite.example.com")[2]["path"] == "/"
    assert whoami(g.port, "/something/", "rewrite.example.com")[2]["path"] == "/"
    info = whoami(g.port, "/something/new?q=1", "rewrite.example.com")[2]
    assert info["path"] == "/new" and info["query"] == "q=1"
    # the regex is case-insensitive, as nginx's `location ~*`
    assert whoami(g.port, "/SOMETHING/x", "rewrite.example.com")[2]["path"] == "/x"


def test_allow_list_and_deny_list(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    apply(emu, NGINX_CLASS)
    backends(emu, "app", [a])
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: office
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/whitelist-source-range: "127.0.0.1/32, 10.0.0.0/8"
        spec:
          ingressClassName: nginx
          rules:
          - host: office.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: elsewhere
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/whitelist-source-range: "10.0.0.0/8"
        spec:
          ingressClassName: nginx
          rules:
          - host: elsewhere.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: others-denied
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/denylist-source-range: "192.0.2.0/24, 127.0.0.2"
        spec:
          ingressClassName: nginx
          rules:
          - host: others-denied.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: blocked
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/denylist-source-range: "127.0.0.0/8"
        spec:
          ingressClassName: nginx
          rules:
          - host: blocked.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: both
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/allowlist-source-range: "127.0.0.0/8"
            nginx.ingress.kubernetes.io/denylist-source-range: "127.0.0.1"
        spec:
          ingressClassName: nginx
          rules:
          - host: both.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: bad-deny
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/denylist-source-range: "127.0.0.1/40"
        spec:
          ingressClassName: nginx
          rules:
          - host: bad-deny.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        """)
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: whoami(g.port, "/", "office.example.com")[0] == 200, what="allowed from 127.0.0.1")
    assert get(g.port, "/", "elsewhere.example.com")[0] == 403
    # denylist-source-range: a client in the list gets 403, the others through
    assert whoami(g.port, "/", "others-denied.example.com")[0] == 200
    assert request(g.port, "others-denied.example.com", source="127.0.0.3")[0] == 200
    status, _, body = request(g.port, "others-denied.example.com", source="127.0.0.2")
    assert status == 403 and body == b"Forbidden", (status, body)
    status, _, body = get(g.port, "/", "blocked.example.com")
    assert status == 403 and body == b"Forbidden", (status, body)
    # nginx checks deny before allow: denied even though the allow list has it
    assert get(g.port, "/", "both.example.com")[0] == 403
    # a malformed deny list refuses the Ingress (fail closed)
    assert "ingress default/bad-deny: annotation nginx.ingress.kubernetes.io/denylist-source-range: " \
           "`127.0.0.1/40` is not an address or CIDR (not served)" in problems(g)
    assert get(g.port, "/", "bad-deny.example.com")[0] == 404
    assert "ingress default/blocked" not in problems(g)


def test_sticky_cookie_affinity(tmp_path, procs, emu):
    a, b = procs.whoami(name="a"), procs.whoami(name="b")
    apply(emu, NGINX_CLASS)
    backends(emu, "cart", [a, b])
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: cart
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/affinity: cookie
            nginx.ingress.kubernetes.io/session-cookie-name: route
            nginx.ingress.kubernetes.io/session-cookie-max-age: "172800"
            nginx.ingress.kubernetes.io/session-cookie-samesite: Lax
        spec:
          ingressClassName: nginx
          rules:
          - host: cart.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: cart, port: {number: 80}}}}]}
        """)
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: whoami(g.port, "/", "cart.example.com")[0] == 200, what="cart route")
    names = {whoami(g.port, "/", "cart.example.com")[2]["name"] for _ in range(8)}
    assert names == {"a", "b"}  # without the cookie: balanced
    status, hdrs, info = whoami(g.port, "/", "cart.example.com")
    cookie = hdrs["set-cookie"]
    assert cookie.startswith("route=") and "Max-Age=172800" in cookie and "SameSite=Lax" in cookie, cookie
    pinned = {whoami(g.port, "/", "cart.example.com", {"Cookie": cookie.split(";")[0]})[2]["name"] for _ in range(8)}
    assert pinned == {info["name"]}


def test_snippets_refused_unknown_annotations_reported(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    apply(emu, NGINX_CLASS)
    backends(emu, "app", [a])
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: snippet
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/configuration-snippet: |
              more_set_headers "X-Frame-Options: DENY";
              if ($http_x_admin != "yes") { return 403; }
        spec:
          ingressClassName: nginx
          rules:
          - host: snippet.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: mtls
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/auth-tls-verify-client: "on"
            nginx.ingress.kubernetes.io/auth-tls-secret: default/ca
        spec:
          ingressClassName: nginx
          rules:
          - host: mtls.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: buffers
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/proxy-buffer-size: 16k
            nginx.ingress.kubernetes.io/enable-cors: "true"
        spec:
          ingressClassName: nginx
          rules:
          - host: buffers.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        """)
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: whoami(g.port, "/", "buffers.example.com")[0] == 200, what="harmless annotation served")
    p = problems(g)
    assert "ingress default/snippet: annotation nginx.ingress.kubernetes.io/configuration-snippet: nginx " \
           "configuration snippets are never executed by gantry (not served)" in p
    assert "ingress default/mtls: annotation nginx.ingress.kubernetes.io/auth-tls-" in p
    assert "ingress default/buffers: annotation nginx.ingress.kubernetes.io/proxy-buffer-size is not implemented" in p
    assert get(g.port, "/", "snippet.example.com")[0] == 404
    assert get(g.port, "/", "mtls.example.com")[0] == 404
    # enable-cors with ingress-nginx's defaults: a preflight is answered by the proxy
    status, hdrs, _ = get(g.port, "/", "buffers.example.com", method="OPTIONS",
                          headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT"})
    assert status in (200, 204), status
    # "*" with credentials allowed (ingress-nginx's defaults): the origin is echoed, since browsers refuse "*" then
    assert hdrs.get("access-control-allow-origin") in ("*", "https://app.example.com")
    assert "PUT" in hdrs.get("access-control-allow-methods", "")
    assert hdrs.get("access-control-max-age") == "1728000"
    assert g.output().count("proxy-buffer-size is not implemented") == 1  # logged once, not at every rebuild


def test_canary_by_weight_and_by_header(tmp_path, procs, emu):
    stable, canary = procs.whoami(name="stable"), procs.whoami(name="canary")
    apply(emu, NGINX_CLASS)
    backends(emu, "web-v1", [stable])
    backends(emu, "web-v2", [canary])
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: web, namespace: default}
        spec:
          ingressClassName: nginx
          rules:
          - host: canary.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web-v1, port: {number: 80}}}}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: web-canary
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/canary: "true"
            nginx.ingress.kubernetes.io/canary-weight: "25"
            nginx.ingress.kubernetes.io/canary-by-header: X-Canary
        spec:
          ingressClassName: nginx
          rules:
          - host: canary.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web-v2, port: {number: 80}}}}]}
        """)
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: whoami(g.port, "/", "canary.example.com")[0] == 200, what="main route")
    names = [whoami(g.port, "/", "canary.example.com")[2]["name"] for _ in range(200)]
    share = names.count("canary") / len(names)
    assert 0.15 <= share <= 0.35, share  # 25 of 100, smooth weighted round robin
    for _ in range(10):
        assert whoami(g.port, "/", "canary.example.com", {"X-Canary": "always"})[2]["name"] == "canary"
        assert whoami(g.port, "/", "canary.example.com", {"X-Canary": "never"})[2]["name"] == "stable"
    # the canary goes away: everything to the main Ingress's backend again
    kubectl(emu, "delete", "ingress", "web-canary")
    wait_for(lambda: all(whoami(g.port, "/", "canary.example.com", {"X-Canary": "always"})[2]["name"] == "stable"
                         for _ in range(5)), what="canary removed")


def test_events_on_the_ingress_once_per_version(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    apply(emu, NGINX_CLASS)
    backends(emu, "app", [a])
    manifest = """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: legacy-app
          namespace: default
          labels: {version: "%s"}
          annotations:
            nginx.ingress.kubernetes.io/proxy-buffer-size: 16k
            nginx.ingress.kubernetes.io/server-snippet: "location /admin { deny all; }"
        spec:
          ingressClassName: nginx
          rules:
          - host: events.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        """
    apply(emu, manifest % "1")
    g = gantry(procs, tmp_path, emu)

    def events():
        items = json.loads(kubectl(emu, "get", "events", "-n", "default", "-o", "json"))["items"]
        return [e for e in items if e["involvedObject"]["name"] == "legacy-app"]
    wait_for(lambda: len(events()) == 2, what="two events")
    by_reason = {e["reason"]: e for e in events()}
    assert "proxy-buffer-size is not implemented" in by_reason["AnnotationNotHonoured"]["message"]
    refused = by_reason["IngressNotServed"]
    assert "server-snippet" in refused["message"] and refused["type"] == "Warning"
    assert refused["involvedObject"]["kind"] == "Ingress" and refused["involvedObject"]["uid"]
    # unrelated changes rebuild the configuration: no new Event for the same object version
    backends(emu, "other", [a])
    backends(emu, "other2", [a])
    wait_for(lambda: emu.get("Service", "default", "other2") is not None, what="applied")
    assert get(g.port, "/", "events.example.com")[0] == 404
    assert len(events()) == 2
    # a new version of the Ingress: reported again
    apply(emu, manifest % "2")
    wait_for(lambda: len(events()) == 4, what="events for the new version")
    out = kubectl(emu, "get", "events", "-n", "default", "-o", "custom-columns=OBJECT:.involvedObject.name,REASON:.reason")
    assert out.count("legacy-app   IngressNotServed") == 2, out


@pytest.mark.parametrize("flag,says", [
    ("--providers.kubernetesIngressNGINX.allowSnippetAnnotations=true", "never executes nginx snippets"),
    ("--providers.kubernetesIngressNGINX.globalAuthURL=http://auth.example.com/", "not supported by gantry yet"),
])
def test_options_that_would_open_routes_stop_the_start(tmp_path, flag, says):
    from conftest import GANTRY_BIN
    r = subprocess.run([GANTRY_BIN, "--providers.kubernetesIngressNGINX=true", flag], capture_output=True,
                       timeout=30 * SLOW)
    assert r.returncode != 0
    assert says in (r.stdout + r.stderr).decode()


def test_both_providers_share_one_connection(tmp_path, procs, emu):
    """kubernetesIngress and kubernetesIngressNGINX together: each class keeps its own semantics."""
    a = procs.whoami(name="a")
    apply(emu, NGINX_CLASS)
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: gantry}
        spec: {controller: gantry.io/ingress-controller}
        """)
    backends(emu, "app", [a])
    for cls, host in (("nginx", "n.example.com"), ("gantry", "g.example.com")):
        apply(emu, """\
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: %s
              namespace: default
              annotations: {nginx.ingress.kubernetes.io/permanent-redirect: "https://moved.example.com/"}
            spec:
              ingressClassName: %s
              rules:
              - host: %s
                http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
            """ % (cls, cls, host))
    g = procs.gantry(tmp_path, None, args=["--providers.kubernetesIngress=true",
                                           "--providers.kubernetesIngress.endpoint=" + emu.url,
                                           "--providers.kubernetesIngress.token=" + emu.token,
                                           "--providers.kubernetesIngress.certAuthFilePath=" + emu.ca,
                                           "--providers.kubernetesIngressNGINX=true"])
    wait_for(lambda: whoami(g.port, "/", "g.example.com")[0] == 200, what="gantry class served, annotation unread")
    status = get(g.port, "/", "n.example.com")[0]
    if status == 404 and refused_for_missing_type(g, "redirectRegex"):
        pytest.skip("redirectRegex is not in this build yet: the route is refused (fail closed)")
    assert status == 301


def test_app_root_and_temporal_redirect(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    apply(emu, NGINX_CLASS)
    backends(emu, "app", [a])
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: portal
          namespace: default
          annotations: {nginx.ingress.kubernetes.io/app-root: /app1}
        spec:
          ingressClassName: nginx
          rules:
          - host: portal.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: down
          namespace: default
          annotations: {nginx.ingress.kubernetes.io/temporal-redirect: "https://status.example.com/"}
        spec:
          ingressClassName: nginx
          rules:
          - host: down.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        """)
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: "ingress default/portal" in problems(g) or get(g.port, "/", "portal.example.com")[0] == 302,
             what="app-root decided")
    if refused_for_missing_type(g, "redirectRegex"):
        pytest.skip("redirectRegex is not in this build yet: the routes are refused (fail closed)")
    status, hdrs, _ = get(g.port, "/", "portal.example.com")
    assert status == 302 and hdrs["location"] == "http://portal.example.com/app1"
    assert whoami(g.port, "/app1/x", "portal.example.com")[2]["path"] == "/app1/x"  # only "/" moves
    status, hdrs, _ = get(g.port, "/any/path", "down.example.com")
    assert status == 302 and hdrs["location"] == "https://status.example.com/"


def test_proxy_body_size(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    apply(emu, NGINX_CLASS)
    backends(emu, "upload", [a])
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: upload
          namespace: default
          annotations: {nginx.ingress.kubernetes.io/proxy-body-size: 1k}
        spec:
          ingressClassName: nginx
          rules:
          - host: upload.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: upload, port: {number: 80}}}}]}
        """)
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: get(g.port, "/", "upload.example.com")[0] == 200, what="upload route")
    assert get(g.port, "/", "upload.example.com", method="POST", body=b"x" * 1024)[0] == 200
    assert get(g.port, "/", "upload.example.com", method="POST", body=b"x" * 1025)[0] == 413
    # chunked: the length is only known once read; still 413
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=10 * SLOW)
    conn.putrequest("POST", "/", skip_host=True)  # one Host only: two are a 400 (RFC 9112 3.2)
    conn.putheader("Host", "upload.example.com")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for _ in range(3):
        conn.send(b"200\r\n" + b"y" * 512 + b"\r\n")
    conn.send(b"0\r\n\r\n")
    assert conn.getresponse().status == 413
    conn.close()


def test_error_pages_alias_and_upstream_headers(tmp_path, procs, emu):
    a, pages = procs.whoami(name="a"), procs.whoami(name="error-pages")
    apply(emu, NGINX_CLASS)
    backends(emu, "app", [a])
    backends(emu, "error-pages", [pages])
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: site
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/custom-http-errors: "404,503"
            nginx.ingress.kubernetes.io/default-backend: error-pages
            nginx.ingress.kubernetes.io/server-alias: "www.site.example.com"
            nginx.ingress.kubernetes.io/upstream-vhost: internal.example.com
            nginx.ingress.kubernetes.io/x-forwarded-prefix: /site
        spec:
          ingressClassName: nginx
          rules:
          - host: site.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        """)
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: whoami(g.port, "/", "site.example.com")[0] == 200, what="site route")
    info = whoami(g.port, "/page", "www.site.example.com")[2]  # the alias
    assert info["name"] == "a"
    headers = {k.lower(): v for k, v in info["headers"].items()}
    assert headers["host"] == "internal.example.com"
    assert headers["x-forwarded-prefix"] == "/site"
    # whoami's /status/404 answers 404: replaced by the default backend's answer to GET /,
    # its own status too (nginx does not change the default backend's response)
    status, _, body = get(g.port, "/status/404", "site.example.com")
    assert status == 200 and b"Name: error-pages" in body and b"GET / HTTP" in body, body[:300]
    # ingress-nginx's fields, and the client's Host ($best_http_host), not upstream-vhost's
    assert b"x-code: 404" in body.lower() and b"x-original-uri: /status/404" in body.lower(), body
    assert b"host: site.example.com\n" in body.lower(), body


def test_rate_and_connection_limits(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    apply(emu, NGINX_CLASS)
    backends(emu, "api", [a])
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: api
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/limit-rpm: "2"
            nginx.ingress.kubernetes.io/limit-burst-multiplier: "1"
            nginx.ingress.kubernetes.io/limit-connections: "5"
        spec:
          ingressClassName: nginx
          rules:
          - host: limited.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}]}
        """)
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: get(g.port, "/", "limited.example.com")[0] == 200, what="limited route")
    # 2 a minute, burst 2 x 1: the third request within the minute is refused (429 here, 503 in ingress-nginx)
    statuses = [get(g.port, "/", "limited.example.com")[0] for _ in range(3)]
    assert statuses[-1] == 429, statuses
    assert "ingress default/api" not in problems(g)  # both limits built (inFlightReq per client address)


def test_limit_whitelist_exempts_listed_clients(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    apply(emu, NGINX_CLASS)
    backends(emu, "api", [a])
    ing = """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: %s
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/limit-rpm: "1"
            nginx.ingress.kubernetes.io/limit-rps: "1"
            nginx.ingress.kubernetes.io/limit-burst-multiplier: "1"
            nginx.ingress.kubernetes.io/limit-connections: "1"
            nginx.ingress.kubernetes.io/limit-whitelist: "%s"
        spec:
          ingressClassName: nginx
          rules:
          - host: %s.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}]}
        """
    apply(emu, ing % ("exempt", "10.0.0.0/8, 127.0.0.1/32", "exempt"))
    apply(emu, ing % ("other", "10.0.0.0/8, 127.0.0.2", "other"))
    apply(emu, ing % ("bad", "10.0.0.300", "bad"))
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: get(g.port, "/", "exempt.example.com")[0] == 200, what="exempt route")
    # 127.0.0.1 is listed: none of the limits applies
    statuses = [get(g.port, "/", "exempt.example.com")[0] for _ in range(6)]
    assert statuses == [200] * 6, statuses
    # another client than the listed ones: limited (1 a minute); the listed one on the same Ingress: not
    statuses = [get(g.port, "/", "other.example.com")[0] for _ in range(3)]
    assert 429 in statuses, statuses
    statuses = [request(g.port, "other.example.com", source="127.0.0.2")[0] for _ in range(4)]
    assert statuses == [200] * 4, statuses
    assert "ingress default/bad: annotation nginx.ingress.kubernetes.io/limit-whitelist: `10.0.0.300` is not an " \
           "address or CIDR (not served)" in problems(g)
    assert "limit-whitelist is not implemented" not in problems(g)


def test_from_to_www_redirect(tmp_path, procs, emu):
    d = str(tmp_path)
    a, b = procs.whoami(name="a"), procs.whoami(name="b")
    crt, key = make_cert(d, "site", ["example.org", "www.example.org"])
    apply(emu, NGINX_CLASS)
    backends(emu, "app", [a])
    backends(emu, "blog", [b])
    create_secret(emu, "tls", "site-tls", "--cert=" + crt, "--key=" + key)
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: site
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/from-to-www-redirect: "true"
            nginx.ingress.kubernetes.io/ssl-redirect: "false"
        spec:
          ingressClassName: nginx
          tls: [{hosts: [example.org, www.example.org], secretName: site-tls}]
          rules:
          - host: example.org
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: shop
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/from-to-www-redirect: "true"
        spec:
          ingressClassName: nginx
          rules:
          - host: www.shop.example
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: blog
          namespace: default
          annotations:
            nginx.ingress.kubernetes.io/from-to-www-redirect: "true"
        spec:
          ingressClassName: nginx
          rules:
          - host: blog.example
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: www-blog
          namespace: default
        spec:
          ingressClassName: nginx
          rules:
          - host: www.blog.example
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: blog, port: {number: 80}}}}]}
        """)
    g = gantry(procs, tmp_path, emu)
    web, websecure = g.ports["web"], g.ports["websecure"]
    wait_for(lambda: whoami(web, "/", "example.org")[0] == 200, what="site route")
    # www.<host> -> <host>: 308, scheme, port and request URI kept (one trailing slash dropped, as nginx)
    status, hdrs, _ = get(web, "/a/b/?q=1", "www.example.org:%d" % web)
    assert status == 308 and hdrs["location"] == "http://example.org:%d/a/b/?q=1" % web, (status, hdrs)
    status, hdrs, _ = get(web, "/docs/", "www.example.org")
    assert status == 308 and hdrs["location"] == "http://example.org/docs", (status, hdrs)
    assert get(web, "/", "www.example.org", method="POST", body=b"x")[0] == 308  # whatever the method
    # the TLS section: the redirect is served over HTTPS too, with the Ingress's certificate
    r = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--cacert", d + "/ca.crt",
             "--resolve", "www.example.org:%d:127.0.0.1" % websecure, "https://www.example.org:%d/x" % websecure])
    assert r.stdout.decode() == "308 https://example.org:%d/x" % websecure, r.stdout
    # <host> is www.<name>: <name> -> www.<name>
    status, hdrs, _ = get(web, "/", "shop.example")
    assert status == 308 and hdrs["location"] == "http://www.shop.example/", (status, hdrs)
    assert whoami(web, "/", "www.shop.example")[0] == 200
    # another Ingress serves www.blog.example: no redirect there
    assert whoami(web, "/", "www.blog.example")[2]["name"] == "b"
    assert whoami(web, "/", "blog.example")[2]["name"] == "a"


def test_backend_protocol_grpc_reaches_grpc_pods_over_http2(tmp_path, procs, emu):
    """backend-protocol: GRPC: the pods are spoken to in cleartext HTTP/2
    (ingress-nginx's grpc_pass), calls balanced per call."""
    from grpc_peers import EchoServer, channel, stubs
    p1, p2 = EchoServer(procs, "pod1"), EchoServer(procs, "pod2")
    apply(emu, NGINX_CLASS)
    backends(emu, "echo", [p1, p2])
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: grpc
          namespace: default
          annotations: {nginx.ingress.kubernetes.io/backend-protocol: GRPC}
        spec:
          ingressClassName: nginx
          rules:
          - host: grpc.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: echo, port: {number: 80}}}}]}
        """)
    g = gantry(procs, tmp_path, emu)
    pb, pb_grpc = stubs()
    ch = channel(g.port, authority="grpc.example.com")
    try:
        stub = pb_grpc.EchoStub(ch)

        def call():
            try:
                return stub.Unary(pb.EchoRequest(message="hi"), timeout=5).server
            except Exception as e:  # not live yet
                return str(e)

        wait_for(lambda: call() in ("pod1", "pod2"), what="gRPC route")
        seen = {call() for _ in range(20)}
        assert seen == {"pod1", "pod2"}, seen  # one client connection, balanced per call
    finally:
        ch.close()


def test_proxy_next_upstream_on_an_answer(tmp_path, procs, emu):
    """proxy-next-upstream http_503: an idempotent request whose server
    answers 503 goes to the next one (within proxy-next-upstream-tries); a
    POST does not without non_idempotent, as nginx decides."""
    from status_peer import StatusUpstream
    bad, good = StatusUpstream("bad", [503]), StatusUpstream("good", [200])
    try:
        apply(emu, NGINX_CLASS)
        backends(emu, "flaky", [bad, good])
        apply(emu, """\
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: flaky
              namespace: default
              annotations:
                nginx.ingress.kubernetes.io/proxy-next-upstream: "error timeout http_503"
                nginx.ingress.kubernetes.io/proxy-next-upstream-tries: "2"
            spec:
              ingressClassName: nginx
              rules:
              - host: flaky.example.com
                http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: flaky, port: {number: 80}}}}]}
            """)
        g = gantry(procs, tmp_path, emu)
        wait_for(lambda: get(g.port, "/", "flaky.example.com")[0] == 200, what="flaky route")
        assert [get(g.port, "/", "flaky.example.com")[0] for _ in range(8)] == [200] * 8
        posts = [get(g.port, "/", "flaky.example.com", method="POST", body=b"x")[0] for _ in range(8)]
        assert sorted(set(posts)) == [200, 503], posts
        assert "proxy-next-upstream" not in problems(g)
    finally:
        bad.stop()
        good.stop()


class DefaultBackend:
    """A custom default backend as ingress-nginx documents one: answers with
    the status X-Code names and records every request's path and headers."""

    def __init__(self):
        self.seen = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                body = json.dumps({"code": self.headers.get("X-Code"), "format": self.headers.get("X-Format")}).encode()
                self.send_response(int(self.headers.get("X-Code") or 404))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_custom_http_errors_send_ingress_nginx_fields(tmp_path, procs, emu):
    """custom-http-errors with a default-backend: the default backend gets
    `GET /` with X-Code, X-Format (the Accept header), X-Original-URI,
    X-Namespace, X-Ingress-Name, X-Service-Name, X-Service-Port,
    X-Request-ID and X-Forwarded-For (the client's address, a forged one
    replaced), as ingress-nginx's custom-errors page lists them, and its
    answer goes out with its own status; a status not listed passes."""
    a, db = procs.whoami(name="a"), DefaultBackend()
    try:
        apply(emu, NGINX_CLASS)
        backends(emu, "app", [a], ns="shop")
        backends(emu, "error-pages", [db], ns="shop")
        apply(emu, """\
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: storefront
              namespace: shop
              annotations:
                nginx.ingress.kubernetes.io/custom-http-errors: "404,503"
                nginx.ingress.kubernetes.io/default-backend: error-pages
            spec:
              ingressClassName: nginx
              rules:
              - host: shop.example.com
                http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
            """)
        g = gantry(procs, tmp_path, emu)
        wait_for(lambda: get(g.port, "/", "shop.example.com")[0] == 200, what="shop route")
        status, _, body = get(g.port, "/status/404?q=1", "shop.example.com",
                              headers={"Accept": "application/json", "X-Request-ID": "req-42",
                                       "X-Forwarded-For": "6.6.6.6", "X-Code": "forged", "X-Test": "kept"})
        assert status == 404 and json.loads(body) == {"code": "404", "format": "application/json"}, body
        method, path, h = db.seen[-1]
        assert (method, path) == ("GET", "/"), db.seen[-1]
        assert h["x-code"] == "404" and h["x-format"] == "application/json", h
        assert h["x-original-uri"] == "/status/404?q=1" and h["x-namespace"] == "shop", h
        assert h["x-ingress-name"] == "storefront" and h["x-service-name"] == "app" and h["x-service-port"] == "80", h
        assert h["x-request-id"] == "req-42" and h["x-forwarded-for"] == "127.0.0.1", h
        assert h["host"] == "shop.example.com" and h["x-test"] == "kept", h
        # 503 is listed too; its page's own status goes out; 500 is not listed
        assert get(g.port, "/status/503", "shop.example.com")[0] == 503 and db.seen[-1][2]["x-code"] == "503"
        assert "x-format" not in db.seen[-1][2] and "x-request-id" not in db.seen[-1][2], db.seen[-1]
        n = len(db.seen)
        status, _, body = get(g.port, "/status/500", "shop.example.com")
        assert status == 500 and len(db.seen) == n, body[:200]
        assert "custom-http-errors" not in problems(g) and "default-backend" not in problems(g)
    finally:
        db.stop()


def next_upstream_ingress(emu, name, annotations):
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: %s
          namespace: default
          annotations: {%s}
        spec:
          ingressClassName: nginx
          rules:
          - host: %s.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: %s, port: {number: 80}}}}]}
        """ % (name, ", ".join('"nginx.ingress.kubernetes.io/%s": "%s"' % kv for kv in annotations.items()), name, name))


def test_proxy_next_upstream_non_idempotent_and_timeout(tmp_path, procs, emu):
    """non_idempotent: a POST answered http_503 goes to the next server too,
    with its body (retryNonIdempotentMethod); `timeout` (or `error`) passes a
    request whose server cannot be reached to the next one, and without
    either a failed connection is not passed on (disableRetryOnNetworkError);
    proxy-next-upstream-timeout is honoured, not reported."""
    from status_peer import StatusUpstream
    bad, good = StatusUpstream("bad", [503]), StatusUpstream("good", [200])
    live = StatusUpstream("live", [200])
    dead, dead2 = (type("Dead", (), {"port": free_port()})() for _ in range(2))
    try:
        apply(emu, NGINX_CLASS)
        backends(emu, "posts", [bad, good])
        backends(emu, "slow", [dead, live])
        backends(emu, "strict", [dead2, live])
        next_upstream_ingress(emu, "posts", {"proxy-next-upstream": "http_503 non_idempotent",
                                             "proxy-next-upstream-tries": "2"})
        next_upstream_ingress(emu, "slow", {"proxy-next-upstream": "timeout", "proxy-next-upstream-tries": "2",
                                            "proxy-next-upstream-timeout": "10"})
        next_upstream_ingress(emu, "strict", {"proxy-next-upstream": "http_503", "proxy-next-upstream-tries": "2"})
        g = gantry(procs, tmp_path, emu)
        wait_for(lambda: get(g.port, "/", "posts.example.com")[0] == 200, what="posts route")
        posts = [get(g.port, "/", "posts.example.com", method="POST", body=b"payload")[0] for _ in range(6)]
        assert posts == [200] * 6, posts
        assert [b for m, _, b in good.seen if m == "POST"] == [b"payload"] * 6, good.seen
        # `timeout`: the unreachable server's requests go to the live one
        assert [get(g.port, "/", "slow.example.com")[0] for _ in range(6)] == [200] * 6
        # neither error nor timeout: the failed connection is answered 502, not passed on
        strict = [get(g.port, "/", "strict.example.com")[0] for _ in range(4)]
        assert 502 in strict and set(strict) <= {200, 502}, strict
        p = problems(g)
        assert "proxy-next-upstream" not in p, p
    finally:
        for u in (bad, good, live):
            u.stop()
