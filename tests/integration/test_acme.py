"""ACME (certificatesResolvers) against Debian's real pebble on loopback:
HTTP-01 issuance end to end, the certificate served by SNI and verified
with pebble's root, the account and certificates kept in acme.json across
a restart, pebble's injected bad nonces survived, a failing challenge
reported in the API with backoff, and renewal on Traefik's
certificatesDuration schedule (and of certificates shorter than it).

Pebble resolves the names it validates through pebble-challtestsrv's DNS
(every name -> 127.0.0.1) and connects to gantry's entry points
(httpPort/tlsPort in its configuration). Its HTTPS certificate is made
here by a test CA that gantry trusts through LEGO_CA_CERTIFICATES."""
import base64
import http.client
import calendar
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest

from conftest import Process, free_port, run, service_yaml, wait_for, wait_port
from tls_certs import make_ca, make_cert

pytestmark = pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble is not installed (scripts/deps.sh test)")


class Pebble:
    """pebble-challtestsrv (DNS only) and pebble, stopped together."""

    def __init__(self, tmp, http_port, tls_port, env=None, validity=None, eab=None, ocsp="", names=("localhost",),
                 ips=("127.0.0.1",)):
        self.dir = str(tmp)
        os.makedirs(self.dir, exist_ok=True)
        make_ca(self.dir)
        # the names of pebble's own HTTPS certificate (what gantry verifies)
        self.crt, self.key = make_cert(self.dir, names[0], list(names), ips=list(ips))
        self.ca = os.path.join(self.dir, "ca.crt")
        self.dns_port, self.cts_mgmt = free_port(), free_port()
        self.port, self.mgmt = free_port(), free_port()
        self.cts = Process(["pebble-challtestsrv", "-dns01", "127.0.0.1:%d" % self.dns_port, "-http01", "", "-https01", "",
                            "-tlsalpn01", "", "-management", "127.0.0.1:%d" % self.cts_mgmt, "-defaultIPv4", "127.0.0.1",
                            "-defaultIPv6", ""], "challtestsrv")
        conf = {"pebble": {"listenAddress": "127.0.0.1:%d" % self.port,
                           "managementListenAddress": "127.0.0.1:%d" % self.mgmt,
                           "certificate": self.crt, "privateKey": self.key,
                           "httpPort": http_port, "tlsPort": tls_port,
                           "ocspResponderURL": ocsp, "externalAccountBindingRequired": False}}
        if validity:
            conf["pebble"]["certificateValidityPeriod"] = validity
        if eab:
            conf["pebble"]["externalAccountBindingRequired"] = True
            conf["pebble"]["externalAccountMACKeys"] = eab
        path = os.path.join(self.dir, "pebble.json")
        with open(path, "w") as f:
            json.dump(conf, f)
        e = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_VA_ALWAYS_VALID="0", PEBBLE_WFE_NONCEREJECT="0",
                 PEBBLE_AUTHZREUSE="0")
        e.update(env or {})
        wait_port(self.cts_mgmt, timeout=10)
        self.proc = Process(["pebble", "-config", path, "-dnsserver", "127.0.0.1:%d" % self.dns_port], "pebble", env=e)
        wait_port(self.port, timeout=15)
        wait_port(self.mgmt, timeout=15)
        self.directory = "https://127.0.0.1:%d/dir" % self.port

    def root(self):
        """Pebble's issuing root (made at its start), from the management interface."""
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.check_hostname = False
        with urllib.request.urlopen("https://127.0.0.1:%d/roots/0" % self.mgmt, context=ctx, timeout=10) as r:
            pem = r.read()
        path = os.path.join(self.dir, "pebble-root.pem")
        with open(path, "wb") as f:
            f.write(pem)
        return path

    def stop(self, sig=None, timeout=5):
        self.proc.stop(timeout=timeout)
        self.cts.stop(timeout=timeout)
        return 0


