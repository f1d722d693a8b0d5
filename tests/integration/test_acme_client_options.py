"""The ACME resolver's client options (Traefik v3 names) against Debian's
pebble: caCertificates instead of LEGO_CA_CERTIFICATES, caServerName (the
name verified and sent as SNI, right and wrong), httpChallenge.delay; and,
against a loopback HTTP server that stalls or declines (no CA does so on
command), clientResponseHeaderTimeout, clientTimeout and a 503 with
Retry-After."""
import os
import shutil
import socket
import threading
import time

import pytest

from conftest import GANTRY_BIN, free_port, run, wait_for, wait_port
from test_acme import Pebble, api, fixed_ports_gantry, issued, served_by_sni

needs_pebble = pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble is not installed (scripts/deps.sh test)")

OPT = "--certificatesResolvers.pebble.acme."


def acme_problem(g):
    for p in api(g, "/api/overview")["problems"]:
        if p.startswith("acme: resolver pebble: certificate for app.test"):
            return p
    return None


@needs_pebble
def test_ca_certificates_option_instead_of_the_environment(tmp_path, procs):
    """No LEGO_CA_CERTIFICATES: pebble's HTTPS is trusted through caCertificates alone."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, lego_env=False,
                           extra=[OPT + "caCertificates=" + pebble.ca])
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    assert "the CA's HTTPS is verified with caCertificates" in g.output()
    wait_for(lambda: served_by_sni(websecure, "app.test", pebble.root()), timeout=10, what="served by SNI")


@needs_pebble
def test_ca_system_cert_pool_keeps_the_given_files(tmp_path, procs):
    """caSystemCertPool: the system store and caCertificates together; pebble's CA still verifies."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, lego_env=False,
                           extra=[OPT + "caCertificates=" + pebble.ca, OPT + "caSystemCertPool=true"])
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])


@needs_pebble
def test_without_any_ca_option_pebble_is_not_trusted(tmp_path, procs):
    """The control: neither caCertificates nor LEGO_CA_CERTIFICATES, so the
    system store is used and pebble's test CA is refused."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, lego_env=False)
    wait_for(lambda: acme_problem(g), timeout=30, what="acme problem:\n" + g.output()[-3000:])
    assert "certificate" in acme_problem(g).lower()
    assert "issued" not in g.output()


@needs_pebble
def test_ca_server_name_verifies_a_name_the_url_does_not_have(tmp_path, procs):
    """Pebble's HTTPS certificate names only acme.internal (no IP): the
    directory at https://127.0.0.1 verifies because caServerName says which
    name to expect."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure, names=("acme.internal",), ips=()))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, lego_env=False,
                           extra=[OPT + "caCertificates=" + pebble.ca, OPT + "caServerName=acme.internal"])
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    assert "as 'acme.internal' (caServerName)" in g.output()


@needs_pebble
def test_wrong_ca_server_name_fails_with_a_clear_error(tmp_path, procs):
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure, names=("acme.internal",), ips=()))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, lego_env=False,
                           extra=[OPT + "caCertificates=" + pebble.ca, OPT + "caServerName=wrong.example"])
    wait_for(lambda: acme_problem(g), timeout=30, what="acme problem:\n" + g.output()[-3000:])
    p = acme_problem(g)
    assert "caServerName 'wrong.example'" in p, p
    assert "matches target host name 'wrong.example'" in p, p  # libcurl's own words for the name check
    assert "/dir" in p, p  # names the URL asked
    assert "issued" not in g.output()


@needs_pebble
def test_unreadable_ca_certificates_refuse_to_start(tmp_path, procs):
    r = run([GANTRY_BIN, "--entryPoints.web.address=127.0.0.1:%d" % free_port(),
             "--certificatesResolvers.r.acme.httpChallenge.entryPoint=web",
             "--certificatesResolvers.r.acme.storage=" + str(tmp_path / "acme.json"),
             "--certificatesResolvers.r.acme.caCertificates=" + str(tmp_path / "missing.pem")], check=False, timeout=20)
    assert r.returncode != 0
    out = (r.stdout + r.stderr).decode()
    assert "certificatesResolvers.r.acme.caCertificates: cannot read " + str(tmp_path / "missing.pem") in out, out


def test_client_timeout_below_header_timeout_is_refused(tmp_path):
    r = run([GANTRY_BIN, "--entryPoints.web.address=127.0.0.1:%d" % free_port(),
             "--certificatesResolvers.r.acme.httpChallenge.entryPoint=web",
             "--certificatesResolvers.r.acme.storage=" + str(tmp_path / "acme.json"),
             "--certificatesResolvers.r.acme.clientTimeout=5s",
             "--certificatesResolvers.r.acme.clientResponseHeaderTimeout=10s"], check=False, timeout=20)
    assert r.returncode != 0
    assert b"clientTimeout must be at least clientResponseHeaderTimeout" in r.stdout + r.stderr


