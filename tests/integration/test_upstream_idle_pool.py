"""The idle upstream pool against a real keep-alive HTTP/1.1 server that
counts its connections: after a burst wider than maxIdleConnsPerHost, a
second burst right behind it reuses every connection (none opened anew),
and once the load is gone the pool shrinks back to maxIdleConnsPerHost."""
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import get, wait_for

BURST = 8
CAP = 2


class CountingUpstream:
    """HTTP/1.1 keep-alive server: each request waits 0.3 s so a burst needs
    one connection per request; counts accepted and still-open connections."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.accepted = 0
        self.open = 0
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.open += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = c.recv(65536)
                    if not data:
                        return
                    buf += data
                _, buf = buf.split(b"\r\n\r\n", 1)
                time.sleep(0.3)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except OSError:
            pass
        finally:
            c.close()
            with self.lock:
                self.open -= 1

    def counts(self):
        with self.lock:
            return self.accepted, self.open

    def stop(self):
        self.running = False
        self.sock.close()


def burst(port):
    with ThreadPoolExecutor(BURST) as ex:
        return list(ex.map(lambda _: get(port, "/", "pool.test")[0], range(BURST)))


def test_a_burst_over_the_idle_cap_reuses_then_shrinks_to_the_cap(tmp_path, procs):
    up = CountingUpstream()
    try:
        dyn = ("http:\n  routers:\n    pool: {rule: \"Host(`pool.test`)\", service: pool}\n"
               "  serversTransports:\n    small: {maxIdleConnsPerHost: %d}\n"
               "  services:\n    pool:\n      loadBalancer:\n        serversTransport: small\n"
               "        servers: [{url: \"http://127.0.0.1:%d\"}]\n" % (CAP, up.port))
        g = procs.gantry(tmp_path, dyn, workers=1)
        wait_for(lambda: get(g.port, "/", "pool.test")[0] == 200, what="route live")
        base, _ = up.counts()
        assert burst(g.port) == [200] * BURST
        first, _ = up.counts()
        assert first - base >= BURST - 1, (base, first)  # one connection per concurrent request
        # right behind it: the connections over the cap still wait, and carry the second burst
        assert burst(g.port) == [200] * BURST
        second, _ = up.counts()
        assert second == first, "a burst right after another opened %d new connections" % (second - first)
        # the load is gone: within a few seconds only maxIdleConnsPerHost stay open
        wait_for(lambda: up.counts()[1] == CAP, timeout=5, what="idle pool back to %d (open now: %d)" % (CAP, up.counts()[1]))
        time.sleep(0.5)
        assert up.counts()[1] == CAP
        assert get(g.port, "/", "pool.test")[0] == 200
        assert up.counts()[0] == second  # served on a kept connection
    finally:
        up.stop()
