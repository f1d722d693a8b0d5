"""Idle memory (issue 13): libcurl, and with Debian's build GnuTLS, libldap,
Kerberos and p11-kit, is loaded only when something needs it
(controller/curl_dl.c). With the file provider alone none of it is mapped;
a certificate whose OCSP responder is fetched mid-run loads it then, and the
watcher goes on from poll() to curl's loop (the staple arrives, the routes
keep serving, SIGTERM still stops it at once)."""
import os
import time

from conftest import free_port, get, service_yaml, wait_for
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


def test_ocsp_fetch_mid_run_loads_libcurl(tmp_path, procs):
    up = procs.whoami()
    port = free_port()
    pki = Pki(str(tmp_path), "http://127.0.0.1:%d/" % port)
    procs.add(Responder(pki, port))
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`a.test`)\", service: s}\n  services:\n"
                     + service_yaml("s", [up.url]), args=["--ocsp=true"])
    wait_for(lambda: get(g.port, "/", "a.test")[0] == 200, what="route live")
    time.sleep(0.5)  # not proof of anything: a turn of the watcher loop or two before the check below
    assert curl_family(g.proc.pid) == []
    g.write(dynamic(up, pki))  # a certificate naming its OCSP responder: the first transfer
    g.wait_log(r"OCSP: certificate ocsp.test: good response from http://127.0.0.1:%d/ stapled" % port, timeout=15)
    assert any(m.startswith("libcurl.so.4") for m in mapped(g.proc.pid)), mapped(g.proc.pid)
    rc, out, _ = status(g.port, "-tls1_3", "-CAfile", pki.ca_crt)
    assert rc == 0 and stapled(out) == "good", out
    assert stop_quickly(g) < 2
