"""ingress-nginx's proxy-ssl-* annotations against real TLS upstreams (an
openssl-made CA, Python's ssl server), Ingresses applied with the real
kubectl to the API-server emulator: the backend is verified with the
Secret's ca.crt when proxy-ssl-verify is on, gantry presents the Secret's
tls.crt to it, proxy-ssl-name is the name verified, proxy-ssl-protocols
narrows the versions; what cannot be honoured refuses the Ingress."""
import os
import ssl

import pytest

from conftest import get, wait_for
from http_peers import QuietHandler, serve
from k8s_objects import nginx_ingress_yaml
from test_k8s_nginx import NGINX_CLASS, apply, backends, create_secret, emu, gantry, problems  # noqa: F401
from tls_certs import make_cert, make_client_cert


class TLSPod:
    """An HTTPS pod: its certificate for <name> from the CA of <d>; <client_ca>
    asks for a client certificate from that CA; <max_version> caps TLS."""

    def __init__(self, d, name="backend.internal", client_ca=None, max_version=None):
        crt, key = make_cert(d, name)
        self.clients = []
        outer = self

        class H(QuietHandler):
            def do_GET(self):
                cert = self.connection.getpeercert()
                outer.clients.append(cert)
                body = b"pod ok " + self.connection.version().encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        if max_version:
            ctx.maximum_version = max_version
        if client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(client_ca)
        self.httpd = serve(H, ctx)
        self.port = self.httpd.server_address[1]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def ingress(emu, name, svc, annotations):
    apply(emu, nginx_ingress_yaml(name, svc, annotations))


def body(g, host):
    status, _, b = get(g.port, "/", host)
    return status, b


@pytest.fixture
def pods(tmp_path):
    started = []

    def start(*a, **kw):
        p = TLSPod(*a, **kw)
        started.append(p)
        return p
    yield start
    for p in started:
        p.stop()


def test_verified_backend_with_client_certificate(tmp_path, procs, emu, pods):
    d = str(tmp_path)
    other = os.path.join(d, "other")
    os.makedirs(other)
    good = pods(d, client_ca=d + "/ca.crt")         # needs gantry's client certificate from the tests' CA
    stranger = pods(other, client_ca=d + "/ca.crt")  # a certificate from another CA
    tls12 = pods(d, max_version=ssl.TLSVersion.TLSv1_2)
    ccrt, ckey = make_client_cert(d, "gantry-client")
    apply(emu, NGINX_CLASS)
    backends(emu, "good", [good])
    backends(emu, "stranger", [stranger])
    backends(emu, "tls12", [tls12])
    create_secret(emu, "generic", "backend-tls", "--from-file=ca.crt=" + d + "/ca.crt",
                  "--from-file=tls.crt=" + ccrt, "--from-file=tls.key=" + ckey)
    verify = {"backend-protocol": "HTTPS", "proxy-ssl-secret": "default/backend-tls", "proxy-ssl-verify": "on",
              "proxy-ssl-name": "backend.internal", "proxy-ssl-server-name": "on"}
    ingress(emu, "verified", "good", verify)
    ingress(emu, "wrongname", "good", dict(verify, **{"proxy-ssl-name": "other.internal"}))
    ingress(emu, "untrusted", "stranger", verify)
    # verify off (ingress-nginx's default): the certificate is not checked, the client certificate still sent
    ingress(emu, "unverified", "stranger", dict(verify, **{"proxy-ssl-verify": "off"}))
    ingress(emu, "tls13only", "tls12", dict(verify, **{"proxy-ssl-protocols": "TLSv1.3"}))
    ingress(emu, "tls12ok", "tls12", dict(verify, **{"proxy-ssl-protocols": "TLSv1.2 TLSv1.3",
                                                        "proxy-ssl-ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256",
                                                        "proxy-ssl-verify-depth": "2"}))
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: body(g, "verified.test")[0] == 200, what="the verified HTTPS backend")
    status, b = body(g, "verified.test")
    assert b.startswith(b"pod ok TLSv1.2"), b  # ingress-nginx's default protocols stop at TLSv1.2
    assert good.clients and good.clients[-1]["subject"] == ((("commonName", "gantry-client"),),)
    assert body(g, "wrongname.test")[0] == 502       # the certificate is not for other.internal
    assert body(g, "untrusted.test")[0] == 502       # not signed by the Secret's CA
    assert body(g, "unverified.test") == (200, b"pod ok TLSv1.2")
    assert stranger.clients[-1]["subject"] == ((("commonName", "gantry-client"),),)
    assert body(g, "tls13only.test")[0] == 502       # the pod stops at TLS 1.2
    assert body(g, "tls12ok.test") == (200, b"pod ok TLSv1.2")
    assert "proxy-ssl" not in problems(g), problems(g)