def dynamic(up, hosts=("app.test",), resolver="pebble"):
    rule = " || ".join("Host(`%s`)" % h for h in hosts)
    return ("http:\n  routers:\n"
            "    app:\n      rule: \"%s\"\n      service: s\n      entryPoints: [websecure]\n"
            "      tls:\n        certResolver: %s\n"
            "  services:\n" % (rule, resolver)) + service_yaml("s", [up.url])


def fixed_ports_gantry(procs, tmp, pebble, up, web, websecure, extra=(), hosts=("app.test",), challenge_ep="web", dyn=None,
                       lego_env=True, key_type="EC256"):
    """A gantry on given ports (pebble's httpPort/tlsPort are fixed at its
    start), trusting pebble's HTTPS through LEGO_CA_CERTIFICATES unless
    <lego_env> is false. Certificate keys are EC256 for speed unless
    <key_type> says otherwise (None: Traefik's default, RSA4096)."""
    from conftest import GANTRY_BIN, Process as P
    args = [GANTRY_BIN, "--workers=2", "--log.level=DEBUG",
            "--entryPoints.web.address=127.0.0.1:%d" % web,
            "--entryPoints.websecure.address=127.0.0.1:%d" % websecure,
            "--providers.file.filename=" + os.path.join(str(tmp), "dynamic.yaml"),
            "--certificatesResolvers.pebble.acme.caServer=" + pebble.directory,
            "--certificatesResolvers.pebble.acme.email=ops@example.test",
            "--certificatesResolvers.pebble.acme.storage=" + os.path.join(str(tmp), "acme.json"),
            ("--certificatesResolvers.pebble.acme.httpChallenge.entryPoint=" + challenge_ep if challenge_ep
             else "--certificatesResolvers.pebble.acme.tlsChallenge=true")] + list(extra)
    if key_type:
        args.append("--certificatesResolvers.pebble.acme.keyType=" + key_type)
    admin = free_port()
    args.append("--admin.address=127.0.0.1:%d" % admin)
    with open(os.path.join(str(tmp), "dynamic.yaml"), "w") as f:
        f.write(dyn or dynamic(up, hosts))
    env = dict(os.environ)
    env.pop("LEGO_CA_CERTIFICATES", None)
    if lego_env:
        env["LEGO_CA_CERTIFICATES"] = pebble.ca
    g = P(args, "gantry", env=env)
    g.admin_port = admin
    procs.add(g)
    wait_port(web, timeout=10, proc=g)
    wait_port(admin, timeout=10, proc=g)
    return g


def api(g, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (g.admin_port, path), timeout=10) as r:
        return json.loads(r.read())


def served_by_sni(port, host, root):
    r = run(["curl", "-s", "--cacert", root, "--resolve", "%s:%d:127.0.0.1" % (host, port), "https://%s:%d/" % (host, port)],
            check=False)
    return r.returncode == 0 and b"whoami" in r.stdout


def issued(g, host, start=0):
    return lambda: ("certificate for %s issued" % host) in g.output()[start:]


def test_http01_issuance_served_by_sni_and_kept_across_restart(tmp_path, procs):
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, hosts=("app.test", "www.app.test"))
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    root = pebble.root()
    wait_for(lambda: served_by_sni(websecure, "app.test", root), timeout=10, what="served by SNI")
    assert served_by_sni(websecure, "www.app.test", root)
    # openssl s_client verifies the chain against pebble's root too
    r = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % websecure, "-servername", "app.test", "-CAfile", root,
             "-verify_return_error", "-brief"], input=b"", check=False)
    assert b"Verification: OK" in r.stderr + r.stdout, r.stderr
    store = tmp_path / "acme.json"
    assert (os.stat(store).st_mode & 0o777) == 0o600
    doc = json.loads(store.read_text())
    account_uri = doc["pebble"]["Account"]["Registration"]["uri"]
    assert account_uri.startswith("https://127.0.0.1:%d/" % pebble.port)
    certs = doc["pebble"]["Certificates"]
    assert [c["domain"]["main"] for c in certs] == ["app.test"] and certs[0]["domain"]["sans"] == ["www.app.test"]

    # a restart serves the stored certificate at once and orders nothing new
    assert g.stop() == 0
    g2 = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, hosts=("app.test", "www.app.test"))
    wait_for(lambda: served_by_sni(websecure, "app.test", root), timeout=10, what="stored certificate served")
    time.sleep(1)
    out = g2.output()
    assert "reusing the stored account " + account_uri in out
    assert "ordering a certificate" not in out
    assert json.loads(store.read_text())["pebble"]["Account"]["Registration"]["uri"] == account_uri


