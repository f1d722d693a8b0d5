"""The limiting middlewares against the real binary with real clients:
ipAllowList / ipWhiteList by source address (clients bound to 127.0.0.x)
and by X-Forwarded-For depth, the TCP ipAllowList refusing a connection
before a single byte reaches the backend (plain and TLS passthrough), TCP
inFlightConn, a TCP router naming a missing middleware not served,
rateLimit (exactly the burst, then the average), and inFlightReq with a
slow upstream. Configurations are Traefik's documented examples where
they fit.
"""
import http.client
import socket
import ssl
import threading
import time

from attack import RecordingUpstream
from conftest import SLOW, get, service_yaml, wait_for
from tcp_peers import EchoServer


def request(port, host, path="/", source="127.0.0.1", headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * SLOW, source_address=(source, 0))
    hdrs = {"Host": host}
    hdrs.update(headers or {})
    conn.request("GET", path, headers=hdrs)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body


def test_ip_allow_list_by_source_address(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    a: {rule: \"Host(`a.test`)\", service: app, middlewares: [test-ipallowlist]}\n"
                     "    w: {rule: \"Host(`w.test`)\", service: app, middlewares: [legacy]}\n"
                     "  middlewares:\n"
                     "    test-ipallowlist:\n      ipAllowList:\n        sourceRange:\n"
                     "          - 127.0.0.1/32\n          - 127.0.0.3\n"
                     "    legacy: {ipWhiteList: {sourceRange: [127.0.0.2/32], rejectStatusCode: 404}}\n"
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/", "a.test")[0] == 200, what="route live")
    served = len(up.requests)
    status, headers, body = request(g.port, "a.test", source="127.0.0.2")
    assert status == 403 and body == b"Forbidden"
    assert len(up.requests) == served  # nothing went upstream
    assert request(g.port, "a.test", source="127.0.0.3")[0] == 200
    assert request(g.port, "a.test", source="127.0.0.4")[0] == 403
    # the v2 name, with its own reject status
    assert request(g.port, "w.test", source="127.0.0.2")[0] == 200
    status, _, body = request(g.port, "w.test", source="127.0.0.1")
    assert status == 404 and body == b"Not Found"
    assert len(up.requests) == served + 2


def test_ip_allow_list_x_forwarded_for_depth(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    d: {rule: \"Host(`d.test`)\", service: app, middlewares: [by-depth]}\n"
                     "    x: {rule: \"Host(`x.test`)\", service: app, middlewares: [by-excluded]}\n"
                     "  middlewares:\n"
                     "    by-depth: {ipAllowList: {sourceRange: [10.0.0.0/8], ipStrategy: {depth: 2}}}\n"
                     "    by-excluded: {ipAllowList: {sourceRange: [10.0.0.0/8],"
                     " ipStrategy: {excludedIPs: [\"192.168.0.0/16\", \"127.0.0.1\"]}}}\n"
                     "  services:\n" + service_yaml("app", [up.url]),
                     entrypoints=("web", "untrusted"),
                     args=["--entryPoints.web.forwardedHeaders.insecure=true"])
    xff = lambda v: {"X-Forwarded-For": v}
    wait_for(lambda: request(g.port, "d.test", headers=xff("10.1.1.1, 8.8.8.8"))[0] == 200, what="route live")
    # depth 2: the second address from the right
    assert request(g.port, "d.test", headers=xff("8.8.8.8, 10.1.1.1"))[0] == 403
    assert request(g.port, "d.test", headers=xff("8.8.8.8,10.1.1.1 , 9.9.9.9"))[0] == 200
    assert request(g.port, "d.test", headers=xff("10.1.1.1"))[0] == 403  # too short: no address
    assert request(g.port, "d.test")[0] == 403
    # excludedIPs: the right-most address not excluded
    assert request(g.port, "x.test", headers=xff("10.2.2.2, 192.168.1.1, 127.0.0.1"))[0] == 200
    assert request(g.port, "x.test", headers=xff("10.2.2.2, 8.8.8.8, 192.168.1.1"))[0] == 403
    # an entry point that does not trust the client drops its X-Forwarded-For:
    # a forged one cannot open the door
    other = g.ports["untrusted"]
    assert request(other, "d.test", headers=xff("10.1.1.1, 8.8.8.8"))[0] == 403
    assert request(other, "x.test", headers=xff("10.2.2.2"))[0] == 403


def connect_from(port, source):
    s = socket.socket()
    s.settimeout(5 * SLOW)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def closed_without_data(s):
    """The peer closed (or reset) the connection without sending anything."""
    try:
        s.sendall(b"hello?\r\n")
    except OSError:
        return True
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_tcp_ip_allow_list_refuses_before_any_byte_reaches_the_backend(tmp_path, procs):
    plain, passthrough, unserved = EchoServer(), EchoServer(), EchoServer()
    g = procs.gantry(tmp_path, "tcp:\n  routers:\n"
                     "    plain: {rule: \"HostSNI(`*`)\", service: plain, entryPoints: [tcpep], middlewares: [test-ipallowlist]}\n"
                     "    pass: {rule: \"HostSNI(`p.test`)\", service: pass, entryPoints: [tlsep], tls: {passthrough: true},"
                     " middlewares: [test-ipallowlist]}\n"
                     "    ghost: {rule: \"HostSNI(`*`)\", service: unserved, entryPoints: [ghostep], middlewares: [nosuch]}\n"
                     "  middlewares:\n"
                     "    test-ipallowlist:\n      ipAllowList:\n        sourceRange: [127.0.0.1/32, 192.168.1.7]\n"
                     "  services:\n"
                     "    plain: {loadBalancer: {servers: [{address: \"%s\"}]}}\n"
                     "    pass: {loadBalancer: {servers: [{address: \"%s\"}]}}\n"
                     "    unserved: {loadBalancer: {servers: [{address: \"%s\"}]}}\n"
                     % (plain.address, passthrough.address, unserved.address),
                     entrypoints=("web", "tcpep", "tlsep", "ghostep"))
    g.wait_ready()

    def echoes(source):
        s = connect_from(g.ports["tcpep"], source)
        s.sendall(b"ping")
        data = s.recv(100)
        s.close()
        return data == b"ping"

    wait_for(lambda: echoes("127.0.0.1"), what="tcp route live")
    time.sleep(0.2 * SLOW)
    conns, received = plain.connections, plain.received  # wait_ready's probe counts too
    for source in ("127.0.0.2", "127.0.0.9"):
        s = connect_from(g.ports["tcpep"], source)
        assert closed_without_data(s)
        s.close()
    time.sleep(0.2 * SLOW)
    assert plain.connections == conns and plain.received == received  # not one connection, not one byte
    assert echoes("127.0.0.1") and plain.connections == conns + 1

    # TLS passthrough: refused once the ClientHello is read, which never
    # reaches the backend
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    s = connect_from(g.ports["tlsep"], "127.0.0.2")
    try:
        ctx.wrap_socket(s, server_hostname="p.test")
        raise AssertionError("handshake through a refused connection")
    except (ssl.SSLError, OSError):
        pass
    s.close()
    time.sleep(0.2 * SLOW)
    assert passthrough.connections == 0 and passthrough.received == 0
    s = connect_from(g.ports["tlsep"], "127.0.0.1")  # allowed: the hello is relayed (echoed back)
    try:
        ctx.wrap_socket(s, server_hostname="p.test")
    except (ssl.SSLError, OSError):
        pass
    s.close()
    wait_for(lambda: passthrough.connections == 1 and passthrough.received > 0, what="allowed hello relayed")

    # a router naming a middleware that does not exist is not served
    base = unserved.connections
    s = connect_from(g.ports["ghostep"], "127.0.0.1")
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    s.recv(100)
    s.close()
    assert unserved.connections == base == 0
    problems = " ".join(g.api("/api/overview")["problems"])
    assert "tcp router 'ghost@file': tcp middleware 'nosuch@file' does not exist" in problems
    assert "tcp middleware 'nosuch@file' does not exist" in g.output()


def test_tcp_in_flight_conn(tmp_path, procs):
    echo = EchoServer()
    g = procs.gantry(tmp_path, "tcp:\n  routers:\n"
                     "    r: {rule: \"HostSNI(`*`)\", service: echo, entryPoints: [tcpep], middlewares: [test-inflightconn]}\n"
                     "  middlewares:\n    test-inflightconn:\n      inFlightConn:\n        amount: 2\n"
                     "  services:\n    echo: {loadBalancer: {servers: [{address: \"%s\"}]}}\n" % echo.address,
                     entrypoints=("web", "tcpep"))
    g.wait_ready()
    port = g.ports["tcpep"]

    def open_echo(source):
        s = connect_from(port, source)
        s.sendall(b"x")
        assert s.recv(10) == b"x"
        return s

    first = wait_for(lambda: open_echo("127.0.0.1"), what="tcp route live")
    time.sleep(0.2 * SLOW)
    base = echo.connections  # wait_ready's probe counts too
    second = open_echo("127.0.0.1")
    third = connect_from(port, "127.0.0.1")
    assert closed_without_data(third)  # a third at once from the same address
    other = open_echo("127.0.0.2")  # counted per client address
    assert echo.connections == base + 2
    first.close()
    fourth = wait_for(lambda: open_echo("127.0.0.1"), what="count released on close")
    for s in (second, third, other, fourth):
        s.close()


def burst(port, host, n, source="127.0.0.1"):
    """n requests sent at once on n ready connections: their statuses."""
    conns = []
    for _ in range(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW, source_address=(source, 0))
        c.connect()
        conns.append(c)
    statuses, lock, go = [], threading.Lock(), threading.Event()

    def one(c):
        go.wait()
        c.request("GET", "/", headers={"Host": host})
        r = c.getresponse()
        r.read()
        with lock:
            statuses.append((r.status, r.getheader("Retry-After"), r.getheader("X-Retry-In")))
        c.close()

    threads = [threading.Thread(target=one, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join()
    return statuses


def test_rate_limit_burst_then_average(tmp_path, procs):
    up = RecordingUpstream(record=False)
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    b: {rule: \"Host(`b.test`)\", service: app, middlewares: [bursty]}\n"
                     "    s: {rule: \"Host(`s.test`)\", service: app, middlewares: [test-ratelimit]}\n"
                     "    z: {rule: \"Host(`z.test`)\", service: app, middlewares: [unlimited]}\n"
                     "  middlewares:\n"
                     "    bursty: {rateLimit: {average: 1, burst: 10}}\n"
                     "    test-ratelimit:\n      rateLimit:\n        average: 20\n        burst: 5\n"
                     "    unlimited: {rateLimit: {average: 0, burst: 1}}\n"
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/", "z.test")[0] == 200, what="route live")
    # N at once: exactly the burst passes (average 1/s: the next token is
    # 1s away, beyond maxDelay 0.5s)
    res = burst(g.port, "b.test", 30)
    ok = [r for r in res if r[0] == 200]
    refused = [r for r in res if r[0] == 429]
    assert len(ok) == 10 and len(refused) == 20, res
    assert all(r[1] == "1" and r[2].endswith("s") for r in refused), refused
    # another source address has its own bucket
    assert len([r for r in burst(g.port, "b.test", 12, source="127.0.0.2") if r[0] == 200]) == 10
    # average 0: no limit
    assert all(r[0] == 200 for r in burst(g.port, "z.test", 30))

    # sustained: greedy clients get the burst, then the average (20/s) over 3s
    stop, passed, lock = time.monotonic() + 3.0, [0], threading.Lock()

    def greedy():
        c = http.client.HTTPConnection("127.0.0.1", g.port, timeout=10 * SLOW)
        while time.monotonic() < stop:
            c.request("GET", "/", headers={"Host": "s.test"})
            r = c.getresponse()
            r.read()
            if r.status == 200:
                with lock:
                    passed[0] += 1
            else:
                assert r.status == 429
        c.close()

    threads = [threading.Thread(target=greedy) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = 5 + 20 * 3
    assert abs(passed[0] - expected) <= expected * 0.1, passed[0]


def test_in_flight_req_with_a_slow_upstream(tmp_path, procs):
    up = RecordingUpstream(delay=1.5 * SLOW, record=False)
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`r.test`) || Host(`other.test`)\", service: app, middlewares: [test-inflightreq]}\n"
                     "    h: {rule: \"Host(`h.test`)\", service: app, middlewares: [by-header]}\n"
                     "  middlewares:\n"
                     "    test-inflightreq:\n      inFlightReq:\n        amount: 2\n"
                     "    by-header: {inFlightReq: {amount: 1, sourceCriterion: {requestHeaderName: X-User}}}\n"
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/", "r.test")[0] == 200, what="route live")
    res = burst(g.port, "r.test", 5)
    assert sorted(r[0] for r in res) == [200, 200, 429, 429, 429], res
    status, _, body = request(g.port, "r.test", timeout=10)  # the holds went with the requests
    assert status == 200
    # the default source is the Host: another host has its own count
    results = {}

    def fetch(key, host, headers=None):
        results[key] = request(g.port, host, headers=headers)

    ts = [threading.Thread(target=fetch, args=("a", "r.test")), threading.Thread(target=fetch, args=("b", "r.test")),
          threading.Thread(target=fetch, args=("c", "other.test"))]
    for t in ts:
        t.start()
    time.sleep(0.5 * SLOW)
    status, _, body = request(g.port, "r.test")
    assert status == 429 and body == b"max connections reached: 2"
    for t in ts:
        t.join()
    assert all(results[k][0] == 200 for k in "abc"), results
    # sourceCriterion.requestHeaderName
    ts = [threading.Thread(target=fetch, args=("u1", "h.test", {"X-User": "alice"})),
          threading.Thread(target=fetch, args=("u2", "h.test", {"X-User": "bob"}))]
    for t in ts:
        t.start()
    time.sleep(0.5 * SLOW)
    assert request(g.port, "h.test", headers={"X-User": "alice"})[0] == 429
    for t in ts:
        t.join()
    assert results["u1"][0] == 200 and results["u2"][0] == 200


class RedisServer:
    """redis-server on a loopback port, no persistence."""

    def __init__(self, tmp_path):
        from conftest import free_port
        self.port, self.dir = free_port(), str(tmp_path)
        self.start()

    def start(self):
        import subprocess
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: socket.create_connection(("127.0.0.1", self.port), timeout=1).close() or True, what="redis up")

    def commands(self, *cmds):
        """Runs <cmds> (tuples) on one connection: the raw replies."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        for args in cmds:
            s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args)))
        time.sleep(0.2)
        data = s.recv(65536)
        s.close()
        return data

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def test_rate_limit_shared_through_redis_by_two_gantry_processes(tmp_path, procs):
    redis = RedisServer(tmp_path)
    try:
        up = RecordingUpstream(record=False)
        dyn = ("http:\n  routers:\n"
               "    r: {rule: \"Host(`r.test`)\", service: app, middlewares: [shared]}\n"
               "  middlewares:\n"
               "    shared:\n      rateLimit:\n        average: 1\n        burst: 10\n"
               "        redis:\n          endpoints: [\"127.0.0.1:%d\"]\n          db: 3\n" % redis.port +
               "  services:\n" + service_yaml("app", [up.url]))
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        g1 = procs.gantry(tmp_path / "a", dyn)
        g2 = procs.gantry(tmp_path / "b", dyn)
        g1.wait_ready()
        g2.wait_ready()
        wait_for(lambda: g1.api("/api/http/routers") and g2.api("/api/http/routers"), what="both configured")
        # 15 at once on each: together exactly the burst passes
        results = [None, None]

        def run(i, g):
            results[i] = burst(g.port, "r.test", 15)

        ts = [threading.Thread(target=run, args=(0, g1)), threading.Thread(target=run, args=(1, g2))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        statuses = [r[0] for r in results[0] + results[1]]
        assert statuses.count(200) == 10 and statuses.count(429) == 20, results
        assert all(r[1] == "1" for r in results[0] + results[1] if r[0] == 429)
        # the bucket lives in Redis (db 3), under Traefik's key layout
        keys = redis.commands(("SELECT", "3"), ("KEYS", "rate:*"), ("HGETALL", "rate:shared@file:127.0.0.1"))
        assert b"rate:shared@file:127.0.0.1" in keys and b"tokens" in keys and b"last" in keys, keys
        # Redis gone: fail closed (Traefik answers 500 too)
        redis.stop()
        status, _, body = request(g1.port, "r.test")
        assert status == 500 and body == b"Could not insert/update bucket\n"
        assert request(g2.port, "r.test")[0] == 500
        # back again on the same port: the workers connect anew
        redis.start()
        wait_for(lambda: request(g1.port, "r.test")[0] in (200, 429), what="redis back")
    finally:
        redis.stop()


def test_rate_limit_redis_that_does_not_answer_times_out(tmp_path, procs):
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(16)  # accepts (in the backlog) and never answers
    up = RecordingUpstream(record=False)
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`r.test`)\", service: app, middlewares: [shared]}\n"
                     "    free: {rule: \"Host(`f.test`)\", service: app}\n"
                     "  middlewares:\n"
                     "    shared: {rateLimit: {average: 5, redis: {endpoints: [\"127.0.0.1:%d\"],"
                     " readTimeout: 300ms, writeTimeout: 200ms}}}\n" % mute.getsockname()[1] +
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/", "f.test")[0] == 200, what="route live")
    start = time.monotonic()
    status, _, _ = request(g.port, "r.test")
    took = time.monotonic() - start
    assert status == 500 and 0.4 <= took <= 3 * SLOW, took
    mute.close()


def test_rate_limit_redis_unreachable_from_the_start(tmp_path, procs):
    from conftest import free_port
    up = RecordingUpstream(record=False)
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`r.test`)\", service: app, middlewares: [shared]}\n"
                     "    free: {rule: \"Host(`f.test`)\", service: app}\n"
                     "  middlewares:\n"
                     "    shared: {rateLimit: {average: 5, redis: {endpoints: [\"127.0.0.1:%d\"], dialTimeout: 1s}}}\n"
                     % free_port() + "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/", "f.test")[0] == 200, what="route live")
    for _ in range(3):
        status, _, body = request(g.port, "r.test")
        assert status == 500 and body == b"Could not insert/update bucket\n"
    assert up.connections <= 1  # only the probe of the free router


def timed(port, host):
    start = time.monotonic()
    status, _, body = request(port, host)
    return status, body, time.monotonic() - start


def test_rate_limit_redis_stopped_fails_within_the_timeouts_and_recovers(tmp_path, procs):
    """A real redis-server frozen with SIGSTOP (it accepts connections and
    never answers): every request waiting on it is refused with 500 once
    readTimeout + writeTimeout have passed, never later, while a router
    without the middleware keeps answering at once; SIGCONT, and requests
    go through again on a new connection."""
    import os
    import signal
    redis = RedisServer(tmp_path)
    try:
        up = RecordingUpstream(record=False)
        g = procs.gantry(tmp_path, "http:\n  routers:\n"
                         "    r: {rule: \"Host(`r.test`)\", service: app, middlewares: [shared]}\n"
                         "    free: {rule: \"Host(`f.test`)\", service: app}\n"
                         "  middlewares:\n"
                         "    shared: {rateLimit: {average: 1000, burst: 1000, redis: {endpoints: [\"127.0.0.1:%d\"],"
                         " readTimeout: 300ms, writeTimeout: 200ms}}}\n" % redis.port +
                         "  services:\n" + service_yaml("app", [up.url]))
        wait_for(lambda: request(g.port, "r.test")[0] == 200, what="route live through redis")
        os.kill(redis.proc.pid, signal.SIGSTOP)
        results = []
        ts = [threading.Thread(target=lambda: results.append(timed(g.port, "r.test"))) for _ in range(6)]
        for t in ts:
            t.start()
        free = timed(g.port, "f.test")
        for t in ts:
            t.join()
        assert free[0] == 200 and free[2] < 0.4 * SLOW, free
        assert [r[0] for r in results] == [500] * 6, results
        assert all(r[1] == b"Could not insert/update bucket\n" for r in results)
        # 300 ms + 200 ms per command: none waits much longer (nor fails at once while Redis is only slow)
        assert all(0.45 <= r[2] <= 0.5 + 1.0 * SLOW for r in results), [r[2] for r in results]
        # still frozen: a new connection is made (the kernel accepts it) and times out the same way
        time.sleep(0.2)
        status, _, took = timed(g.port, "r.test")
        assert status == 500 and took <= 0.5 + 1.0 * SLOW, took
        os.kill(redis.proc.pid, signal.SIGCONT)
        time.sleep(0.15)  # a worker whose Redis just failed answers 500 at once for 100 ms before it dials again
        wait_for(lambda: request(g.port, "r.test")[0] == 200, timeout=5 * SLOW, what="redis answering again")
        statuses = [request(g.port, "r.test")[0] for _ in range(8)]
        assert statuses == [200] * 8, statuses
    finally:
        os.kill(redis.proc.pid, signal.SIGCONT)
        redis.stop()


def test_rate_limit_redis_dial_timeout(tmp_path, procs):
    """A Redis whose listen queue is full (SYNs dropped: the connection is
    never made): the request is refused with 500 once dialTimeout has
    passed, not the 5 s default nor the read timeouts."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    fillers = []
    try:
        for _ in range(8):  # fill the accept queue until a connect no longer completes
            c = socket.socket()
            c.settimeout(0.3)
            try:
                c.connect(lst.getsockname())
                fillers.append(c)
            except (socket.timeout, OSError):
                c.close()
                break
        else:
            raise AssertionError("the listen queue never filled")
        up = RecordingUpstream(record=False)
        g = procs.gantry(tmp_path, "http:\n  routers:\n"
                         "    r: {rule: \"Host(`r.test`)\", service: app, middlewares: [shared]}\n"
                         "    free: {rule: \"Host(`f.test`)\", service: app}\n"
                         "  middlewares:\n"
                         "    shared: {rateLimit: {average: 5, redis: {endpoints: [\"127.0.0.1:%d\"], dialTimeout: 700ms,"
                         " readTimeout: 10s}}}\n" % lst.getsockname()[1] +
                         "  services:\n" + service_yaml("app", [up.url]))
        wait_for(lambda: get(g.port, "/", "f.test")[0] == 200, what="route live")
        status, body, took = timed(g.port, "r.test")
        assert status == 500 and body == b"Could not insert/update bucket\n"
        assert 0.65 <= took <= 0.7 + 1.5 * SLOW, took
    finally:
        for c in fillers:
            c.close()
        lst.close()


def test_rate_limit_redis_read_timeout_zero_waits_for_redis(tmp_path, procs):
    """readTimeout: 0 is go-redis' (Traefik's) "no deadline": a request
    waits on a frozen Redis for as long as it takes, and goes through once
    Redis answers."""
    import os
    import signal
    redis = RedisServer(tmp_path)
    try:
        up = RecordingUpstream(record=False)
        g = procs.gantry(tmp_path, "http:\n  routers:\n"
                         "    r: {rule: \"Host(`r.test`)\", service: app, middlewares: [shared]}\n"
                         "  middlewares:\n"
                         "    shared: {rateLimit: {average: 1000, burst: 1000, redis: {endpoints: [\"127.0.0.1:%d\"],"
                         " readTimeout: 0s, writeTimeout: 100ms}}}\n" % redis.port +
                         "  services:\n" + service_yaml("app", [up.url]))
        wait_for(lambda: request(g.port, "r.test")[0] == 200, what="route live through redis")
        os.kill(redis.proc.pid, signal.SIGSTOP)
        result = []
        t = threading.Thread(target=lambda: result.append(timed(g.port, "r.test")))
        t.start()
        t.join(3.3)
        # past what 0 read as "the default" would allow (3 s + writeTimeout): still waiting
        assert t.is_alive() and result == []
        os.kill(redis.proc.pid, signal.SIGCONT)
        t.join(5 * SLOW)
        assert result and result[0][0] == 200 and result[0][2] >= 3.3, result
    finally:
        os.kill(redis.proc.pid, signal.SIGCONT)
        redis.stop()


def test_kubernetes_internal_types_and_options_are_refused_from_a_file(tmp_path, procs):
    """ipDenyList, exemptSourceRange and redirectRegex's statusCode exist for
    the kubernetes provider's ingress-nginx annotations only: from a file
    (as in Traefik, which has none of them there) the router is refused."""
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    d: {rule: \"Host(`d.test`)\", service: app, middlewares: [deny]}\n"
                     "    e: {rule: \"Host(`e.test`)\", service: app, middlewares: [exempt]}\n"
                     "    r: {rule: \"Host(`r.test`)\", service: app, middlewares: [code]}\n"
                     "    ok: {rule: \"Host(`ok.test`)\", service: app}\n"
                     "  middlewares:\n"
                     "    deny: {ipDenyList: {sourceRange: [127.0.0.2/32]}}\n"
                     "    exempt: {rateLimit: {average: 1, exemptSourceRange: [127.0.0.1/32]}}\n"
                     "    code: {redirectRegex: {regex: \"^\", replacement: \"http://x.test/\", statusCode: 308}}\n"
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/", "ok.test")[0] == 200, what="route live")
    problems = " ".join(g.api("/api/overview")["problems"])
    assert "internal to the kubernetes Ingress provider" in problems, problems
    assert "unknown option 'exemptSourceRange'" in problems, problems
    assert "unknown option 'statusCode'" in problems, problems
    for host in ("d.test", "e.test", "r.test"):
        assert get(g.port, "/", host)[0] == 404, host