@pytest.mark.parametrize("annotations, says", [
    ({"proxy-ssl-secret": "default/absent", "proxy-ssl-verify": "on"},
     "proxy-ssl-secret: secret default/absent does not exist"),
    ({"proxy-ssl-secret": "backend-tls", "proxy-ssl-verify": "on"},
     "proxy-ssl-secret: `backend-tls` is not namespace/name"),
    ({"proxy-ssl-verify": "on"}, "proxy-ssl-verify: on needs nginx.ingress.kubernetes.io/proxy-ssl-secret"),
    ({"proxy-ssl-secret": "default/backend-tls", "proxy-ssl-verify": "true"}, "proxy-ssl-verify: `true` is not on or off"),
    ({"proxy-ssl-secret": "default/only-client", "proxy-ssl-verify": "on"},
     "proxy-ssl-verify: on needs ca.crt in secret default/only-client"),
    ({"proxy-ssl-secret": "default/backend-tls", "proxy-ssl-protocols": "TLSv1 TLSv1.1"},
     "proxy-ssl-protocols: `TLSv1 TLSv1.1` has neither TLSv1.2 nor TLSv1.3"),
    ({"proxy-ssl-secret": "default/backend-tls", "proxy-ssl-ciphers": "NO-SUCH-CIPHER"},
     "proxy-ssl-ciphers: `NO-SUCH-CIPHER` selects no OpenSSL cipher"),
    ({"proxy-ssl-secret": "default/backend-tls", "proxy-ssl-verify-depth": "deep"},
     "proxy-ssl-verify-depth: `deep` is not an integer"),
    ({"proxy-ssl-secret": "default/backend-tls", "proxy-ssl-name": "$host"},
     "proxy-ssl-name: `$host` is not a host name"),
])
def test_what_cannot_be_honoured_refuses_the_ingress(tmp_path, procs, emu, pods, annotations, says):
    d = str(tmp_path)
    pod = pods(d)
    ccrt, ckey = make_client_cert(d, "gantry-client")
    apply(emu, NGINX_CLASS)
    backends(emu, "pod", [pod])
    create_secret(emu, "generic", "backend-tls", "--from-file=ca.crt=" + d + "/ca.crt")
    create_secret(emu, "tls", "only-client", "--cert=" + ccrt, "--key=" + ckey)
    ingress(emu, "refused", "pod", dict({"backend-protocol": "HTTPS"}, **annotations))
    ingress(emu, "fine", "pod", {"backend-protocol": "HTTPS"})  # the rest keeps serving
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: body(g, "fine.test")[0] == 200, what="the other Ingress")
    p = problems(g)
    assert "ingress default/refused: annotation nginx.ingress.kubernetes.io/" + says in p, p
    assert "(not served)" in p
    assert body(g, "refused.test")[0] == 404


def test_without_an_https_backend_nothing_changes_and_it_is_reported(tmp_path, procs, emu, pods):
    d = str(tmp_path)
    a = procs.whoami(name="a")
    apply(emu, NGINX_CLASS)
    backends(emu, "plain", [a])
    create_secret(emu, "generic", "backend-tls", "--from-file=ca.crt=" + make_client_cert(d, "x")[0])
    ingress(emu, "plain", "plain", {"proxy-ssl-secret": "default/backend-tls", "proxy-ssl-verify": "on"})
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: body(g, "plain.test")[0] == 200, what="the plain HTTP backend")
    assert "proxy-ssl-* apply to HTTPS backends only" in problems(g)