def test_tls_domains_and_refusals(tmp_path, procs):
    """tls.domains replace the Host names; a wildcard (DNS-01 only) and an
    unknown resolver are refused with a problem in the API."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    dyn = ("http:\n  routers:\n"
           "    api:\n      rule: \"Host(`other.test`)\"\n      service: s\n      entryPoints: [websecure]\n"
           "      tls:\n        certResolver: pebble\n        domains:\n"
           "          - main: api.test\n            sans: [api2.test]\n"
           "    wild:\n      rule: \"Host(`w.test`)\"\n      service: s\n      entryPoints: [websecure]\n"
           "      tls:\n        certResolver: pebble\n        domains:\n          - main: \"*.wild.test\"\n"
           "    nores:\n      rule: \"Host(`n.test`)\"\n      service: s\n      entryPoints: [websecure]\n"
           "      tls:\n        certResolver: nosuch\n"
           "  services:\n") + service_yaml("s", [up.url])
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, dyn=dyn)
    wait_for(issued(g, "api.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    root = pebble.root()
    r = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % websecure, "-servername", "api2.test", "-CAfile", root,
             "-verify_return_error", "-brief"], input=b"", check=False)
    assert b"Verification: OK" in r.stderr + r.stdout, r.stderr
    problems = api(g, "/api/overview")["problems"]
    assert any("wildcard certificate for domain *.wild.test: certificate resolver pebble has no dnsChallenge" in p
               for p in problems), problems
    assert any("tls.certResolver 'nosuch' is not defined" in p for p in problems), problems
    certs = json.loads((tmp_path / "acme.json").read_text())["pebble"]["Certificates"]
    assert [(c["domain"]["main"], c["domain"].get("sans")) for c in certs] == [("api.test", ["api2.test"])]


def test_tls_alpn01_issuance(tmp_path, procs):
    """tlsChallenge alone: pebble connects to websecure offering only
    acme-tls/1 and gets the challenge certificate chosen in the ClientHello
    callback; ordinary handshakes meanwhile get the usual certificates."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, challenge_ep=None)
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    wait_for(lambda: served_by_sni(websecure, "app.test", pebble.root()), timeout=10, what="served by SNI")
    # no challenge pending: acme-tls/1 alone gets the ordinary certificate, and no protocol
    r = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % websecure, "-servername", "app.test", "-alpn", "acme-tls/1"],
            input=b"", check=False)
    assert b"acmeIdentifier" not in run(["openssl", "x509", "-noout", "-text"], input=r.stdout, check=False).stdout


EAB_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"  # pebble's example key


def test_external_account_binding(tmp_path, procs):
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure, eab={"kid-1": EAB_KEY}))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure,
                           extra=["--certificatesResolvers.pebble.acme.eab.kid=kid-1",
                                  "--certificatesResolvers.pebble.acme.eab.hmacEncoded=" + EAB_KEY])
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])


