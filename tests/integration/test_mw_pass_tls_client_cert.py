"""passTLSClientCert over real mutual TLS (curl with a client certificate
made by the openssl CLI): the PEM and the chosen info fields reach the
upstream in Traefik's format; without a client certificate nothing is
added, and a client's own X-Forwarded-Tls-Client-Cert never passes."""
import os
import subprocess
import urllib.parse

from attack import RecordingUpstream
from conftest import wait_for
from tls_certs import make_cert, make_client_cert


def upstream_header(up, name):
    for line in up.requests[-1][0].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name.lower().encode():
            return v.strip().decode()
    return None


def curl(port, host, ca, *args):
    return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca, "--resolve",
                           "%s:%d:127.0.0.1" % (host, port), *args, "https://%s:%d/" % (host, port)],
                          capture_output=True, timeout=20).stdout.decode()


def test_pass_tls_client_cert(tmp_path, procs):
    d = str(tmp_path)
    up = RecordingUpstream()
    crt, key = make_cert(d, "m.test")
    ccrt, ckey = make_client_cert(d, "alice")
    ca = os.path.join(d, "ca.crt")
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    m: {rule: \"Host(`m.test`)\", service: s, middlewares: [pass], tls: {options: ask}}\n"
                     "  middlewares:\n    pass:\n      passTLSClientCert:\n        pem: true\n        info:\n"
                     "          notAfter: true\n          notBefore: true\n          sans: true\n          serialNumber: true\n"
                     "          subject: {commonName: true, organization: true}\n          issuer: {commonName: true}\n"
                     "  services:\n    s: {loadBalancer: {servers: [{url: \"%s\"}]}}\n"
                     "tls:\n  options:\n    ask: {clientAuth: {caFiles: [\"%s\"], clientAuthType: VerifyClientCertIfGiven}}\n"
                     "  certificates: [{certFile: %s, keyFile: %s}]\n" % (up.url, ca, crt, key))
    wait_for(lambda: curl(g.port, "m.test", ca) == "200", what="route live")
    assert upstream_header(up, "X-Forwarded-Tls-Client-Cert") is None
    assert curl(g.port, "m.test", ca, "-H", "X-Forwarded-Tls-Client-Cert: forged") == "200"
    assert upstream_header(up, "X-Forwarded-Tls-Client-Cert") is None
    assert curl(g.port, "m.test", ca, "--cert", ccrt, "--key", ckey) == "200"
    pem = upstream_header(up, "X-Forwarded-Tls-Client-Cert")
    def bare(path):
        return "".join(l for l in open(path).read().splitlines() if not l.startswith("-----"))
    # the leaf, then what else the client sent: OpenSSL clients (curl) complete the chain from their CA file
    parts = pem.split(",")
    assert parts[0] == bare(ccrt) and all(p == bare(ca) for p in parts[1:]), pem
    info = urllib.parse.unquote_plus(upstream_header(up, "X-Forwarded-Tls-Client-Cert-Info"))
    serial = int(subprocess.run(["openssl", "x509", "-in", ccrt, "-noout", "-serial"], capture_output=True,
                                text=True).stdout.split("=")[1], 16)
    leaf_info = info.split(",")[0]
    assert leaf_info.startswith('Subject="CN=alice";Issuer="CN=gantry test CA";SerialNumber="%d";NB="' % serial), info
    assert ';NA="' in leaf_info and "SAN" not in leaf_info  # the client certificate has no SAN
