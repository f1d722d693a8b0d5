"""A 100 MiB upload streamed through the proxy, over HTTP/2 (h2c prior
knowledge) and HTTP/1.1 (Content-Length and chunked): the upstream gets the
first body byte before the client has sent half of the body (the client
throttles and records when each part left), every byte arrives (SHA-256),
and the proxy's RSS (VmRSS, sampled during the transfer) grows by less than
RSS_BOUND_MIB.

GANTRY_TEST_STANDIN=nginx (proxy_request_buffering off), haproxy or direct validates
the test; the default is gantry."""
import hashlib
import json
import os
import socket
import socketserver
import threading
import time

import pytest

from conftest import SANITIZED, SLOW, Process, free_port, wait_port

PROXY = os.environ.get("GANTRY_TEST_STANDIN") or "gantry"
MiB = 1024 * 1024
SIZE = 100 * MiB
PART = 1 * MiB
PAUSE = 0.01      # between parts: ~1 s of sending at least, so "before the last byte" means something
RSS_BOUND_MIB = 48  # a streaming proxy holds windows and socket buffers, not the body


class CountingUpstream:
    """HTTP/1.1 upstream on raw sockets: reads the body as it comes
    (Content-Length or chunked), records when its first byte arrived, and
    answers with the byte count and SHA-256 as JSON."""

    def __init__(self):
        self.uploads = {}
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                f = self.request.makefile("rb", buffering=256 * 1024)
                while True:
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        line = f.readline()
                        if not line:
                            return
                        head += line
                    path = head.split(b" ")[1].decode()
                    lower = head.lower()
                    h, n, first = hashlib.sha256(), 0, None

                    def take(data):
                        nonlocal n, first
                        if data and first is None:
                            first = time.monotonic()
                        h.update(data)
                        n += len(data)

                    if b"transfer-encoding: chunked" in lower:
                        while True:
                            size = int(f.readline().split(b";")[0], 16)
                            if size == 0:
                                while f.readline() not in (b"\r\n", b""):
                                    pass
                                break
                            left = size
                            while left:
                                data = f.read1(min(left, 256 * 1024))
                                if not data:
                                    return
                                take(data)
                                left -= len(data)
                            f.read(2)
                    else:
                        left = int(lower.split(b"content-length:")[1].split(b"\r\n")[0]) if b"content-length:" in lower else 0
                        while left:
                            data = f.read1(min(left, 256 * 1024))
                            if not data:
                                return
                            take(data)
                            left -= len(data)
                    outer.uploads[path] = {"first": first, "done": time.monotonic(), "bytes": n,
                                           "sha256": h.hexdigest()}
                    body = json.dumps({"bytes": n, "sha256": h.hexdigest()}).encode()
                    self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                                         % (len(body), body))

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class RssSampler:
    """Peak VmRSS (kB) of <pids> summed, sampled every 20 ms until stopped."""

    def __init__(self, pids):
        self.pids = pids
        self.base = self.sample()
        self.peak = self.base
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def sample(self):
        total = 0
        for pid in self.pids:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total

    def run(self):
        while self.running:
            self.peak = max(self.peak, self.sample())
            time.sleep(0.02)

    def stop(self):
        self.running = False
        self.thread.join()
        return (self.peak - self.base) / 1024.0


@pytest.fixture
def env(tmp_path, procs):
    up = CountingUpstream()

    class E:
        upstream = up
        pids = []
    if PROXY == "gantry":
        dyn = ("http:\n  routers:\n    up:\n      rule: \"Host(`up.test`)\"\n      service: up\n"
               "  services:\n    up:\n      loadBalancer:\n        servers:\n"
               "          - url: \"http://127.0.0.1:%d\"\n" % up.port)
        g = procs.gantry(tmp_path, dyn)
        E.h1_port = E.h2_port = g.port
        E.pids = [g.proc.pid]
    elif PROXY == "nginx":
        d = str(tmp_path / "nginx")
        os.makedirs(d)
        E.h1_port, E.h2_port = free_port(), free_port()
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write("worker_processes 1; daemon off; pid %s/nginx.pid; error_log %s/error.log;\n"
                    "events { worker_connections 1024; }\n"
                    "http { access_log off; client_body_temp_path %s; client_max_body_size 0;\n"
                    "  server { listen 127.0.0.1:%d; listen 127.0.0.1:%d http2;\n"
                    "    location / { proxy_pass http://127.0.0.1:%d; proxy_http_version 1.1;\n"
                    "                 proxy_request_buffering off; proxy_buffering off; } } }\n"
                    % (d, d, d, E.h1_port, E.h2_port, up.port))
        p = procs.add(Process(["nginx", "-e", os.path.join(d, "error.log"), "-p", d, "-c", conf], "nginx"))
        wait_port(E.h1_port)
        wait_port(E.h2_port)
        import subprocess
        E.pids = [p.proc.pid] + [int(x) for x in subprocess.run(["pgrep", "-P", str(p.proc.pid)], capture_output=True,
                                                                   text=True).stdout.split()]
    elif PROXY == "haproxy":
        E.h1_port = E.h2_port = free_port()
        cfg = str(tmp_path / "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("defaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n"
                    "frontend fe\n  bind 127.0.0.1:%d\n  default_backend be\nbackend be\n  server up 127.0.0.1:%d\n"
                    % (E.h1_port, up.port))
        p = procs.add(Process(["haproxy", "-f", cfg, "-db"], "haproxy"))
        wait_port(E.h1_port)
        E.pids = [p.proc.pid]
    elif PROXY == "direct":
        E.h1_port = up.port
        E.h2_port = None
    else:
        pytest.skip("GANTRY_TEST_STANDIN=%s: not a stand-in for these tests" % PROXY)
    yield E
    up.stop()


