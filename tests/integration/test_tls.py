"""TLS termination: certificates chosen by SNI from the dynamic
configuration, Traefik's default self-signed certificate otherwise, and a
certificate change applied without a restart."""
import ssl
import socket

from conftest import run, service_yaml, wait_for
from tls_certs import make_cert


def peer_names(port, sni):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port)) as s:
        with ctx.wrap_socket(s, server_hostname=sni) as t:
            der = t.getpeercert(binary_form=True)
    r = run(["openssl", "x509", "-inform", "der", "-noout", "-subject", "-ext", "subjectAltName"], input=der)
    return r.stdout.decode()


def config(up, certs):
    y = ("http:\n  routers:\n"
         "    a:\n      rule: \"Host(`a.test`)\"\n      service: s\n      tls: {}\n"
         "    b:\n      rule: \"Host(`b.test`) || Host(`x.wild.test`)\"\n      service: s\n      tls: {}\n"
         "  services:\n" + service_yaml("s", [up.url]) + "tls:\n  certificates:\n")
    for crt, key in certs:
        y += "    - certFile: %s\n      keyFile: %s\n" % (crt, key)
    return y


def test_sni_selects_certificate(tmp_path, procs):
    up = procs.whoami()
    d = str(tmp_path)
    ca = d + "/ca.crt"
    a = make_cert(d, "a.test")
    b = make_cert(d, "b.test", ["b.test", "*.wild.test"])
    g = procs.gantry(tmp_path, config(up, [a, b]))
    assert "DNS:a.test" in peer_names(g.port, "a.test")
    assert "DNS:b.test" in peer_names(g.port, "b.test")
    assert "DNS:*.wild.test" in peer_names(g.port, "x.wild.test")
    assert "GANTRY DEFAULT CERT" in peer_names(g.port, "unknown.test")
    for host in ("a.test", "b.test", "x.wild.test"):
        r = run(["curl", "-s", "--cacert", ca, "--resolve", "%s:%d:127.0.0.1" % (host, g.port),
                 "https://%s:%d/" % (host, g.port)])  # verification succeeds: right certificate
        assert b"whoami" in r.stdout
    # plain HTTP on the same entry point does not reach tls routers
    r = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: a.test", "http://127.0.0.1:%d/" % g.port])
    assert r.stdout == b"404"

    # a new certificate for a.test is served without a restart
    a2 = make_cert(d, "a2.test", ["a.test", "alt.a.test"])
    g.write(config(up, [a2, b]))
    wait_for(lambda: "alt.a.test" in peer_names(g.port, "a.test"), what="new certificate")


def test_bad_certificate_is_reported_and_others_served(tmp_path, procs):
    up = procs.whoami()
    d = str(tmp_path)
    a = make_cert(d, "a.test")
    (tmp_path / "bad.crt").write_text("not a certificate\n")
    g = procs.gantry(tmp_path, config(up, [a, (d + "/bad.crt", a[1])]))
    g.wait_log(r"bad\.crt: not a PEM certificate")
    assert "DNS:a.test" in peer_names(g.port, "a.test")
