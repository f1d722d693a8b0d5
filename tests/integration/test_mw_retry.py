"""The retry middleware against an upstream that fails on command: it
accepts and drops the first N connections (before any response byte), then
answers. Idempotent requests are retried with the exponential backoff, a
POST whose connection broke after it was sent is not, and the attempts are
bounded."""
import socket
import threading
import time

from conftest import get, service_yaml, wait_for


class FlakyUpstream:
    def __init__(self, failures):
        self.failures = failures
        self.accepted = []
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
            self.accepted.append(time.time())
            if self.failures > 0:
                self.failures -= 1
                c.recv(65536)
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.close()  # reset before any response byte
                continue
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
    assert len(tries) >= 3 and elapsed >= 0.55, (gaps, elapsed)  # 200 ms then 400 ms


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