def test_router_naming_an_undefined_resolver(tmp_path, procs):
    """No certificatesResolvers at all: the router is served on the default
    certificate and the API says why it gets no ACME certificate."""
    up = procs.whoami()
    g = procs.gantry(tmp_path, dynamic(up, resolver="nosuch"), entrypoints=("web", "websecure"))
    wait_for(lambda: any("tls.certResolver 'nosuch' is not defined" in p for p in g.api("/api/overview")["problems"]),
             timeout=10, what="problem in the API")


def test_bad_nonces_are_retried(tmp_path, procs):
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure, env={"PEBBLE_WFE_NONCEREJECT": "50"}))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure)
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    assert "badNonce" in g.output()  # pebble did reject some, and each was signed again
    wait_for(lambda: served_by_sni(websecure, "app.test", pebble.root()), timeout=10, what="served by SNI")


def test_failing_challenge_reported_with_backoff(tmp_path, procs):
    """The token is answered on the httpChallenge entry point only: with
    websecure named there, pebble's plain HTTP request to web finds no
    token and the authorization fails."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, challenge_ep="websecure")

    def problem():
        for p in api(g, "/api/overview")["problems"]:
            if p.startswith("acme: resolver pebble: certificate for app.test"):
                return p
        return None
    wait_for(problem, timeout=30, what="acme problem in the API:\n" + g.output()[-3000:])
    p = problem()
    assert "HTTP-01 challenge for app.test failed" in p and "failures: 1" in p and "next attempt in" in p, p
    assert "failure 1, next attempt in 10 s" in g.output()
    # the second attempt waits for the backoff, then doubles it
    wait_for(lambda: "failure 2, next attempt in 20 s" in g.output(), timeout=30, what="second failure")
    assert "failure 3" not in g.output()
    assert not os.path.exists(tmp_path / "acme.json") or not json.loads((tmp_path / "acme.json").read_text())["pebble"].get(
        "Certificates")


def served_cert(port, host):
    """The PEM certificate served for <host> (openssl s_client), b"" when none."""
    r = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", host], input=b"", check=False)
    return run(["openssl", "x509"], input=r.stdout, check=False).stdout


def cert_field(pem, opt):
    """openssl x509 -<opt> of <pem>, the value after '='."""
    return run(["openssl", "x509", "-noout", "-" + opt], input=pem).stdout.decode().strip().split("=", 1)[1]


def not_after(pem):
    return calendar.timegm(time.strptime(cert_field(pem, "enddate"), "%b %d %H:%M:%S %Y GMT"))


def logged_renewal(g, host):
    """(renewal time, period) from the log line of <host>'s last certificate."""
    m = re.findall(r"certificate for %s issued \(\d+ names, valid until \S+, renewal from (\S+), (\S+) before the end\)"
                   % re.escape(host), g.output())
    assert m, g.output()[-3000:]
    return calendar.timegm(time.strptime(m[-1][0], "%Y-%m-%dT%H:%M:%SZ")), m[-1][1]


def log_time(g, text):
    """The time of the first log line with <text> (gantry's own timestamp, in seconds)."""
    m = re.search(r"^(\S+)Z \S+ +.*%s" % re.escape(text), g.output(), re.M)
    assert m, text
    whole, frac = m.group(1).split(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)


