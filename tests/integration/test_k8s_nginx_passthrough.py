"""ingress-nginx's ssl-passthrough, Ingresses applied with the real kubectl
to the API-server emulator: with providers.kubernetesIngressNGINX.
enableSSLPassthrough (ingress-nginx's --enable-ssl-passthrough) the TLS
connection for the Ingress's host reaches a real TLS backend (nginx)
unterminated: curl sees the backend's own certificate and answer, while
port 80 keeps the Ingress's HTTP routes and other hosts stay terminated by
Gantry. Without the option the annotation is reported and the Ingress
served terminated, as ingress-nginx does without the flag."""
import json
import os

from conftest import get, run, wait_for
from tcp_peers import TlsNginx
from test_k8s_nginx import NGINX_CLASS, apply, backends, create_secret, emu, gantry, problems  # noqa: F401
from tls_certs import make_cert

PASS_INGRESSES = """\
    apiVersion: v1
    kind: Service
    metadata: {name: secure, namespace: default}
    spec:
      ports: [{name: https, port: 443, targetPort: 8443}]
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata:
      name: secure-0
      namespace: default
      labels: {kubernetes.io/service-name: secure}
    addressType: IPv4
    ports: [{name: https, port: %d}]
    endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: pass
      namespace: default
      annotations: {nginx.ingress.kubernetes.io/ssl-passthrough: "true"}
    spec:
      ingressClassName: nginx
      tls: [{hosts: [pass.test], secretName: gantry-tls}]
      rules:
      - host: pass.test
        http:
          paths:
          - {path: /plain, pathType: Prefix, backend: {service: {name: plain, port: {number: 80}}}}
          - {path: /, pathType: Prefix, backend: {service: {name: secure, port: {number: 443}}}}
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: term, namespace: default}
    spec:
      ingressClassName: nginx
      tls: [{hosts: [term.test], secretName: gantry-tls}]
      rules:
      - host: term.test
        http:
          paths:
          - {path: /, pathType: Prefix, backend: {service: {name: plain, port: {number: 80}}}}
    """


def start_peers(tmp_path, procs, emu):
    """The TLS backend (certificate from CA <d>/backend), the plain whoami,
    Gantry's own certificate from another CA (<d>/gantry); the CA files."""
    d = str(tmp_path)
    back, mine = os.path.join(d, "backend"), os.path.join(d, "gantry")
    os.makedirs(back)
    os.makedirs(mine)
    tls_backend = TlsNginx(tmp_path, "tls-backend", *make_cert(back, "pass.test", ["pass.test", "term.test"]))
    procs_started = [tls_backend]
    plain = procs.whoami(name="plain")
    crt, key = make_cert(mine, "gantry", ["pass.test", "term.test"])
    apply(emu, NGINX_CLASS)
    backends(emu, "plain", [plain])
    create_secret(emu, "tls", "gantry-tls", "--cert=" + crt, "--key=" + key)
    apply(emu, PASS_INGRESSES % tls_backend.port)
    return back + "/ca.crt", mine + "/ca.crt", procs_started


def curl(port, host, path, ca):
    """HTTPS through Gantry's websecure entry point, the certificate verified
    against <ca>: (exit code, body)."""
    r = run(["curl", "-sS", "--max-time", "5", "--cacert", ca, "--resolve", "%s:%d:127.0.0.1" % (host, port),
             "-H", "Accept: application/json", "https://%s:%d%s" % (host, port, path)], check=False)
    return r.returncode, r.stdout


def test_ssl_passthrough_reaches_the_backend_unterminated(tmp_path, procs, emu):
    backend_ca, gantry_ca, started = start_peers(tmp_path, procs, emu)
    try:
        g = gantry(procs, tmp_path, emu, ["--providers.kubernetesIngressNGINX.enableSSLPassthrough=true"])
        tls = g.ports["websecure"]
        # the backend's own certificate (its CA) and its own answer, whatever the path
        wait_for(lambda: curl(tls, "pass.test", "/plain", backend_ca) == (0, b"tls-backend\n"),
                 what="the passthrough to the TLS backend")
        assert curl(tls, "pass.test", "/", gantry_ca)[0] != 0  # not Gantry's certificate
        # another host on the same entry point: terminated by Gantry, routed by path
        code, body = curl(tls, "term.test", "/", gantry_ca)
        assert code == 0 and json.loads(body)["name"] == "plain", body
        # port 80 keeps the Ingress's HTTP routes: ssl-redirect (it has tls) to the passed-through HTTPS
        status, hdrs, _ = get(g.port, "/plain", "pass.test")
        assert status in (301, 308) and hdrs["location"].startswith("https://pass.test"), (status, hdrs)
        assert "ssl-passthrough" not in problems(g), problems(g)
        r = g.api("/api/tcp/routers/default-pass-0-ssl-passthrough@kubernetes")
        assert r["status"] == "enabled" and r["rule"] == "HostSNI(`pass.test`)", r
        svc = g.api("/api/tcp/services/default-secure-443@kubernetes")
        assert svc["loadBalancer"]["servers"] == [{"address": "127.0.0.1:%d" % started[0].port}], svc
    finally:
        for p in started:
            p.stop()


def test_without_the_option_the_ingress_is_served_terminated_and_reported(tmp_path, procs, emu):
    backend_ca, gantry_ca, started = start_peers(tmp_path, procs, emu)
    try:
        g = gantry(procs, tmp_path, emu)
        tls = g.ports["websecure"]
        # Gantry's certificate, and the Ingress's HTTP routes (path /plain to whoami)
        wait_for(lambda: curl(tls, "pass.test", "/plain", gantry_ca)[0] == 0, what="pass.test terminated by Gantry")
        code, body = curl(tls, "pass.test", "/plain", gantry_ca)
        assert json.loads(body)["name"] == "plain", body
        assert curl(tls, "pass.test", "/plain", backend_ca)[0] != 0
        assert ("annotation nginx.ingress.kubernetes.io/ssl-passthrough is ignored: "
                "providers.kubernetesIngressNGINX.enableSSLPassthrough is off") in problems(g), problems(g)
    finally:
        for p in started:
            p.stop()