def body_parts(seed):
    """SIZE bytes in PART-sized parts, reproducible, and their SHA-256."""
    block = hashlib.sha256(seed.encode()).digest() * (PART // 32)
    parts = [bytes([i & 0xFF]) + block[1:] for i in range(SIZE // PART)]
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return parts, h.hexdigest()


def check(env, path, sent_at, response, digest, rss_growth):
    print("%s: proxy RSS growth %s MiB" % (path, "n/a" if rss_growth is None else "%.1f" % rss_growth))
    got = env.upstream.uploads.get(path)
    assert got, "the upstream got no upload at %s (response %r)" % (path, response[:300])
    assert got["bytes"] == SIZE and got["sha256"] == digest, got
    assert json.loads(response) == {"bytes": SIZE, "sha256": digest}
    # how much had the client sent when the upstream saw the first byte?
    sent_before = sum(1 for t in sent_at if t <= got["first"])
    assert sent_before < len(sent_at) // 2, \
        "the upstream's first byte came after the client had sent %d of %d MiB (buffered, not streamed)" % (
            sent_before, len(sent_at))
    assert got["first"] < sent_at[-1]
    if rss_growth is not None and not SANITIZED:  # ASan's quarantine holds freed memory
        assert rss_growth < RSS_BOUND_MIB, "proxy RSS grew by %.1f MiB during a %d MiB upload" % (rss_growth, SIZE // MiB)


def read_http1_response(sock):
    f = sock.makefile("rb")
    status = f.readline()
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return status, f.read(length)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_http1_upload_is_streamed_to_the_upstream(env, framing):
    parts, digest = body_parts(framing)
    path = "/upload/h1-" + framing
    sock = socket.create_connection(("127.0.0.1", env.h1_port), timeout=60 * SLOW)
    head = "POST %s HTTP/1.1\r\nHost: up.test\r\n" % path
    head += "Transfer-Encoding: chunked\r\n\r\n" if framing == "chunked" else "Content-Length: %d\r\n\r\n" % SIZE
    rss = RssSampler(env.pids) if env.pids else None
    sock.sendall(head.encode())
    sent_at = []
    for p in parts:
        sock.sendall(b"%x\r\n%s\r\n" % (len(p), p) if framing == "chunked" else p)
        sent_at.append(time.monotonic())
        time.sleep(PAUSE)
    if framing == "chunked":
        sock.sendall(b"0\r\n\r\n")
    status, body = read_http1_response(sock)
    growth = rss.stop() if rss else None
    sock.close()
    assert status.startswith(b"HTTP/1.1 200"), (status, body[:300])
    check(env, path, sent_at, body, digest, growth)


def test_http2_upload_is_streamed_to_the_upstream(env):
    if env.h2_port is None:
        pytest.skip("direct: the upstream speaks HTTP/1.1 only")
    import h2.events
    from h2_raw import Client
    parts, digest = body_parts("h2")
    path = "/upload/h2"
    c = Client(env.h2_port)
    c.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
    c.flush()
    rss = RssSampler(env.pids) if env.pids else None
    sid = c.request([(":method", "POST"), (":scheme", "http"), (":authority", "up.test"), (":path", path),
                     ("content-length", str(SIZE))], end_stream=False)
    sent_at = []
    deadline = time.time() + 120 * SLOW
    for i, p in enumerate(parts):
        view = memoryview(p)
        while view:
            window = min(c.conn.local_flow_control_window(sid), c.conn.max_outbound_frame_size)
            if window <= 0:
                assert time.time() < deadline, "stalled: no WINDOW_UPDATE from the proxy"
                evs = c.pump(1.0)
                assert not any(isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated)) for e in evs), evs
                continue
            n = min(window, len(view))
            c.conn.send_data(sid, view[:n].tobytes(), end_stream=(i == len(parts) - 1 and n == len(view)))
            c.flush()
            view = view[n:]
        sent_at.append(time.monotonic())
        time.sleep(PAUSE)
    headers, body, _, reset = c.response(sid, timeout=60 * SLOW)
    growth = rss.stop() if rss else None
    c.close()
    assert reset is None and headers.get(":status") == "200", (headers, body[:300], reset)
    check(env, path, sent_at, body, digest, growth)