def test_renewal_follows_certificates_duration(tmp_path, procs):
    """Pebble issues certificates of 30 days and 20 seconds (notAfter 1 s early). Resolver
    "pebble" keeps Traefik's default certificatesDuration (2160 h: renewed
    30 days before the end), so its certificate is renewed 20 s after it
    arrives, and the new one served. Resolver "yearly" says 8760 h (4
    months before the end, longer than these certificates live): renewed by
    the row of the certificate's own lifetime (10 days before the end), with
    a warning, instead of again and again."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure, validity=30 * 86400 + 20))
    dyn = ("http:\n  routers:\n"
           "    app:\n      rule: \"Host(`app.test`)\"\n      service: s\n      entryPoints: [websecure]\n"
           "      tls:\n        certResolver: pebble\n"
           "    year:\n      rule: \"Host(`year.test`)\"\n      service: s\n      entryPoints: [websecure]\n"
           "      tls:\n        certResolver: yearly\n"
           "  services:\n") + service_yaml("s", [up.url])
    yearly = "--certificatesResolvers.yearly.acme."
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, dyn=dyn,
                           extra=[yearly + "caServer=" + pebble.directory, yearly + "email=ops@example.test",
                                  yearly + "storage=" + os.path.join(str(tmp_path), "acme.json"),
                                  yearly + "httpChallenge.entryPoint=web", yearly + "certificatesDuration=8760"])
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    # both resolvers make an RSA 4096 account key first: year.test may come
    # much later than app.test on a busy machine, so times come from the log
    wait_for(issued(g, "year.test"), timeout=90, what="second certificate issued:\n" + g.output()[-3000:])
    wait_for(lambda: served_cert(websecure, "app.test"), timeout=10, what="served")
    first = served_cert(websecure, "app.test")
    app_at, period = logged_renewal(g, "app.test")
    assert period == "720h" and app_at == not_after(first) - 30 * 86400, (app_at, period, not_after(first))
    assert "the certificate for app.test lives" not in g.output()
    year = served_cert(websecure, "year.test")
    at, period = logged_renewal(g, "year.test")
    assert period == "240h" and at == not_after(year) - 10 * 86400, (at, period, not_after(year))
    assert ("the certificate for year.test lives 720h19s, not longer than the renewal period of certificatesDuration 8760 "
            "(2880h): renewed 240h before the end instead (the row of its own lifetime)") in g.output()
    # no renewal before its time (about 20 s after pebble signed it, which
    # is before gantry logs it issued on a busy machine), then one
    wait_for(lambda: "renewing the certificate for app.test" in g.output(), timeout=40, what="renewal:\n" + g.output()[-3000:])
    renewing = log_time(g, "renewing the certificate for app.test")
    assert renewing >= app_at and renewing >= log_time(g, "certificate for app.test issued") + 10, (renewing, app_at)
    wait_for(lambda: g.output().count("certificate for app.test issued") >= 2, timeout=30, what="renewed")
    wait_for(lambda: cert_field(served_cert(websecure, "app.test") or first, "serial") != cert_field(first, "serial"),
             timeout=10, what="new certificate served")
    assert served_by_sni(websecure, "app.test", pebble.root())
    # the other one waits for its own time; nothing is ordered twice
    assert "renewing the certificate for year.test" not in g.output()
    assert g.output().count("certificate for app.test issued") == 2


def test_renewal_of_certificates_shorter_than_any_period(tmp_path, procs):
    """Pebble issues 30-second certificates: shorter than the smallest
    renewal period of Traefik's table (20 minutes), so a third of the
    lifetime is left when a new one is ordered (logged as a warning), and
    it is swapped in without dropping a keep-alive connection made on the
    first one."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure, validity=30))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure)
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued")
    root = pebble.root()
    assert "the certificate for app.test lives 29s, not longer than the renewal period of certificatesDuration 2160 (720h): " \
        "renewed 9s before the end instead (a third of its lifetime)" in g.output(), g.output()[-3000:]
    wait_for(lambda: served_cert(websecure, "app.test"), timeout=10, what="served")
    first = served_cert(websecure, "app.test")
    # a keep-alive connection verified with pebble's root, made on the first certificate
    ctx = ssl.create_default_context(cafile=root)
    ka = http.client.HTTPSConnection("app.test", websecure, context=ctx, timeout=10)
    ka.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", websecure), timeout=10), server_hostname="app.test")
    made_on = ka.sock.getpeercert(binary_form=True)
    ka.request("GET", "/")
    r = ka.getresponse()
    r.read()
    assert r.status == 200
    wait_for(lambda: "renewing the certificate for app.test" in g.output(), timeout=40, what="renewal")
    wait_for(lambda: g.output().count("certificate for app.test issued") >= 2, timeout=30, what="renewed")
    wait_for(lambda: served_cert(websecure, "app.test") not in (b"", first), timeout=10, what="new certificate served")
    assert served_by_sni(websecure, "app.test", root)
    # the connection made before the swap is still served, on the certificate it was made with
    ka.request("GET", "/")
    r = ka.getresponse()
    r.read()
    assert r.status == 200 and ka.sock.getpeercert(binary_form=True) == made_on
    assert ssl.DER_cert_to_PEM_cert(made_on).encode() != served_cert(websecure, "app.test")
    ka.close()


