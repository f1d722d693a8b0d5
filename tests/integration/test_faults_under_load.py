"""Faults while wrk keeps the proxy busy: an upstream killed with SIGKILL,
the Docker engine restarted, garbage then a good file fed to the file
provider. No crash, no stale route afterwards, and no failed request that
could have been retried safely (wrk sends GETs: all of them).
"""
import os
import signal
import time

import dockerenv
from attack import UpstreamProcess, wrk_background
from conftest import SLOW, free_port, get, service_yaml, wait_for
from dockerenv import Dockerd, web_labels


def test_upstream_killed_under_load(tmp_path, procs):
    a = procs.add(UpstreamProcess(free_port(), "a"))
    b = procs.add(UpstreamProcess(free_port(), "b"))
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`f.test`)\", service: s}\n  services:\n" +
                     service_yaml("s", [a.url, b.url]))
    assert {get(g.port, "/", "f.test")[2] for _ in range(4)} == {b"a", b"b"}
    finish = wrk_background(g.port, "f.test", seconds=5, connections=8)
    time.sleep(1.5)
    os.kill(a.proc.pid, signal.SIGKILL)
    r = finish()
    print("upstream killed under load: %d requests, %d non-2xx, socket errors: %s"
          % (r["requests"], r["non2xx"], r["socket_errors"]))
    assert r["requests"] > 1000
    assert r["non2xx"] == 0 and r["socket_errors"] is None, r["output"]
    assert all(get(g.port, "/", "f.test")[2] == b"b" for _ in range(10))
    assert g.alive()


def test_file_provider_garbage_then_good_file_under_load(tmp_path, procs):
    a = procs.whoami(name="old")
    b = procs.whoami(name="new")
    good_old = ("http:\n  routers:\n    r: {rule: \"Host(`f.test`)\", service: s}\n  services:\n" +
                service_yaml("s", [a.url]))
    good_new = ("http:\n  routers:\n    n: {rule: \"Host(`n.test`)\", service: t}\n  services:\n" +
                service_yaml("t", [b.url]))
    g = procs.gantry(tmp_path, good_old, args=["--providers.file.watch=true"])
    finish = wrk_background(g.port, "f.test", seconds=4, connections=4)
    time.sleep(0.5)
    for garbage in ("http: [unclosed\n", "\x00\x01\x02 binary", "http:\n  routers:\n    r: {rule: \"Host(`f.test\"}\n",
                    "- just\n- a list\n", ""):
        mark = len(g.output())
        g.write(garbage)
        wait_for(lambda: g.output().find("dynamic.yaml", mark) >= 0, what="the provider reporting the bad file")
        assert get(g.port, "/", "f.test")[0] == 200  # the last good configuration keeps serving
    r = finish()
    print("file provider garbage under load: %d requests, %d non-2xx, socket errors: %s"
          % (r["requests"], r["non2xx"], r["socket_errors"]))
    assert r["non2xx"] == 0 and r["socket_errors"] is None, r["output"]
    g.write(good_new)
    wait_for(lambda: get(g.port, "/", "n.test")[0] == 200, what="the good file served")
    assert get(g.port, "/", "f.test")[0] == 404  # no stale route
    assert g.alive()


def test_dockerd_restarted_under_load(tmp_path, procs):
    dockerenv.require()
    engine = Dockerd(live_restore=True).start()
    try:
        engine.ensure_image()
        g = procs.gantry(tmp_path, None, args=["--providers.docker", "--providers.docker.endpoint=" + engine.host])
        pa, pb = free_port(), free_port()
        engine.run_web("steady", pa, web_labels("steady", pa))
        wait_for(lambda: get(g.port, "/", "steady.test", timeout=2)[0] == 200, what="route")
        finish = wrk_background(g.port, "steady.test", seconds=6, connections=2)
        time.sleep(1)
        engine.kill()
        g.wait_log(r"docker provider: .*retrying with backoff")
        time.sleep(1)
        engine.start()
        engine.run_web("late", pb, web_labels("late", pb))
        r = finish()
        print("dockerd restarted under load: %d requests, %d non-2xx, socket errors: %s"
              % (r["requests"], r["non2xx"], r["socket_errors"]))
        assert r["requests"] > 100
        assert r["non2xx"] == 0 and r["socket_errors"] is None, r["output"]
        wait_for(lambda: get(g.port, "/", "late.test", timeout=2)[0] == 200, timeout=20, what="new container routed")
        engine.docker("rm", "-f", "steady")
        wait_for(lambda: get(g.port, "/", "steady.test", timeout=2)[0] == 404, timeout=10 * SLOW,
                 what="no stale route after the restart")
        assert g.alive()
    finally:
        engine.stop()


def test_kubernetes_watch_faults_under_load(tmp_path, procs):
    """wrk on a route from an Ingress while the API server drops every
    watch, compacts its history (410 Gone on re-watch: a relist) and fails
    requests with 500s: no request fails, and a change made during the
    faults is served afterwards (no stale route)."""
    import test_kubernetes as k8s
    from k8s_emulator import Emulator
    from tls_certs import make_cert
    d = str(tmp_path)
    cert, key = make_cert(d, "apiserver", ["localhost"], ips=["127.0.0.1"])
    emu = Emulator(cert=cert, key=key, bookmark_interval=0.5).start()
    emu.ca = d + "/ca.crt"
    try:
        a = procs.add(UpstreamProcess(free_port(), "a"))
        emu.apply(k8s.ingress_class())
        emu.apply(k8s.service("app"))
        emu.apply(k8s.slice_for("app", [a]))
        emu.apply(k8s.ingress("web", [k8s.rule("k.test", [("/", "Prefix", "app")])]))
        g = k8s.gantry(procs, tmp_path, emu)
        wait_for(lambda: get(g.port, "/", "k.test")[2] == b"a", what="route from the Ingress")
        finish = wrk_background(g.port, "k.test", seconds=5, connections=8)
        time.sleep(1)
        emu.drop_watches()
        emu.fail_next(500, count=4)
        time.sleep(0.5)
        emu.compact()
        emu.apply(k8s.ingress("web", [k8s.rule("k.test", [("/", "Prefix", "app")]),
                                      k8s.rule("k2.test", [("/", "Prefix", "app")])]))
        emu.drop_watches()
        r = finish()
        print("kubernetes watch faults under load: %d requests, %d non-2xx, socket errors: %s"
              % (r["requests"], r["non2xx"], r["socket_errors"]))
        assert r["requests"] > 1000
        assert r["non2xx"] == 0 and r["socket_errors"] is None, r["output"]
        wait_for(lambda: get(g.port, "/", "k2.test")[2] == b"a", timeout=10, what="change made during the faults")
        assert g.alive()
    finally:
        emu.stop()
