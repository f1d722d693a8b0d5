"""Idle memory (issue 13): libcurl, and with Debian's build GnuTLS, libldap,
Kerberos and p11-kit, is loaded only when something needs it
(controller/curl_dl.c). With the file provider alone none of it is mapped.
With `ocsp` on, the first fetch (a certificate added mid-run) moves the
watcher from poll() to curl's loop: the staple arrives, SIGTERM still stops
it at once. Without libcurl, whatever needs it stops the start with the
reason; the file provider alone serves."""
import os
import subprocess
import time

from conftest import GANTRY_BIN, free_port, get, service_yaml, wait_for
from test_tls_ocsp import Pki, Responder, dynamic, stapled, status

CURL_FAMILY = ("libcurl.so", "libgnutls.so", "libldap", "libp11-kit.so", "libkrb5.so")


def mapped(pid):
    with open("/proc/%d/maps" % pid) as f:
        return {os.path.basename(line.split()[-1]) for line in f if line.rstrip().endswith(".so") or ".so." in line}


def curl_family(pid):
    return sorted(m for m in mapped(pid) if m.startswith(CURL_FAMILY))


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        return {k: v.split()[0] for k, v in (line.split(":", 1) for line in f) if k in ("VmRSS", "RssAnon", "RssFile")}


def stop_quickly(g):
    t0 = time.monotonic()
    assert g.stop() == 0
    return time.monotonic() - t0


def test_file_provider_alone_loads_no_libcurl(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`a.test`)\", service: s}\n  services:\n"
                     + service_yaml("s", [up.url]))
    wait_for(lambda: get(g.port, "/", "a.test")[0] == 200, what="route live")
    assert curl_family(g.proc.pid) == []
    print("idle, file provider: %s kB" % rss(g.proc.pid))
    assert stop_quickly(g) < 2  # the watcher's poll() is woken, not timed out


def test_ocsp_first_transfer_mid_run(tmp_path, procs):
    """`ocsp` needs libcurl: it is loaded at start (a missing one stops the
    start, below); the watcher's curl loop starts with the first fetch."""
    up = procs.whoami()
    port = free_port()
    pki = Pki(str(tmp_path), "http://127.0.0.1:%d/" % port)
    procs.add(Responder(pki, port))
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`a.test`)\", service: s}\n  services:\n"
                     + service_yaml("s", [up.url]), args=["--ocsp=true"])
    wait_for(lambda: get(g.port, "/", "a.test")[0] == 200, what="route live")
    assert any(m.startswith("libcurl.so.4") for m in mapped(g.proc.pid)), mapped(g.proc.pid)
    g.write(dynamic(up, pki))  # a certificate naming its OCSP responder: the first transfer
    g.wait_log(r"OCSP: certificate ocsp.test: good response from http://127.0.0.1:%d/ stapled" % port, timeout=15)
    rc, out, _ = status(g.port, "-tls1_3", "-CAfile", pki.ca_crt)
    assert rc == 0 and stapled(out) == "good", out
    assert stop_quickly(g) < 2


def run_without_libcurl(*args):
    env = dict(os.environ, GANTRY_LIBCURL="libcurl-not-installed.so.4")
    return subprocess.run([GANTRY_BIN, *args], env=env, capture_output=True, text=True, timeout=20)


def test_missing_libcurl_stops_what_needs_it(tmp_path):
    for args, user in ((["--providers.docker", "--providers.docker.endpoint=tcp://127.0.0.1:1"], "providers.docker"),
                       (["--providers.kubernetesCRD", "--providers.kubernetesCRD.endpoint=http://127.0.0.1:1"],
                        "providers.kubernetesCRD"),
                       (["--ocsp=true"], "ocsp")):
        r = run_without_libcurl("--entryPoints.web.address=127.0.0.1:%d" % free_port(),
                                "--admin.address=127.0.0.1:%d" % free_port(), *args)
        assert r.returncode == 1, (args, r.stderr)
        assert "libcurl-not-installed.so.4 cannot be loaded" in r.stderr, r.stderr
        assert "%s needs libcurl, which cannot be loaded (above): not started" % user in r.stderr, r.stderr
    r = run_without_libcurl("healthcheck", "--admin.address=127.0.0.1:%d" % free_port())
    assert r.returncode == 1 and "gantry healthcheck: libcurl cannot be loaded" in r.stderr, r.stderr
    r = run_without_libcurl("migrate", "ingress-nginx", "--endpoint=http://127.0.0.1:%d" % free_port())
    assert r.returncode == 2 and "reading a cluster needs libcurl, which cannot be loaded" in r.stderr, r.stderr


def test_missing_libcurl_file_provider_serves(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`a.test`)\", service: s}\n  services:\n"
                     + service_yaml("s", [up.url]), env_extra={"GANTRY_LIBCURL": "libcurl-not-installed.so.4"})
    wait_for(lambda: get(g.port, "/", "a.test")[0] == 200, what="route live")
    assert "cannot be loaded" not in g.output()  # nothing asked for it