@needs_pebble
def test_http_challenge_delay(tmp_path, procs):
    """httpChallenge.delay: the CA is told to validate 3 s after the token is
    published (pebble validates at once, PEBBLE_VA_NOSLEEP)."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, extra=[OPT + "httpChallenge.delay=3s"])
    wait_for(lambda: "(httpChallenge.delay)" in g.output(), timeout=30, what="delay logged:\n" + g.output()[-3000:])
    published = time.monotonic()
    assert "validates it in 3000 ms (httpChallenge.delay)" in g.output()
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    assert time.monotonic() - published >= 2.5


class SlowServer:
    """A loopback HTTP server that answers every request after <header_delay>
    seconds with <status> and headers, then sends the body <body_delay>
    seconds later (None: never)."""

    def __init__(self, header_delay=None, body_delay=None, status="200 OK", headers=(), body=b"{}"):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.header_delay, self.body_delay = header_delay, body_delay
        self.status, self.headers, self.body = status, headers, body
        self.requests = 0
        self.stopping = threading.Event()
        self.conns = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        self.sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(c)
            threading.Thread(target=self.answer, args=(c,), daemon=True).start()

    def answer(self, c):
        try:
            c.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data and not self.stopping.is_set():
                chunk = c.recv(4096)
                if not chunk:
                    return
                data += chunk
            self.requests += 1
            if self.header_delay is None or self.stopping.wait(self.header_delay):
                return
            head = "HTTP/1.1 %s\r\nContent-Type: application/problem+json\r\nContent-Length: %d\r\n%s\r\n" % (
                self.status, len(self.body), "".join(h + "\r\n" for h in self.headers))
            c.sendall(head.encode())
            if self.body_delay is None or self.stopping.wait(self.body_delay):
                return
            c.sendall(self.body)
        except OSError:
            pass

    def stop(self, **kw):
        self.stopping.set()
        for c in self.conns:
            c.close()
        self.sock.close()
        return 0


def plain_gantry(procs, tmp_path, up, ca, extra):
    """A gantry whose resolver's CA is <ca> (http://...)."""
    from conftest import Process
    web, websecure, admin = free_port(), free_port(), free_port()
    dyn = tmp_path / "dynamic.yaml"
    dyn.write_text("http:\n  routers:\n    app:\n      rule: \"Host(`app.test`)\"\n      service: s\n"
                   "      tls:\n        certResolver: pebble\n"
                   "  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: %s\n" % up.url)
    args = [GANTRY_BIN, "--workers=1", "--log.level=DEBUG", "--entryPoints.web.address=127.0.0.1:%d" % web,
            "--entryPoints.websecure.address=127.0.0.1:%d" % websecure, "--providers.file.filename=%s" % dyn,
            "--admin.address=127.0.0.1:%d" % admin, OPT + "caServer=" + ca, OPT + "storage=" + str(tmp_path / "acme.json"),
            OPT + "httpChallenge.entryPoint=web"] + extra
    g = procs.add(Process(args, "gantry", env={k: v for k, v in os.environ.items() if not k.startswith("LEGO_")}))
    g.admin_port = admin
    wait_port(admin, timeout=10, proc=g)
    return g


def test_client_response_header_timeout(tmp_path, procs):
    up = procs.whoami()
    ca = procs.add(SlowServer(header_delay=None))  # reads the request, never answers
    g = plain_gantry(procs, tmp_path, up, "http://127.0.0.1:%d/dir" % ca.port,
                     [OPT + "clientResponseHeaderTimeout=1s", OPT + "clientTimeout=60s"])
    t0 = time.monotonic()
    wait_for(lambda: acme_problem(g), timeout=20, what="acme problem:\n" + g.output()[-3000:])
    elapsed = time.monotonic() - t0
    p = acme_problem(g)
    assert "no response headers within clientResponseHeaderTimeout (1000 ms)" in p, p
    assert "http://127.0.0.1:%d/dir" % ca.port in p, p
    assert elapsed < 15, elapsed  # the 60 s clientTimeout did not decide
    assert ca.requests >= 1


def test_client_timeout_bounds_the_whole_transaction(tmp_path, procs):
    """Headers come at once (the header timeout is met), the body never: clientTimeout ends it."""
    up = procs.whoami()
    ca = procs.add(SlowServer(header_delay=0, body_delay=None))
    g = plain_gantry(procs, tmp_path, up, "http://127.0.0.1:%d/dir" % ca.port,
                     [OPT + "clientResponseHeaderTimeout=1s", OPT + "clientTimeout=2s"])
    t0 = time.monotonic()
    wait_for(lambda: acme_problem(g), timeout=20, what="acme problem:\n" + g.output()[-3000:])
    p = acme_problem(g)
    assert "clientResponseHeaderTimeout" not in p, p
    assert "timed out after 2" in p.lower() or "timeout was reached" in p.lower(), p
    assert time.monotonic() - t0 >= 1.5


def test_retry_after_from_a_declining_ca_is_honoured(tmp_path, procs):
    """A CA answering 503 with Retry-After: 120 (RFC 8555 6.6): the next
    attempt is 120 s away, not the first backoff's 10 s, and no request
    comes before it."""
    up = procs.whoami()
    ca = procs.add(SlowServer(header_delay=0, body_delay=0, status="503 Service Unavailable",
                              headers=("Retry-After: 120",),
                              body=b'{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many orders"}'))
    g = plain_gantry(procs, tmp_path, up, "http://127.0.0.1:%d/dir" % ca.port, [])
    wait_for(lambda: acme_problem(g), timeout=20, what="acme problem:\n" + g.output()[-3000:])
    p = acme_problem(g)
    assert "HTTP 503" in p and "too many orders" in p and "Retry-After: not before" in p, p
    assert "next attempt in 120 s, as the CA asked" in g.output() or "next attempt in 119 s, as the CA asked" in g.output()
    assert "failures: 1" in p and ("next attempt in 11" in p or "next attempt in 12" in p), p
    n = ca.requests
    time.sleep(12)  # past the 10 s backoff the CA did not want
    assert ca.requests == n
    assert "failure 2" not in g.output()
