"""Services beyond one load balancer, against the real binary: weighted
services (canaries, blue/green, nested), sticky cookies on load balancers
and weighted services (Traefik's cookie names and values), a sticky server
that went away, weights changed live under load without a failed request,
and the service kinds gantry does not build refusing only their routers.
"""
import hashlib
import http.client
import re
import subprocess

from attack import RecordingUpstream
from conftest import SLOW, get, service_yaml, wait_for


def weighted_yaml(name, refs, sticky=""):
    y = "    %s:\n      weighted:\n        services:\n" % name
    for svc, w in refs:
        y += "          - {name: %s, weight: %d}\n" % (svc, w)
    return y + sticky


def count_bodies(port, host, n, headers=None):
    seen = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
    for _ in range(n):
        conn.request("GET", "/", headers=dict({"Host": host}, **(headers or {})))
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200, (r.status, body)
        seen[body] = seen.get(body, 0) + 1
    conn.close()
    return seen


def test_weighted_90_10_within_2_percent(tmp_path, procs):
    blue, green = RecordingUpstream(body=b"blue", record=False), RecordingUpstream(body=b"green", record=False)
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`w.test`)\", service: canary}\n  services:\n"
                     + weighted_yaml("canary", [("blue", 90), ("green", 10)])
                     + service_yaml("blue", [blue.url]) + service_yaml("green", [green.url]))
    wait_for(lambda: get(g.port, "/", "w.test")[0] == 200, what="route live")
    seen = count_bodies(g.port, "w.test", 10000)
    print("weighted 90/10 over 10,000 requests:", seen)
    assert abs(seen.get(b"blue", 0) - 9000) <= 200 and abs(seen.get(b"green", 0) - 1000) <= 200
    svc = {s["name"]: s for s in g.api("/api/http/services")}["canary@file"]
    assert svc["type"] == "weighted" and svc["status"] == "enabled"


def test_nested_weighted_and_weight_zero(tmp_path, procs):
    a, b, c = (RecordingUpstream(body=x, record=False) for x in (b"a", b"b", b"c"))
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`n.test`)\", service: outer}\n  services:\n"
                     + weighted_yaml("outer", [("inner", 1), ("c", 1)])
                     + weighted_yaml("inner", [("a", 1), ("b", 0)])
                     + service_yaml("a", [a.url]) + service_yaml("b", [b.url]) + service_yaml("c", [c.url]))
    wait_for(lambda: get(g.port, "/", "n.test")[0] == 200, what="route live")
    seen = count_bodies(g.port, "n.test", 400)
    assert b"b" not in seen and abs(seen[b"a"] - 200) <= 4 and abs(seen[b"c"] - 200) <= 4, seen


def set_cookie(headers):
    return headers.get("set-cookie")


def test_sticky_load_balancer_1000_requests_and_a_server_that_goes_away(tmp_path, procs):
    ups = [RecordingUpstream(body=b"s%d" % i, record=False) for i in range(3)]
    sticky = "        sticky:\n          cookie: {name: lb, httpOnly: true, sameSite: lax}\n"
    dyn = ("http:\n  routers:\n    r: {rule: \"Host(`s.test`)\", service: app}\n  services:\n"
           + service_yaml("app", [u.url for u in ups], sticky))
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "s.test")[0] == 200, what="route live")
    status, headers, body = get(g.port, "/", "s.test")
    cookie = set_cookie(headers)
    m = re.match(r"lb=([0-9a-f]{16}); Path=/; HttpOnly; SameSite=Lax$", cookie or "")
    assert m, cookie
    # Traefik's value: the first 16 hex digits of the SHA-256 of the server URL
    url = [u.url for u in ups if u.body == body][0]
    assert m.group(1) == hashlib.sha256(url.encode()).hexdigest()[:16]
    seen = count_bodies(g.port, "s.test", 1000, {"Cookie": "other=1; lb=%s" % m.group(1)})
    assert seen == {body: 1000}, seen
    # a client with the cookie gets no new one; one with a stale cookie is re-balanced and re-stuck
    assert set_cookie(get(g.port, "/", "s.test", headers={"Cookie": "lb=" + m.group(1)})[1]) is None
    status, headers, _ = get(g.port, "/", "s.test", headers={"Cookie": "lb=0000000000000000"})
    assert status == 200 and set_cookie(headers).startswith("lb=")
    # the sticky server leaves the configuration: requests go elsewhere, the cookie is rewritten
    g.write(dyn.replace('          - url: "%s"\n' % url, ""))
    wait_for(lambda: get(g.port, "/", "s.test", headers={"Cookie": "lb=" + m.group(1)})[2] != body, what="re-stuck")
    status, headers, body2 = get(g.port, "/", "s.test", headers={"Cookie": "lb=" + m.group(1)})
    assert status == 200 and body2 != body and set_cookie(headers).startswith("lb=")


