"""Traefik's HTTPS example configurations (integration/fixtures/https:
clientca/https_1ca1config, clientca/https_2ca1config,
clientca/https_2ca2config, https_sni_strict, https_tls_options), rewritten
as Gantry YAML in tests/fixtures/traefik_https (Gantry's file provider reads
YAML, not TOML), behave as Traefik's own integration tests
(integration/https_test.go) say they do. Certificates are generated here:
snitest.com / snitest.org server certificates, three CAs each with one
client certificate. Checked with curl and openssl s_client."""
import os
import subprocess

from conftest import ROOT, wait_for
from tls_certs import make_cert, make_client_cert

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "traefik_https")


def certs(d):
    """snitest.com/.org, ca1..ca3 with client1..client3, ca1and2.crt (a bundle)."""
    for n in ("snitest.com", "snitest.org", "snitest.net"):
        make_cert(d, n)
    clients = {}
    for i in (1, 2, 3):
        sub = os.path.join(d, "ca%d" % i)
        os.makedirs(sub, exist_ok=True)
        clients[i] = make_client_cert(sub, "client%d" % i)
    with open(os.path.join(d, "ca1and2.crt"), "w") as out:
        for i in (1, 2):
            with open(os.path.join(d, "ca%d" % i, "ca.crt")) as f:
                out.write(f.read())
    return clients


def start(procs, tmp_path, fixture):
    s1, s2 = procs.whoami(name="service1"), procs.whoami(name="service2")
    d = str(tmp_path / "certs")
    os.makedirs(d, exist_ok=True)
    clients = certs(d)
    with open(os.path.join(FIXTURES, fixture)) as f:
        text = f.read().replace("{certs}", d).replace("{svc1}", s1.url).replace("{svc2}", s2.url)
    g = procs.gantry(tmp_path, text, entrypoints=("websecure",))
    return g, clients


def curl(port, host, client=None, *args):
    """'<status> <name of the backend>' or the curl error; -k: Traefik's tests skip verification too."""
    cmd = ["curl", "-sk", "-o", "-", "-w", "\n%{http_code}", "--resolve", "%s:%d:127.0.0.1" % (host, port)]
    if client:
        cmd += ["--cert", client[0], "--key", client[1]]
    r = subprocess.run(cmd + list(args) + ["https://%s:%d/?format=json" % (host, port)], capture_output=True, timeout=20)
    body, _, code = r.stdout.decode(errors="replace").rpartition("\n")
    if code == "000":
        return "error %d" % r.returncode
    name = "service1" if '"service1"' in body else "service2" if '"service2"' in body else "-"
    return "%s %s" % (code, name)


def handshake(port, sni, *args):
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-brief"]
    cmd += ["-servername", sni] if sni else ["-noservername"]
    r = subprocess.run(cmd + list(args), input=b"", capture_output=True, timeout=20)
    return r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")


def test_clientca_optional_one_ca(tmp_path, procs):
    """TestWithClientCertificateAuthentication: VerifyClientCertIfGiven with ca1."""
    g, c = start(procs, tmp_path, "clientca_optional_one_ca.yaml")
    wait_for(lambda: curl(g.port, "snitest.com") == "200 service1", what="router1 served")
    assert curl(g.port, "snitest.com", c[1]) == "200 service1"
    assert curl(g.port, "snitest.org", c[1]) == "200 service2"
    # a certificate from another CA, given: refused (Go's VerifyClientCertIfGiven verifies what it gets)
    assert curl(g.port, "snitest.com", c[2]).startswith("error")
    # Traefik's test sends a server certificate of another CA as a client certificate: refused too
    d = str(tmp_path / "certs")
    assert curl(g.port, "snitest.com", (os.path.join(d, "snitest.org.crt"), os.path.join(d, "snitest.org.key"))) \
        .startswith("error")


def test_clientca_bundle_of_two_cas(tmp_path, procs):
    """TestWithClientCertificateAuthenticationMultipleCAs: caFiles without a
    clientAuthType means RequireAndVerifyClientCert."""
    g, c = start(procs, tmp_path, "clientca_bundle_two_cas.yaml")
    wait_for(lambda: curl(g.port, "snitest.com", c[1]) == "200 service1", what="router1 served")
    assert curl(g.port, "snitest.com").startswith("error")  # no client certificate
    assert curl(g.port, "snitest.com", c[2]) == "200 service1"
    assert curl(g.port, "snitest.org", c[2]) == "200 service2"
    assert curl(g.port, "snitest.com", c[3]).startswith("error")


def test_clientca_two_files(tmp_path, procs):
    """TestWithClientCertificateAuthenticationMultipleCAsMultipleFiles."""
    g, c = start(procs, tmp_path, "clientca_two_files.yaml")
    wait_for(lambda: curl(g.port, "snitest.com", c[1]) == "200 service1", what="router1 served")
    assert curl(g.port, "snitest.com").startswith("error")
    assert curl(g.port, "snitest.com", c[2]) == "200 service1"
    assert curl(g.port, "snitest.com", c[3]).startswith("error")
    # the handshake itself is refused (not an HTTP answer); TLS 1.2, where the alert comes inside the handshake
    ok, out = handshake(g.port, "snitest.com", "-tls1_2")
    assert not ok, out  # (Go sends a certificate_required alert; Gantry closes without one)


def test_sni_strict(tmp_path, procs):
    """TestWithSNIStrictNotMatchedRequest: sniStrict on the default option, only
    the store's default certificate: a name no certificate has is refused in
    the handshake; so is no name at all (Traefik matches the local address
    then, and no certificate has it)."""
    g, _ = start(procs, tmp_path, "sni_strict.yaml")
    wait_for(lambda: handshake(g.port, "snitest.org")[1] != "", what="listener")
    ok, out = handshake(g.port, "snitest.org", "-alpn", "h2,http/1.1")
    assert not ok, out
    ok, out = handshake(g.port, None)
    assert not ok, out


def test_tls_options(tmp_path, procs):
    """TestWithTLSOptions and TestWithConflictingTLSOptions."""
    g, _ = start(procs, tmp_path, "tls_options.yaml")
    wait_for(lambda: curl(g.port, "snitest.com", None, "--tls-max", "1.2") == "200 service1", what="router1 served")
    # router2 (bar: TLS 1.2+) with a TLS 1.2 client; served by service2, with snitest.org's certificate
    assert curl(g.port, "snitest.org", None, "--tls-max", "1.2") == "200 service2"
    ok, out = handshake(g.port, "snitest.org", "-tls1_2")
    assert ok and "CN = snitest.org" in out, out
    # a TLS 1.1 client is refused by bar (the client is allowed to offer 1.1: SECLEVEL 0)
    ok, out = handshake(g.port, "snitest.org", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert not ok, out
    # router3 names an option that does not exist: not served, said in the API (router2 serves the host)
    rs = {r["name"]: r for r in g.api("/api/http/routers")}
    assert rs["router3@file"]["status"] == "disabled"
    assert "unknown@file' does not exist" in " ".join(rs["router3@file"]["error"])
    assert rs["router2@file"]["status"] == "enabled"
    # snitest.net: router4 (foo) and router5 (baz) disagree, so the host gets the default option (TLS 1.2+)
    assert curl(g.port, "snitest.net", None, "--tls-max", "1.2") == "200 service1"
    ok, out = handshake(g.port, "snitest.net", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert not ok, out
    problems = " ".join(g.api("/api/overview")["problems"])
    assert "host 'snitest.net': routers with different TLS options" in problems, problems
