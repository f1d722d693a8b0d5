"""tls.stores.default.defaultGeneratedCert (Traefik v3): the default
certificate (no SNI, unknown names) is obtained from an ACME resolver,
here Debian's pebble, and checked with openssl s_client against pebble's
root; a defaultCertificate takes precedence; stores other than 'default'
are an error in the log and the API while the rest is served."""
import shutil

import pytest

from conftest import free_port, run, service_yaml, wait_for
from test_acme import Pebble, api, fixed_ports_gantry, issued, served_by_sni
from tls_certs import make_cert


def handshake(port, sni, root):
    """openssl s_client's output for <sni> (None: no SNI), verifying the chain with <root>."""
    args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", root, "-showcerts"]
    args += ["-servername", sni] if sni else ["-noservername"]
    return run(args, input=b"", check=False).stdout.decode(errors="replace")


def leaf_names(out):
    pem = out[out.index("-----BEGIN CERTIFICATE-----"):out.index("-----END CERTIFICATE-----") + 25]
    r = run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=pem.encode())
    return r.stdout.decode()


def dynamic(up, stores):
    return ("http:\n  routers:\n"
            "    app:\n      rule: \"Host(`app.test`)\"\n      service: s\n      entryPoints: [websecure]\n"
            "      tls:\n        certResolver: pebble\n"
            "  services:\n" + service_yaml("s", [up.url]) + "tls:\n  stores:\n" + stores)


GENERATED = ("    default:\n      defaultGeneratedCert:\n        resolver: pebble\n"
             "        domain:\n          main: default.test\n          sans: [alt.default.test]\n")


@pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble is not installed (scripts/deps.sh test)")
def test_unknown_sni_gets_the_acme_default_certificate(tmp_path, procs):
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    other = "    other:\n      defaultCertificate:\n        certFile: /nonexistent.crt\n        keyFile: /nonexistent.key\n"
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, dyn=dynamic(up, GENERATED + other))
    wait_for(issued(g, "default.test"), timeout=60, what="default certificate issued:\n" + g.output()[-3000:])
    wait_for(issued(g, "app.test"), timeout=60, what="router certificate issued:\n" + g.output()[-3000:])
    root = pebble.root()

    def default_served(sni):
        out = handshake(websecure, sni, root)
        return "Verify return code: 0 (ok)" in out and "DNS:default.test" in leaf_names(out)
    # an unknown name and no SNI at all get the ACME certificate, verified up to pebble's root
    wait_for(lambda: default_served("unknown.test"), timeout=10, what="ACME default certificate for an unknown SNI")
    assert default_served(None)
    assert "DNS:alt.default.test" in leaf_names(handshake(websecure, "unknown.test", root))
    # it is a certificate like the others: served by SNI for its own names too
    assert "DNS:default.test" in leaf_names(handshake(websecure, "alt.default.test", root))
    # the router keeps its own certificate
    assert "DNS:app.test" in leaf_names(handshake(websecure, "app.test", root))
    assert served_by_sni(websecure, "app.test", root)
    # the store named 'other' is an error in the log and the API; the rest is served
    msg = "tls.stores.other: only the TLS store named 'default' is supported; this store is ignored"
    assert any(msg in p for p in api(g, "/api/overview")["problems"])
    assert "ERROR" in [l for l in g.output().splitlines() if msg in l][0].upper()


def test_default_certificate_takes_precedence_and_unknown_resolver(tmp_path, procs):
    """No CA needed: with a defaultCertificate, nothing is ordered and the
    file's certificate stays the default; a resolver that does not exist is
    a problem in the API."""
    up = procs.whoami()
    crt, key = make_cert(str(tmp_path), "mine.test")
    user = "      defaultCertificate:\n        certFile: %s\n        keyFile: %s\n" % (crt, key)
    dead_ca = "http://127.0.0.1:%d/dir" % free_port()
    g = procs.gantry(tmp_path, dynamic(up, GENERATED + user), entrypoints=("web", "websecure"),
                     args=["--certificatesResolvers.pebble.acme.caServer=" + dead_ca,
                           "--certificatesResolvers.pebble.acme.storage=" + str(tmp_path / "acme.json"),
                           "--certificatesResolvers.pebble.acme.tlsChallenge=true"])

    def problem(text):
        return lambda: any(text in p for p in g.api("/api/overview")["problems"])
    wait_for(problem("defaultCertificate and defaultGeneratedCert cannot be defined at the same time"), timeout=10,
             what="precedence problem:\n" + g.output()[-3000:])
    out = handshake(g.ports["websecure"], "unknown.test", str(tmp_path / "ca.crt"))
    assert "Verify return code: 0 (ok)" in out and "DNS:mine.test" in leaf_names(out)
    assert "ordering a certificate for default.test" not in g.output()

    g.write(dynamic(up, GENERATED.replace("resolver: pebble", "resolver: nosuch")))
    wait_for(problem("tls.stores.default.defaultGeneratedCert.resolver 'nosuch' is not defined in certificatesResolvers"),
             timeout=10, what="unknown resolver problem:\n" + g.output()[-3000:])
