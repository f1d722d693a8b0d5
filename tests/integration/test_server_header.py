"""serverHeader (gantry extension, off by default): a Server header for
responses that have none of their own: gantry's own answers (404) and
upstream responses without one; an upstream's Server passes unchanged and
is never doubled."""
import http.client
import socket
import threading

from conftest import service_yaml, wait_for


class Bare:
    """An upstream answering 200 without a Server header."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        buf = b""
        try:
            while True:
                data = c.recv(4096)
                if not data:
                    break
                buf += data
                while b"\r\n\r\n" in buf:
                    _, buf = buf.split(b"\r\n\r\n", 1)
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Type: text/plain\r\n\r\nbare")
        finally:
            c.close()

    def stop(self):
        self.sock.close()


def servers(port, host):
    """Every Server header of one GET / for <host>, and the status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/", headers={"Host": host})
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status, [v for k, v in r.getheaders() if k.lower() == "server"]


def config(whoami, bare):
    return ("http:\n  routers:\n"
            "    w:\n      rule: \"Host(`whoami.test`)\"\n      service: w\n"
            "    b:\n      rule: \"Host(`bare.test`)\"\n      service: b\n"
            "  services:\n" + service_yaml("w", [whoami.url]) + service_yaml("b", [bare.url]))


def test_off_by_default(tmp_path, procs):
    w, b = procs.whoami(), Bare()
    try:
        g = procs.gantry(tmp_path, config(w, b))
        wait_for(lambda: servers(g.port, "bare.test")[0] == 200, what="routes")
        assert servers(g.port, "bare.test") == (200, [])
        assert servers(g.port, "nowhere.test") == (404, [])
        status, got = servers(g.port, "whoami.test")
        assert status == 200 and len(got) == 1 and "gantry" not in got[0]  # the upstream's own
    finally:
        b.stop()


def test_server_header_when_missing(tmp_path, procs):
    w, b = procs.whoami(), Bare()
    try:
        g = procs.gantry(tmp_path, config(w, b), args=["--serverHeader=gantry"])
        wait_for(lambda: servers(g.port, "bare.test")[0] == 200, what="routes")
        assert servers(g.port, "bare.test") == (200, ["gantry"])
        assert servers(g.port, "nowhere.test") == (404, ["gantry"])
        status, got = servers(g.port, "whoami.test")
        assert status == 200 and len(got) == 1 and got[0] != "gantry"  # kept, not doubled
    finally:
        b.stop()
