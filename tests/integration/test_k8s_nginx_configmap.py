"""ingress-nginx's controller ConfigMap (providers.kubernetesIngressNGINX.
configMap), applied with the real kubectl to the API-server emulator: its
whitelist-source-range is the default of every nginx Ingress (a client
outside it gets 403) and an annotation overrides it; http-redirect-code sets
the ssl redirects' status; an edit of the ConfigMap changes the routes live;
a key restricting access that gantry does not implement takes the nginx
Ingresses out until it goes; a missing ConfigMap means ingress-nginx's
defaults."""
import http.client

from conftest import GANTRY_BIN, SLOW, run, wait_for
from test_k8s_nginx import NGINX_CLASS, apply, backends, emu, gantry, kubectl, problems  # noqa: F401

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
    config_map(emu, {"whitelist-source-range": "10.0.0.0/8", "http-redirect-code": "301", "hsts": "true"})
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
    assert "ConfigMap %s key hsts is not implemented by gantry (ignored)" % CM in p, p

    # an edit: the allow list now has the client, and redirects become 307
    config_map(emu, {"whitelist-source-range": "127.0.0.0/8", "http-redirect-code": "307"})
    wait_for(lambda: request(g.port, "plain.test")[0] == 200, what="the edited allow list")
    assert request(g.port, "secure.test", "POST") == (307, "https://secure.test/x?y=1")
    wait_for(lambda: "key hsts" not in problems(g), what="the hsts report gone with the key")

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
