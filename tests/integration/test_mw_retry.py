"""The retry middleware against upstreams that fail on command: one
accepts and drops the first N connections (before any response byte), then
answers; another answers a scripted list of statuses. Idempotent requests
are retried with Traefik's backoff, a POST whose connection broke after it
was sent is not, the attempts are bounded, and Traefik v3.7's options
(status, timeout, disableRetryOnNetworkError, retryNonIdempotentMethod,
maxRequestBodyBytes) hold."""
import socket
import threading
import time

from conftest import get, service_yaml, wait_for


class LoopbackServer:
    """A listener on a kernel-chosen loopback port; each accepted
    connection goes to self.accepted_one(c) on the accept thread."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted_one(c)


class FlakyUpstream(LoopbackServer):
    def __init__(self, failures):
        self.failures = failures
        self.accepted = []
        super().__init__()

    def accepted_one(self, c):
        self.accepted.append(time.time())
        if self.failures > 0:
            self.failures -= 1
            c.recv(65536)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()  # reset before any response byte
            return
        threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        buf = b""
        while True:
            d = c.recv(65536)
            if not d:
                return
            buf += d
            while b"\r\n\r\n" in buf:
                head, buf = buf.split(b"\r\n\r\n", 1)
                n = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        n = int(line.split(b":")[1])
                while len(buf) < n:
                    buf += c.recv(65536)
                buf = buf[n:]
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                c.close()  # one request per connection: each attempt is a fresh accept
                return


def config(up, attempts, interval="200ms"):
    return ("http:\n  routers:\n    r: {rule: \"Host(`r.test`)\", service: app, middlewares: [retry]}\n"
            "  middlewares:\n    retry: {retry: {attempts: %d%s}}\n"
            "  services:\n" % (attempts, ", initialInterval: " + interval if interval else "") + service_yaml("app", [up.url]))


def test_retries_with_exponential_backoff(tmp_path, procs):
    up = FlakyUpstream(0)
    g = procs.gantry(tmp_path, config(up, 4))
    wait_for(lambda: get(g.port, "/", "r.test")[0] == 200, what="route live")
    up.failures = 2
    n0 = len(up.accepted)
    t0 = time.time()
    status, _, body = get(g.port, "/", "r.test", headers={"Connection": "close"})
    elapsed = time.time() - t0
    assert status == 200 and body == b"ok"
    tries = up.accepted[n0:]
    # pooled connections may be reused first: what matters is three fresh attempts spaced by the backoff
    gaps = [b - a for a, b in zip(tries, tries[1:])]
    print("attempt gaps:", gaps, "elapsed", elapsed)
    # Traefik's series for 4 attempts: 200 ms x 2^(0/3), then x 2^(1/3) (252 ms): 452 ms
    assert len(tries) >= 3 and 0.43 <= elapsed < 1.5, (gaps, elapsed)


def test_without_initial_interval_retries_at_once(tmp_path, procs):
    """Traefik's default initialInterval is 0: no backoff (a 100 ms default
    would make these three retries take 0.7 s)."""
    up = FlakyUpstream(0)
    g = procs.gantry(tmp_path, config(up, 4, None))
    wait_for(lambda: get(g.port, "/", "r.test")[0] == 200, what="route live")
    up.failures = 3
    n0 = len(up.accepted)
    t0 = time.time()
    status, _, body = get(g.port, "/", "r.test", headers={"Connection": "close"})
    elapsed = time.time() - t0
    assert status == 200 and body == b"ok"
    assert len(up.accepted) - n0 >= 3 and elapsed < 0.5, elapsed


def test_attempts_are_bounded(tmp_path, procs):
    up = FlakyUpstream(0)
    g = procs.gantry(tmp_path, config(up, 2, "10ms"))
    wait_for(lambda: get(g.port, "/", "r.test")[0] == 200, what="route live")
    up.failures = 5
    status, _, _ = get(g.port, "/", "r.test", headers={"Connection": "close"})
    assert status == 502


def test_post_is_not_replayed_once_sent(tmp_path, procs):
    up = FlakyUpstream(0)
    g = procs.gantry(tmp_path, config(up, 4, "10ms"))
    wait_for(lambda: get(g.port, "/", "r.test")[0] == 200, what="route live")
    up.failures = 1
    n0 = len(up.accepted)
    status, _, _ = get(g.port, "/", "r.test", method="POST", body=b"once", headers={"Connection": "close"})
    assert status == 502
    time.sleep(0.2)
    assert len(up.accepted) - n0 <= 2  # the broken attempt (plus at most a stale pooled connection), no replay


class StatusUpstream(LoopbackServer):
    """Answers each request with the next status of <script> (then 200),
    the status in the body; records (method, body length) per request."""

    def __init__(self, script):
        self.script = list(script)
        self.seen = []
        self.lock = threading.Lock()
        super().__init__()

    def accepted_one(self, c):
        threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        buf = b""
        with c:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                n = 0
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"content-length:"):
                        n = int(line.split(b":")[1])
                while len(buf) < n:
                    buf += c.recv(65536)
                body, buf = buf[:n], buf[n:]
                with self.lock:
                    self.seen.append((head.split(b" ")[0].decode(), len(body)))
                    status = self.script.pop(0) if self.script else 200
                text = b"%d" % status
                c.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(text), text))


def retry_config(up, options, host="r.test"):
    return ("http:\n  routers:\n    r: {rule: \"Host(`%s`)\", service: app, middlewares: [retry]}\n" % host +
            "  middlewares:\n    retry:\n      retry:\n" + "".join("        %s\n" % o for o in options) +
            "  services:\n" + service_yaml("app", [up.url]))


def started(g, up):
    wait_for(lambda: get(g.port, "/", "r.test")[0] == 200, what="route live")
    with up.lock:
        up.seen.clear()


def test_status_ranges_are_retried_and_the_last_answer_goes_through(tmp_path, procs):
    up = StatusUpstream([])
    g = procs.gantry(tmp_path, retry_config(up, ["attempts: 3", "status: [\"500-503\", \"429\"]"]))
    started(g, up)
    up.script = [503, 429]  # two dropped answers, then 200
    status, _, body = get(g.port, "/", "r.test")
    assert (status, body) == (200, b"200") and len(up.seen) == 3, up.seen
    up.seen.clear()
    up.script = [500, 502, 501]  # three attempts, all in range: the third goes out as it is
    status, _, body = get(g.port, "/", "r.test")
    assert (status, body) == (501, b"501") and len(up.seen) == 3, up.seen
    up.seen.clear()
    up.script = [504]  # not in a range: no retry
    status, _, body = get(g.port, "/", "r.test")
    assert (status, body) == (504, b"504") and len(up.seen) == 1, up.seen


def test_non_idempotent_methods_only_with_retryNonIdempotentMethod(tmp_path, procs):
    up = StatusUpstream([])
    g = procs.gantry(tmp_path, retry_config(up, ["attempts: 2", "status: [\"503\"]"]))
    started(g, up)
    for method in ("POST", "PATCH", "LOCK"):
        up.seen.clear()
        up.script = [503]
        assert get(g.port, "/", "r.test", method=method, body=b"x")[0] == 503
        assert len(up.seen) == 1, (method, up.seen)
    up.seen.clear()
    up.script = [503]
    assert get(g.port, "/", "r.test", method="PUT", body=b"x")[0] == 200 and len(up.seen) == 2
    g.write(retry_config(up, ["attempts: 2", "status: [\"503\"]", "retryNonIdempotentMethod: true"], host="r2.test"))
    wait_for(lambda: get(g.port, "/", "r2.test")[0] == 200, what="new configuration")
    up.seen.clear()
    up.script = [503]
    assert get(g.port, "/", "r2.test", method="POST", body=b"hello")[0] == 200
    assert up.seen == [("POST", 5), ("POST", 5)], up.seen  # the body sent again


def test_bodies_over_maxRequestBodyBytes_are_not_retried_on_a_status(tmp_path, procs):
    up = StatusUpstream([])
    g = procs.gantry(tmp_path, retry_config(up, ["attempts: 2", "status: [\"503\"]", "maxRequestBodyBytes: 10"]))
    started(g, up)
    up.script = [503]
    assert get(g.port, "/", "r.test", method="PUT", body=b"x" * 10)[0] == 200 and len(up.seen) == 2
    up.seen.clear()
    up.script = [503]
    assert get(g.port, "/", "r.test", method="PUT", body=b"x" * 11)[0] == 503 and len(up.seen) == 1


def test_timeout_stops_the_attempts(tmp_path, procs):
    up = StatusUpstream([])
    g = procs.gantry(tmp_path, retry_config(up, ["attempts: 10", "initialInterval: 300ms", "timeout: 500ms",
                                                 "status: [\"503\"]"]))
    started(g, up)
    up.script = [503] * 10
    t0 = time.time()
    status, _, _ = get(g.port, "/", "r.test")
    elapsed = time.time() - t0
    # waits of 300 ms, 300 x 2^(1/9)...: the third answer comes after the timeout and goes out
    assert status == 503 and 2 <= len(up.seen) <= 3 and elapsed < 2, (up.seen, elapsed)


def test_disableRetryOnNetworkError(tmp_path, procs):
    up = FlakyUpstream(0)
    g = procs.gantry(tmp_path, retry_config(up, ["attempts: 3", "disableRetryOnNetworkError: true",
                                                 "status: [\"503\"]"]))
    wait_for(lambda: get(g.port, "/", "r.test")[0] == 200, what="route live")
    up.failures = 1
    n0 = len(up.accepted)
    status, _, _ = get(g.port, "/", "r.test", headers={"Connection": "close"})
    assert status == 502 and len(up.accepted) - n0 <= 2  # the broken attempt (and at most a stale pooled one)
    # with 502 among the statuses, Gantry's own 502 is retried as Traefik does
    g.write(retry_config(up, ["attempts: 3", "disableRetryOnNetworkError: true", "status: [\"502\"]"], host="r2.test"))
    wait_for(lambda: get(g.port, "/", "r2.test")[0] == 200, what="new configuration")
    up.failures = 1
    status, _, body = get(g.port, "/", "r2.test", headers={"Connection": "close"})
    assert (status, body) == (200, b"ok")


def test_options_refused_with_their_reason(tmp_path, procs):
    up = StatusUpstream([])
    g = procs.gantry(tmp_path, retry_config(up, ["attempts: 2", "disableRetryOnNetworkError: true"]))
    wait_for(lambda: g.api("/api/http/routers/r@file").get("status") == "disabled", what="router refused")
    err = " ".join(g.api("/api/http/routers/r@file").get("error", []))
    assert "requires at least HTTP status codes or retry on TCP" in err, err
    g.write(retry_config(up, ["attempts: 2", "status: [\"5xx\"]"]))
    wait_for(lambda: "5xx" in " ".join(g.api("/api/http/routers/r@file").get("error", [])), what="bad range named")
    assert get(g.port, "/", "r.test")[0] == 404