def pebble_root_cn(pebble, i):
    """Pebble's <i>th root (0: the default chain's, 1..: alternates') as a file, and its Common Name."""
    ctx = ssl.create_default_context(cafile=pebble.ca)
    ctx.check_hostname = False
    with urllib.request.urlopen("https://127.0.0.1:%d/roots/%d" % (pebble.mgmt, i), context=ctx, timeout=10) as r:
        pem = r.read()
    path = os.path.join(pebble.dir, "root-%d.pem" % i)
    with open(path, "wb") as f:
        f.write(pem)
    subject = run(["openssl", "x509", "-noout", "-subject", "-nameopt", "multiline"], input=pem).stdout.decode()
    cn = [l.split("=", 1)[1].strip() for l in subject.splitlines() if "commonName" in l][0]
    return path, cn


def test_preferred_chain_picks_the_alternate(tmp_path, procs):
    """PEBBLE_ALTERNATE_ROOTS=2: the certificate comes with the default chain
    and Link rel="alternate" chains to two other roots; preferredChain names
    the second alternate root, whose chain is then served (and verifies with
    that root only)."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure, env={"PEBBLE_ALTERNATE_ROOTS": "2"}))
    root0, _ = pebble_root_cn(pebble, 0)
    root2, cn2 = pebble_root_cn(pebble, 2)
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure,
                           extra=["--certificatesResolvers.pebble.acme.preferredChain=" + cn2])
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    assert "alternate chain issued by '%s' is used" % cn2 in g.output()
    wait_for(lambda: served_by_sni(websecure, "app.test", root2), timeout=10, what="alternate chain served")
    assert not served_by_sni(websecure, "app.test", root0)


def test_preferred_chain_unknown_keeps_the_default(tmp_path, procs):
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure, env={"PEBBLE_ALTERNATE_ROOTS": "1"}))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure,
                           extra=["--certificatesResolvers.pebble.acme.preferredChain=No Such Root"])
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    assert "no chain issued by 'No Such Root'" in g.output()
    wait_for(lambda: served_by_sni(websecure, "app.test", pebble.root()), timeout=10, what="default chain served")


def test_rsa_account_key_from_a_traefik_acme_json_is_reused(tmp_path, procs):
    """Traefik (lego) keeps an RSA account key as base64 PKCS#1 DER: gantry
    signs with it (RS256) instead of making a new key, and after a restart
    reuses the registered account without asking the CA for a new one."""
    key = run(["openssl", "genrsa", "-traditional", "2048"]).stdout
    der = run(["openssl", "rsa", "-traditional", "-outform", "DER"], input=key).stdout
    b64 = base64.b64encode(der).decode()
    (tmp_path / "acme.json").write_text(json.dumps({"pebble": {
        "Account": {"Email": "ops@example.test", "Registration": None, "PrivateKey": b64, "KeyType": "2048"},
        "Certificates": None}}))
    os.chmod(tmp_path / "acme.json", 0o600)
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure)
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    assert "(RS256 key)" in g.output()
    acct = json.loads((tmp_path / "acme.json").read_text())["pebble"]["Account"]
    assert acct["PrivateKey"] == b64 and acct["KeyType"] == "2048"
    uri = acct["Registration"]["uri"]
    assert uri.startswith("https://127.0.0.1:%d/" % pebble.port)
    assert g.stop() == 0
    accounts_before = pebble.proc.output().count("POST /sign-me-up")
    g2 = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, hosts=("other.test",))
    wait_for(issued(g2, "other.test"), timeout=60, what="second certificate:\n" + g2.output()[-3000:])
    assert "reusing the stored account %s (RS256 key)" % uri in g2.output()
    assert pebble.proc.output().count("POST /sign-me-up") == accounts_before
    assert json.loads((tmp_path / "acme.json").read_text())["pebble"]["Account"]["PrivateKey"] == b64


def expired_cert(d, host):
    """A certificate for <host> that expired yesterday, and its key (PEM)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=90))
            .not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def test_expired_stored_certificate_is_replaced(tmp_path, procs):
    """acme.json holds a certificate that has expired (gantry was down past
    its renewal): it is ordered again at start and the new one served."""
    cert, key = expired_cert(str(tmp_path), "app.test")
    (tmp_path / "acme.json").write_text(json.dumps({"pebble": {"Account": None, "Certificates": [
        {"domain": {"main": "app.test"}, "certificate": base64.b64encode(cert).decode(),
         "key": base64.b64encode(key).decode(), "Store": "default"}]}}))
    os.chmod(tmp_path / "acme.json", 0o600)
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure)
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    assert "renewing the certificate for app.test" in g.output()
    wait_for(lambda: served_by_sni(websecure, "app.test", pebble.root()), timeout=10, what="new certificate served")
    stored = json.loads((tmp_path / "acme.json").read_text())["pebble"]["Certificates"]
    assert len(stored) == 1 and base64.b64decode(stored[0]["certificate"]) != cert


