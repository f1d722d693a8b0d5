"""HTTP/2: h2c by Upgrade and by prior knowledge (curl, nghttp), h2 over TLS
with ALPN, many streams on one connection (h2load)."""
import re

from conftest import run, service_yaml
from tls_certs import make_cert


def config(up, cert=None):
    y = ("http:\n  routers:\n"
         "    plain:\n      rule: \"Host(`h2.test`)\"\n      service: s\n"
         "    secure:\n      rule: \"Host(`h2.test`)\"\n      service: s\n      tls: {}\n"
         "  services:\n" + service_yaml("s", [up.url]))
    if cert:
        y += "tls:\n  certificates:\n    - certFile: %s\n      keyFile: %s\n" % cert
    return y


def test_h2c_prior_knowledge_and_upgrade(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up))
    url = "http://127.0.0.1:%d/path?q=1" % g.port
    for flag in ("--http2-prior-knowledge", "--http2"):
        r = run(["curl", "-s", flag, "-H", "Host: h2.test", "-w", "\n%{http_version}", url])
        out = r.stdout.decode()
        assert out.endswith("\n2"), out
        assert "GET /path?q=1 HTTP/1.1" in out  # HTTP/1.1 upstream
    # nghttp: a client we did not write, prior knowledge
    r = run(["nghttp", "-v", "-H", ":authority: h2.test", url])
    out = r.stdout.decode()
    assert ":status: 200" in out and "whoami" in out


def test_h2_over_tls_with_alpn(tmp_path, procs):
    up = procs.whoami()
    crt, key = make_cert(str(tmp_path), "h2.test")
    g = procs.gantry(tmp_path, config(up, (crt, key)))
    ca = str(tmp_path / "ca.crt")
    base = ["curl", "-s", "--cacert", ca, "--resolve", "h2.test:%d:127.0.0.1" % g.port]
    r = run(base + ["--http2", "-w", "\n%{http_version}", "https://h2.test:%d/" % g.port])
    out = r.stdout.decode()
    assert out.endswith("\n2") and "x-forwarded-proto: https" in out
    r = run(base + ["--http1.1", "-w", "\n%{http_version}", "https://h2.test:%d/" % g.port])
    assert r.stdout.decode().endswith("\n1.1")
    # h2load: 400 requests over 4 connections x 10 streams
    r = run(["h2load", "-n", "400", "-c", "4", "-m", "10", "--connect-to=127.0.0.1:%d" % g.port,
             "https://h2.test:%d/" % g.port], timeout=60)
    out = r.stdout.decode()
    assert re.search(r"requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed", out), out
    assert "h2" in out


def test_h2load_h2c(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up))
    r = run(["h2load", "-n", "300", "-c", "3", "-m", "10", "-H", ":authority: h2.test",
             "http://127.0.0.1:%d/" % g.port], timeout=60)
    out = r.stdout.decode()
    assert "300 succeeded, 0 failed" in out, out
