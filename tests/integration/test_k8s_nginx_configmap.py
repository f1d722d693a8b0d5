"""ingress-nginx's controller ConfigMap (providers.kubernetesIngressNGINX.
configMap), applied with the real kubectl to the API-server emulator: its
whitelist-source-range is the default of every nginx Ingress (a client
outside it gets 403) and an annotation overrides it; http-redirect-code sets
the ssl redirects' status; hsts* shape the Strict-Transport-Security header
sent by default on the HTTPS answers of TLS hosts; an edit of the ConfigMap changes the routes live;
a key restricting access that gantry does not implement takes the nginx
Ingresses out until it goes; a missing ConfigMap means ingress-nginx's
defaults. A host that is TLS in one Ingress gets HSTS and the ssl-redirect
on the paths of another Ingress of that host without tls (one nginx server
block per host)."""
import http.client

from conftest import GANTRY_BIN, SLOW, run, wait_for
from test_k8s_nginx import NGINX_CLASS, apply, backends, create_secret, emu, gantry, kubectl, problems  # noqa: F401
from tls_certs import make_cert

CM = "ingress-nginx/ingress-nginx-controller"


def config_map(emu, data):
    lines = "\n".join("  %s: \"%s\"" % kv for kv in data.items())
    apply(emu, "apiVersion: v1\nkind: Namespace\nmetadata: {name: ingress-nginx}\n")
    apply(emu, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ingress-nginx-controller, namespace: ingress-nginx}\n"
          + ("data:\n" + lines + "\n" if lines else ""))


def ingress(emu, name, annotations):
    lines = "\n".join("            nginx.ingress.kubernetes.io/%s: \"%s\"" % kv for kv in annotations.items())
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: %s
          namespace: default
          annotations:
%s
        spec:
          ingressClassName: nginx
          rules:
          - host: %s.test
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        """ % (name, lines or "            example.com/plain: \"true\"", name))


def request(port, host, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
    conn.request(method, "/x?y=1", body=b"" if method == "POST" else None, headers={"Host": host})
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status, r.getheader("Location")


def test_configmap_defaults_overrides_and_live_edits(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    apply(emu, NGINX_CLASS)
    backends(emu, "app", [a])
    config_map(emu, {"whitelist-source-range": "10.0.0.0/8", "http-redirect-code": "301", "use-gzip": "true"})
    ingress(emu, "plain", {})
    ingress(emu, "office", {"whitelist-source-range": "127.0.0.1/32"})
    ingress(emu, "secure", {"force-ssl-redirect": "true", "whitelist-source-range": "127.0.0.1/32"})
    g = gantry(procs, tmp_path, emu, ["--providers.kubernetesIngressNGINX.configMap=" + CM])
    wait_for(lambda: request(g.port, "office.test")[0] == 200, what="the office Ingress")
    # the ConfigMap's allow list on an Ingress without the annotation: 127.0.0.1 is outside it
    assert request(g.port, "plain.test")[0] == 403
    # http-redirect-code: that status whatever the method (default 308 for a POST)
    assert request(g.port, "secure.test", "POST") == (301, "https://secure.test/x?y=1")
    assert request(g.port, "secure.test") == (301, "https://secure.test/x?y=1")
    p = problems(g)
    assert "ConfigMap %s key use-gzip is not implemented by gantry (ignored)" % CM in p, p

    # an edit: the allow list now has the client, and redirects become 307
    config_map(emu, {"whitelist-source-range": "127.0.0.0/8", "http-redirect-code": "307"})
    wait_for(lambda: request(g.port, "plain.test")[0] == 200, what="the edited allow list")
    assert request(g.port, "secure.test", "POST") == (307, "https://secure.test/x?y=1")
    wait_for(lambda: "key use-gzip" not in problems(g), what="the use-gzip report gone with the key")

    # a key restricting access gantry cannot honour: no nginx Ingress is served
    config_map(emu, {"whitelist-source-range": "127.0.0.0/8", "block-cidrs": "192.0.2.0/24"})
    wait_for(lambda: request(g.port, "office.test")[0] == 404, what="the nginx Ingresses taken out")
    assert request(g.port, "plain.test")[0] == 404
    p = problems(g)
    assert ("ConfigMap %s key block-cidrs restricts access and is not implemented by gantry" % CM) in p, p
    # an invalid value of an honoured key refuses the Ingresses that would use it
    config_map(emu, {"whitelist-source-range": "10.0.0.0/33"})
    wait_for(lambda: request(g.port, "office.test")[0] == 200, what="block-cidrs gone")
    assert request(g.port, "plain.test")[0] == 404
    assert ("ingress default/plain: ConfigMap %s key whitelist-source-range: `10.0.0.0/33` is not an address or CIDR "
            "(not served)" % CM) in problems(g)

    # the ConfigMap deleted: ingress-nginx's defaults (no allow list)
    kubectl(emu, "delete", "configmap", "-n", "ingress-nginx", "ingress-nginx-controller")
    wait_for(lambda: request(g.port, "plain.test")[0] == 200, what="the defaults")
    assert request(g.port, "secure.test", "POST")[0] == 308
    assert "ConfigMap %s not found: ingress-nginx's defaults apply" % CM in problems(g)


def test_configmap_missing_at_start_then_created(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    apply(emu, NGINX_CLASS)
    backends(emu, "app", [a])
    ingress(emu, "plain", {})
    g = gantry(procs, tmp_path, emu, ["--providers.kubernetesIngressNGINX.configMap=" + CM])
    wait_for(lambda: request(g.port, "plain.test")[0] == 200, what="the plain Ingress with the defaults")
    assert "ConfigMap %s not found: ingress-nginx's defaults apply" % CM in problems(g)
    config_map(emu, {"denylist-source-range": "127.0.0.1"})
    wait_for(lambda: request(g.port, "plain.test")[0] == 403, what="the ConfigMap's deny list")
    ingress(emu, "plain", {"denylist-source-range": "192.0.2.1"})  # the annotation overrides it
    wait_for(lambda: request(g.port, "plain.test")[0] == 200, what="the annotation's deny list")


def test_configmap_option_must_be_namespace_and_name():
    r = run([GANTRY_BIN, "--providers.kubernetesIngressNGINX=true",
             "--providers.kubernetesIngressNGINX.configMap=justaname"], timeout=20, check=False)
    assert r.returncode != 0
    assert b"configMap: `justaname` is not namespace/name" in r.stderr + r.stdout, r.stderr


def sts(port, host, d, scheme="https", path="/x"):
    """(status, Strict-Transport-Security or None) of a curl request to <host>."""
    r = run(["curl", "-s", "-o", "/dev/null", "-D", "-", "--max-time", str(10 * SLOW), "--cacert", d + "/ca.crt",
             "--resolve", "%s:%d:127.0.0.1" % (host, port), "%s://%s:%d%s" % (scheme, host, port, path)])
    lines = r.stdout.decode().split("\r\n")
    status = int(lines[0].split()[1]) if lines[0].startswith("HTTP/") else 0
    values = [ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("strict-transport-security:")]
    assert len(values) <= 1, values
    return status, (values[0] if values else None)


def test_hsts_on_https_answers_of_tls_hosts(tmp_path, procs, emu):
    d = str(tmp_path)
    a = procs.whoami(name="a")
    crt, key = make_cert(d, "shop", ["shop.test", "other.test"])
    apply(emu, NGINX_CLASS)
    backends(emu, "app", [a])
    create_secret(emu, "tls", "shop-tls", "--cert=" + crt, "--key=" + key)
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: shop
          namespace: default
          annotations: {nginx.ingress.kubernetes.io/auth-type: basic, nginx.ingress.kubernetes.io/auth-secret: nobody}
        spec:
          ingressClassName: nginx
          tls: [{hosts: [shop.test], secretName: shop-tls}]
          rules:
          - host: shop.test
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
          - host: other.test
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        """)
    g = gantry(procs, tmp_path, emu, ["--providers.kubernetesIngressNGINX.configMap=" + CM])
    wait_for(lambda: "auth-secret: secret default/nobody does not exist" in problems(g), what="the refusal")
    # the same Ingress without the broken auth: served, HSTS with ingress-nginx's defaults (no ConfigMap yet)
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: shop
          namespace: default
          annotations: {nginx.ingress.kubernetes.io/limit-rpm: "1", nginx.ingress.kubernetes.io/limit-burst-multiplier: "1"}
        spec:
          ingressClassName: nginx
          tls: [{hosts: [shop.test], secretName: shop-tls}]
          rules:
          - host: shop.test
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
          - host: other.test
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        """)
    tls = g.ports["websecure"]
    seen = []
    wait_for(lambda: seen.append(sts(tls, "shop.test", d)) or seen[-1][0] != 404, what="the HTTPS route")
    assert seen[-1] == (200, "max-age=31536000; includeSubDomains")
    # an answer of a middleware (limit-rpm over its one request: 429) carries it too, as nginx's header filter
    assert sts(tls, "shop.test", d, path="/z") == (429, "max-age=31536000; includeSubDomains")
    # plain HTTP: the ssl redirect, without HSTS
    assert sts(g.port, "shop.test", d, scheme="http") == (301, None)  # gantry: 301 for GET
    # a rule host of the Ingress that is not in spec.tls still has a certificate in ingress-nginx (createServers:
    # one whose SANs name it, here shop-tls, else the default certificate), so HSTS on HTTPS too
    status, value = sts(tls, "other.test", d)
    assert status in (200, 429) and value == "max-age=31536000; includeSubDomains", (status, value)

    config_map(emu, {"hsts-max-age": "600", "hsts-include-subdomains": "false", "hsts-preload": "true"})
    wait_for(lambda: sts(tls, "shop.test", d)[1] == "max-age=600; preload", what="the ConfigMap's HSTS")
    config_map(emu, {"hsts-max-age": "86400"})
    wait_for(lambda: sts(tls, "shop.test", d)[1] == "max-age=86400; includeSubDomains", what="hsts-max-age alone")
    config_map(emu, {"hsts": "false"})
    wait_for(lambda: sts(tls, "shop.test", d)[1] is None, what="hsts off")
    assert sts(tls, "shop.test", d)[0] == 429
    # an invalid value: the nginx Ingresses are taken out, with the key named
    config_map(emu, {"hsts-max-age": "1y"})
    wait_for(lambda: sts(g.port, "shop.test", d, scheme="http")[0] == 404, what="the Ingress taken out")
    assert ("ConfigMap %s key hsts-max-age: `1y` is not a number of seconds: no ingress-nginx Ingress is served" % CM
            in problems(g))


def body(port, host, d, path, scheme="https"):
    r = run(["curl", "-s", "--max-time", str(10 * SLOW), "--cacert", d + "/ca.crt",
             "--resolve", "%s:%d:127.0.0.1" % (host, port), "%s://%s:%d%s" % (scheme, host, port, path)], check=False)
    return r.stdout.decode(errors="replace")


def test_hsts_and_ssl_redirect_for_a_host_whose_certificate_comes_from_another_ingress(tmp_path, procs, emu):
    """ingress-nginx shares one server block per host: the paths of an Ingress without tls, on a host that is TLS
    in another Ingress, are served over HTTPS with that certificate, carry HSTS there, and plain HTTP is redirected."""
    d = str(tmp_path)
    a, b = procs.whoami(name="shop-a"), procs.whoami(name="api-b")
    crt, key = make_cert(d, "shop", ["shop.test"])
    apply(emu, NGINX_CLASS)
    backends(emu, "app", [a])
    backends(emu, "api", [b])
    create_secret(emu, "tls", "shop-tls", "--cert=" + crt, "--key=" + key)
    apply(emu, """\
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: shop, namespace: default}
        spec:
          ingressClassName: nginx
          tls: [{hosts: [shop.test], secretName: shop-tls}]
          rules:
          - host: shop.test
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: api, namespace: default}
        spec:
          ingressClassName: nginx
          rules:
          - host: shop.test
            http: {paths: [{path: /api, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}]}
        """)
    g = gantry(procs, tmp_path, emu)
    tls = g.ports["websecure"]
    hsts = "max-age=31536000; includeSubDomains"
    wait_for(lambda: sts(tls, "shop.test", d, path="/api")[0] == 200, what="the api Ingress's path over HTTPS")
    # both Ingresses' paths: HTTPS with HSTS, each from its own backend
    assert sts(tls, "shop.test", d, path="/x") == (200, hsts)
    assert sts(tls, "shop.test", d, path="/api") == (200, hsts)
    assert "Name: shop-a" in body(tls, "shop.test", d, "/x")
    assert "Name: api-b" in body(tls, "shop.test", d, "/api")
    # plain HTTP: both redirected (ssl-redirect, default true), without HSTS
    assert sts(g.port, "shop.test", d, scheme="http", path="/x") == (301, None)
    assert sts(g.port, "shop.test", d, scheme="http", path="/api") == (301, None)

    # the certificate's Ingress gone: the api Ingress is plain HTTP only again (its piece depends on the host)
    kubectl(emu, "delete", "ingress", "-n", "default", "shop")
    wait_for(lambda: sts(g.port, "shop.test", d, scheme="http", path="/api") == (200, None), what="no redirect")
    assert "Name: api-b" in body(g.port, "shop.test", d, "/api", scheme="http")
    # and no HTTPS route for it (the default certificate answers, hence -k)
    r = run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", str(10 * SLOW),
             "--resolve", "shop.test:%d:127.0.0.1" % tls, "https://shop.test:%d/api" % tls], check=False)
    assert r.stdout == b"404", r.stdout