class OcspResponder:
    """openssl ocsp answering for pebble's intermediate with its key (from
    pebble's management interface); <revoked> serials are answered revoked."""

    def __init__(self, pebble, port):
        self.pebble, self.port, self.proc = pebble, port, None
        ctx = ssl.create_default_context(cafile=pebble.ca)
        ctx.check_hostname = False
        self.int_pem = os.path.join(pebble.dir, "int.pem")
        self.int_key = os.path.join(pebble.dir, "int.key")
        for path, url in ((self.int_pem, "/intermediates/0"), (self.int_key, "/intermediate-keys/0")):
            with urllib.request.urlopen("https://127.0.0.1:%d%s" % (pebble.mgmt, url), context=ctx, timeout=10) as r:
                with open(path, "wb") as f:
                    f.write(r.read())
        self.index = os.path.join(pebble.dir, "index.txt")
        self.serve({})

    def serve(self, revoked):
        """(Re)starts the responder with <revoked>: {serial hex: subject}."""
        if self.proc:
            self.proc.stop()
        with open(self.index, "w") as f:
            for serial, dn in revoked.items():
                f.write("R\t491231235959Z\t%s\t%s\tunknown\t%s\n" % (time.strftime("%y%m%d%H%M%SZ", time.gmtime()), serial, dn))
        with open(self.index + ".attr", "w") as f:
            f.write("unique_subject = no\n")
        self.proc = Process(["openssl", "ocsp", "-index", self.index, "-port", str(self.port), "-CA", self.int_pem,
                             "-rsigner", self.int_pem, "-rkey", self.int_key, "-nmin", "5", "-timeout", "3"], "ocsp")
        # not wait_port: openssl ocsp serves one connection at a time and would wait on the probe
        wait_for(lambda: "waiting for OCSP client connections" in self.proc.output(), timeout=10, what="ocsp responder")

    def stop(self, sig=None, timeout=5):
        return self.proc.stop() if self.proc else 0