def test_sticky_weighted_default_cookie_name(tmp_path, procs):
    a, b = RecordingUpstream(body=b"a", record=False), RecordingUpstream(body=b"b", record=False)
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`sw.test`)\", service: wsvc}\n  services:\n"
                     + weighted_yaml("wsvc", [("a", 1), ("b", 1)], "        sticky:\n          cookie: {}\n")
                     + service_yaml("a", [a.url]) + service_yaml("b", [b.url]))
    wait_for(lambda: get(g.port, "/", "sw.test")[0] == 200, what="route live")
    _, headers, body = get(g.port, "/", "sw.test")
    name = "_" + hashlib.sha1(b"_TRAEFIK_BACKEND_wsvc@file").hexdigest()[:5]
    value = hashlib.sha256(body).hexdigest()[:16]  # the child's name as configured: "a" or "b"
    assert set_cookie(headers) == "%s=%s; Path=/" % (name, value), set_cookie(headers)
    seen = count_bodies(g.port, "sw.test", 200, {"Cookie": "%s=%s" % (name, value)})
    assert seen == {body: 200}


def test_weights_changed_live_under_load_without_a_failed_request(tmp_path, procs):
    blue, green = RecordingUpstream(body=b"blue", record=False), RecordingUpstream(body=b"green", record=False)

    def dyn(wb, wg):
        return ("http:\n  routers:\n    r: {rule: \"Host(`live.test`)\", service: bg}\n  services:\n"
                + weighted_yaml("bg", [("blue", wb), ("green", wg)])
                + service_yaml("blue", [blue.url]) + service_yaml("green", [green.url]))
    g = procs.gantry(tmp_path, dyn(100, 0))
    wait_for(lambda: get(g.port, "/", "live.test")[0] == 200, what="route live")
    wrk = subprocess.Popen(["wrk", "-t1", "-c4", "-d4s", "-H", "Host: live.test", "http://127.0.0.1:%d/" % g.port],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    import time
    for wb, wg in ((50, 50), (0, 100), (50, 50), (100, 0), (0, 100)):
        time.sleep(0.6)
        g.write(dyn(wb, wg))
    out = wrk.communicate(timeout=30 * SLOW)[0].decode()
    print(out)
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    assert int(re.search(r"(\d+) requests in", out).group(1)) > 100
    wait_for(lambda: count_bodies(g.port, "live.test", 20) == {b"green": 20}, what="all green")


def test_broken_references_refuse_only_their_routers(tmp_path, procs):
    up = RecordingUpstream(record=False)
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    ok: {rule: \"Host(`ok.test`)\", service: app}\n"
                     "    hrw: {rule: \"Host(`hrw.test`)\", service: h}\n"
                     "    dangling: {rule: \"Host(`d.test`)\", service: wd}\n"
                     "    loop: {rule: \"Host(`l.test`)\", service: w1}\n"
                     "  services:\n" + service_yaml("app", [up.url])
                     + "    h:\n      highestRandomWeight:\n        services: [{name: app, weight: 1}, {name: gone, weight: 1}]\n"
                     + weighted_yaml("wd", [("app", 1), ("nosuch", 1)])
                     + weighted_yaml("w1", [("w2", 1)]) + weighted_yaml("w2", [("w1", 1)]))
    wait_for(lambda: get(g.port, "/", "ok.test")[0] == 200, what="route live")
    for host in ("hrw", "d", "l"):
        assert get(g.port, "/", host + ".test")[0] == 404
    rs = {r["name"]: r for r in g.api("/api/http/routers")}
    assert "gone@file" in " ".join(rs["hrw@file"]["error"]) or rs["hrw@file"]["status"] == "disabled"
    svcs = {s["name"]: s for s in g.api("/api/http/services")}
    assert svcs["wd@file"]["status"] == "disabled" and "nosuch@file" in " ".join(svcs["wd@file"]["error"])
    assert "loops back" in " ".join(svcs["w1@file"]["error"])


def test_failover_uses_the_fallback_while_the_main_service_is_down(tmp_path, procs):
    main, backup = RecordingUpstream(body=b"main", record=False), RecordingUpstream(body=b"backup", record=False)
    hc = "        healthCheck: {path: /health, interval: 200ms, timeout: 100ms}\n"
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`f.test`)\", service: fo}\n  services:\n"
                     "    fo:\n      failover:\n        service: main\n        fallback: backup\n        healthCheck: {}\n"
                     + service_yaml("main", [main.url], hc) + service_yaml("backup", [backup.url]))
    wait_for(lambda: get(g.port, "/", "f.test")[2] == b"main", what="main answers")
    import socket
    main.stopped = True
    main.sock.shutdown(socket.SHUT_RDWR)  # refuses connections from now on: the health check marks it down
    main.sock.close()
    wait_for(lambda: get(g.port, "/", "f.test")[2] == b"backup", timeout=10, what="fallback answers")
    assert count_bodies(g.port, "f.test", 50) == {b"backup": 50}
    svc = {s["name"]: s for s in g.api("/api/http/services")}["fo@file"]
    assert svc["type"] == "failover" and svc["status"] == "enabled"