def test_certificate_revoked_by_the_ca_is_replaced(tmp_path, procs):
    """The certificates carry an OCSP URL (pebble's ocspResponderURL); the
    responder (openssl ocsp with pebble's intermediate key) first knows
    nothing of it, then says revoked: gantry orders a new certificate at
    once (long before the renewal time) and serves it."""
    up = procs.whoami()
    web, websecure, ocsp_port = free_port(), free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure, validity=100,
                              ocsp="http://127.0.0.1:%d/" % ocsp_port))
    responder = procs.add(OcspResponder(pebble, ocsp_port))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure)
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    root = pebble.root()
    wait_for(lambda: served_by_sni(websecure, "app.test", root), timeout=10, what="served")
    r = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % websecure, "-servername", "app.test"], input=b"",
            check=False)
    serial = run(["openssl", "x509", "-noout", "-serial"], input=r.stdout).stdout.decode().strip().split("=")[1]
    subject = run(["openssl", "x509", "-noout", "-subject", "-nameopt", "compat"], input=r.stdout).stdout.decode()
    responder.serve({serial: subject.strip().split("=", 1)[1].strip()})
    wait_for(lambda: "the certificate for app.test: revoked by the CA (OCSP)" in g.output(), timeout=30, what="revocation seen:\n" + g.output()[-2000:])
    assert "renewing the certificate for app.test (revoked by the CA)" in g.output()
    wait_for(lambda: g.output().count("certificate for app.test issued") >= 2, timeout=30, what="replaced")

    def served_serial():
        r = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % websecure, "-servername", "app.test"], input=b"",
                check=False)
        return run(["openssl", "x509", "-noout", "-serial"], input=r.stdout, check=False).stdout.decode().strip()
    wait_for(lambda: served_serial() not in ("", "serial=" + serial), timeout=10, what="new certificate served")
    assert served_by_sni(websecure, "app.test", root)


def test_entry_point_tls_cert_resolver_orders_for_routers_without_tls(tmp_path, procs):
    """--entryPoints.websecure.http.tls.certResolver (Traefik's usual
    setup): a router on websecure with no tls of its own gets the entry
    point's resolver, and its certificate is ordered and served."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    dyn = ("http:\n  routers:\n"
           "    app: {rule: \"Host(`ep.test`)\", service: s, entryPoints: [websecure]}\n"
           "  services:\n") + service_yaml("s", [up.url])
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, dyn=dyn,
                           extra=["--entryPoints.websecure.http.tls.certResolver=pebble"])
    wait_for(issued(g, "ep.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    root = pebble.root()
    wait_for(lambda: served_by_sni(websecure, "ep.test", root), timeout=10, what="served by SNI")


def test_http01_answered_ahead_of_redirects_and_catch_all_routers(tmp_path, procs):
    """The web entry point redirects everything to websecure, and a
    catch-all router of the highest priority there redirects to https too:
    the challenge path is still answered first (Traefik's order), else
    pebble would follow the redirect to a port it refuses and fail."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    dyn = dynamic(up).replace("  services:\n", (
        "    catchall:\n      rule: \"PathPrefix(`/`)\"\n      priority: 1000000\n      service: s\n"
        "      entryPoints: [web]\n      middlewares: [tohttps]\n"
        "  middlewares:\n    tohttps:\n      redirectScheme: {scheme: https, permanent: true}\n"
        "  services:\n"))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, dyn=dyn,
                           extra=["--entryPoints.web.http.redirections.entryPoint.to=websecure",
                                  "--entryPoints.web.http.redirections.entryPoint.scheme=https"])

    def redirected():
        r = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-H", "Host: app.test",
                 "http://127.0.0.1:%d/.well-known/acme-challenge-not/x" % web], check=False)
        return r.stdout.decode().startswith(("301 https://", "308 https://")) and r.stdout.decode()
    wait_for(redirected, timeout=10, what="the web entry point redirects")
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    assert "HTTP-01 challenge for app.test failed" not in g.output()
    wait_for(lambda: served_by_sni(websecure, "app.test", pebble.root()), timeout=10, what="served by SNI")