def test_highest_random_weight_is_stable_per_client_address(tmp_path, procs):
    ups = [RecordingUpstream(body=b"h%d" % i, record=False) for i in range(3)]
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`hrw.test`)\", service: h}\n"
                     "    lb: {rule: \"Host(`lbhrw.test`)\", service: app}\n  services:\n"
                     "    h:\n      highestRandomWeight:\n        services: [{name: a0, weight: 1}, {name: a1, weight: 1}, {name: a2, weight: 1}]\n"
                     + "".join(service_yaml("a%d" % i, [u.url]) for i, u in enumerate(ups))
                     + service_yaml("app", [u.url for u in ups], "        strategy: hrw\n"))
    wait_for(lambda: get(g.port, "/", "hrw.test")[0] == 200, what="route live")
    import socket
    picks = {}
    for host in ("hrw.test", "lbhrw.test"):
        for last in range(1, 31):
            got = set()
            for _ in range(3):
                s = socket.create_connection(("127.0.0.1", g.port), source_address=("127.0.0.%d" % last, 0))
                s.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    data += d
                s.close()
                got.add(data.rsplit(b"\r\n\r\n", 1)[1])
            assert len(got) == 1, (host, last, got)  # one address, one server
            picks.setdefault(host, []).append(got.pop())
    for host, p in picks.items():
        assert len(set(p)) == 3, (host, p)  # 30 addresses spread over all three


def test_p2c_strategy_balances(tmp_path, procs):
    ups = [RecordingUpstream(body=b"p%d" % i, record=False) for i in range(2)]
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`p2c.test`)\", service: app}\n  services:\n"
                     + service_yaml("app", [u.url for u in ups], "        strategy: p2c\n"))
    wait_for(lambda: get(g.port, "/", "p2c.test")[0] == 200, what="route live")
    seen = count_bodies(g.port, "p2c.test", 400)
    assert len(seen) == 2 and min(seen.values()) > 100, seen


def test_preserve_path_puts_the_server_path_first(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    p: {rule: \"Host(`pp.test`)\", service: kept}\n"
                     "    n: {rule: \"Host(`np.test`)\", service: dropped}\n  services:\n"
                     "    kept:\n      loadBalancer:\n        servers: [{url: \"%s/base/\", preservePath: true}]\n"
                     "    dropped:\n      loadBalancer:\n        servers: [{url: \"%s/base\"}]\n" % (up.url, up.url))
    wait_for(lambda: get(g.port, "/x?q=1", "pp.test")[0] == 200, what="route live")
    assert up.requests[-1][0].split(b" ")[1] == b"/base/x?q=1"
    assert get(g.port, "/x", "np.test")[0] == 200 and up.requests[-1][0].split(b" ")[1] == b"/x"


def server_status(g, svc):
    return {s["name"]: s for s in g.api("/api/http/services")}[svc]["serverStatus"]


def test_passive_health_check_counts_failures_in_the_window(tmp_path, procs):
    import socket
    live = RecordingUpstream(body=b"live", record=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = "http://127.0.0.1:%d" % s.getsockname()[1]
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`ph.test`)\", service: app}\n  services:\n"
                     + service_yaml("app", [dead, live.url],
                                    "        passiveHealthcheck: {failureWindow: 3s, maxFailedAttempts: 3}\n"))
    wait_for(lambda: get(g.port, "/", "ph.test")[0] == 200, what="route live")
    seen = []
    for _ in range(12):  # every other request is tried on the dead server first, then moves on
        seen.append(server_status(g, "app@file")[dead])
        assert get(g.port, "/", "ph.test")[2] == b"live"
    assert seen[0] == "UP" and "DEGRADED" in seen, seen
    # it took three failures: two failed attempts leave it up
    first_down = seen.index("DEGRADED")
    assert first_down >= 3, seen


def test_leasttime_prefers_the_faster_server(tmp_path, procs):
    fast, slow = RecordingUpstream(body=b"fast", record=False), RecordingUpstream(body=b"slow", delay=0.05, record=False)
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`lt.test`)\", service: app}\n  services:\n"
                     + service_yaml("app", [fast.url, slow.url], "        strategy: leasttime\n"))
    wait_for(lambda: get(g.port, "/", "lt.test")[0] == 200, what="route live")
    seen = count_bodies(g.port, "lt.test", 60)
    assert seen.get(b"fast", 0) > 45, seen


def test_weighted_health_check_skips_a_child_that_is_down(tmp_path, procs):
    import socket
    a = RecordingUpstream(body=b"a", record=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = "http://127.0.0.1:%d" % s.getsockname()[1]
    hc = "        healthCheck: {path: /health, interval: 200ms, timeout: 100ms}\n"
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`wh.test`)\", service: w}\n  services:\n"
                     + weighted_yaml("w", [("a", 1), ("b", 1)], "        healthCheck: {}\n")
                     + service_yaml("a", [a.url], hc) + service_yaml("b", [dead], hc))
    wait_for(lambda: server_status(g, "b@file")[dead] == "DOWN", what="health check marks b down")
    assert count_bodies(g.port, "wh.test", 40) == {b"a": 40}
