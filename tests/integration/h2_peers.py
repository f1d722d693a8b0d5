"""A real HTTP/2 upstream on python3-h2 for the HTTP/2 upstream tests: it
counts connections and streams, and can refuse streams, reset them before
or after the response head, send trailers, send GOAWAY every N streams,
stall, and be killed. Cleartext (h2c, prior knowledge) or TLS with ALPN h2
(and http/1.1, answered by a minimal HTTP/1.1 responder, so that
disableHTTP2 can be seen from the upstream side)."""
import json
import socket
import ssl
import threading
import time
import urllib.parse

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame


class H2Upstream:
    def __init__(self, name="h2", max_streams=100, tls_files=None, goaway_every=0, delay_ms=0):
        self.name = name
        self.max_streams = max_streams
        self.goaway_every = goaway_every
        self.delay_ms = delay_ms
        self.lock = threading.Lock()
        self.connections = 0          # accepted (HTTP/2 ones)
        self.h1_requests = 0          # answered over HTTP/1.1 (ALPN chose it)
        self.streams = 0
        self.max_open = 0             # most streams open at once on one connection
        self.paths = []
        self.headers_seen = []
        self.bodies_seen = []         # (path, request body) of each stream that ended
        self.trailers_seen = []       # (path, request trailer fields) of each stream that sent some
        self.cancelled = 0            # streams the client reset
        self.refuse_left = 0          # REFUSED_STREAM for the next N streams
        self.sent = 0                 # response body bytes written (flow control lets them out)
        self.open_conns = 0           # HTTP/2 connections open now
        self.frozen = False           # stop reading and answering (PINGs included): a dead peer
        self.socks = set()
        self.stopped = False
        self.ctx = None
        if tls_files:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*tls_files)
            self.ctx.set_alpn_protocols(["h2", "http/1.1"])
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(512)
        self.port = self.lsock.getsockname()[1]
        self.url = ("https://127.0.0.1:%d" if tls_files else "h2c://127.0.0.1:%d") % self.port
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        """Kills the server: the listener and every connection, no GOAWAY."""
        self.stopped = True
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self):
        while not self.stopped:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        try:
            if self.ctx is not None:
                s = self.ctx.wrap_socket(s, server_side=True)
                if s.selected_alpn_protocol() != "h2":
                    return self._serve_h1(s)
            with self.lock:
                self.socks.add(s)
                self.connections += 1
                self.open_conns += 1
            try:
                _Conn(self, s).run()
            finally:
                with self.lock:
                    self.open_conns -= 1
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self.lock:
                self.socks.discard(s)
            try:
                s.close()
            except OSError:
                pass

    def _serve_h1(self, s):
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                d = s.recv(65536)
                if not d:
                    return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            with self.lock:
                self.h1_requests += 1
            body = b"proto=http/1.1 from " + self.name.encode()
            s.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))


class _Conn:
    def __init__(self, up, sock):
        self.up = up
        self.sock = sock
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.wlock = threading.Lock()
        self.open = {}
        self.bodies = {}
        self.count = 0
        self.goaway_last = None  # GOAWAY sent: streams above it are not processed

    def send(self, fn=None):
        with self.wlock:
            try:
                if fn is not None:
                    fn()
                data = self.h2.data_to_send()
                if data:
                    self.sock.sendall(data)
            except (OSError, h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError, KeyError):
                pass

    def run(self):
        # the stream limit in the first SETTINGS frame, as servers send it
        self.h2.local_settings = h2.settings.Settings(
            client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.up.max_streams})
        self.send(self.h2.initiate_connection)
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            while self.up.frozen:
                time.sleep(0.02)
            with self.wlock:
                try:
                    events = self.h2.receive_data(data)
                except h2.exceptions.ProtocolError:
                    return
            for ev in events:
                self.on_event(ev)
            self.send()

    def on_event(self, ev):
        up = self.up
        if isinstance(ev, h2.events.RequestReceived):
            hdrs = dict(ev.headers)
            if self.goaway_last is not None and ev.stream_id > self.goaway_last:
                return  # announced as not processed: the client retries it elsewhere
            with up.lock:
                up.streams += 1
                up.paths.append(hdrs.get(":path"))
                up.headers_seen.append(ev.headers)
                self.open[ev.stream_id] = hdrs
                up.max_open = max(up.max_open, len(self.open))
                refuse = up.refuse_left > 0
                if refuse:
                    up.refuse_left -= 1
            self.count += 1
            if refuse:
                self.send(lambda: self.h2.reset_stream(ev.stream_id, h2.errors.ErrorCodes.REFUSED_STREAM))
                self.open.pop(ev.stream_id, None)
                return
            self.bodies[ev.stream_id] = b""
            if up.goaway_every and self.count >= up.goaway_every and self.goaway_last is None:
                # a graceful GOAWAY: written by hand, since h2's close_connection
                # would refuse to answer the streams up to last_stream_id
                self.goaway_last = ev.stream_id
                f = hyperframe.frame.GoAwayFrame(0, last_stream_id=ev.stream_id, error_code=0)
                self.send(lambda: (self.sock.sendall(self.h2.data_to_send() + f.serialize())))
                threading.Thread(target=self.close_when_done, daemon=True).start()
        elif isinstance(ev, h2.events.DataReceived):
            self.bodies[ev.stream_id] = self.bodies.get(ev.stream_id, b"") + ev.data
            self.send(lambda: self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id))
        elif isinstance(ev, h2.events.TrailersReceived):
            with up.lock:
                up.trailers_seen.append((self.open.get(ev.stream_id, {}).get(":path"), list(ev.headers)))
        elif isinstance(ev, h2.events.StreamEnded):
            if ev.stream_id in self.open:
                with up.lock:
                    up.bodies_seen.append((self.open[ev.stream_id].get(":path"), self.bodies.get(ev.stream_id, b"")))
                self.start(ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            with up.lock:
                up.cancelled += 1
            self.open.pop(ev.stream_id, None)

    def close_when_done(self):
        deadline = time.time() + 10
        while any(sid <= self.goaway_last for sid in list(self.open)) and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        with self.wlock:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def start(self, sid):
        path = self.open.get(sid, {}).get(":path", "/")
        if self.up.delay_ms == 0 and path in ("/", "/headers", "/trailers"):
            self.respond(sid)  # quick answers inline: thousands of requests per second
            return
        threading.Thread(target=self.respond, args=(sid,), daemon=True).start()

    def respond(self, sid):
        up = self.up
        hdrs = self.open.get(sid, {})
        u = urllib.parse.urlsplit(hdrs.get(":path", "/"))
        q = dict(urllib.parse.parse_qsl(u.query))
        path = u.path
        delay = int(q.get("ms", up.delay_ms))
        if delay:
            time.sleep(delay / 1000.0)
        h = self.h2
        base = [("x-upstream", up.name)]
        try:
            if path == "/rst":
                self.send(lambda: h.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR))
            elif path == "/rst-after-headers":
                self.send(lambda: (h.send_headers(sid, [(":status", "200")] + base),
                                   h.send_data(sid, b"partial")))
                time.sleep(0.1)
                self.send(lambda: h.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR))
            elif path == "/trailers":
                self.send(lambda: (h.send_headers(sid, [(":status", "200"), ("content-type", "text/plain")] + base),
                                   h.send_data(sid, b"body then trailers"),
                                   h.send_headers(sid, [("grpc-status", "0"), ("x-trailer", "yes")], end_stream=True)))
            elif path == "/stall":
                self.send(lambda: (h.send_headers(sid, [(":status", "200")] + base), h.send_data(sid, b"x")))
                return
            elif path == "/never":
                return
            elif path == "/headers":
                body = json.dumps({k: v for k, v in self.open.get(sid, {}).items()}).encode()
                self.send(lambda: (h.send_headers(sid, [(":status", "200"), ("content-length", str(len(body)))] + base),
                                   h.send_data(sid, body, end_stream=True)))
            elif path == "/echo":
                body = self.bodies.get(sid, b"")
                self.send(lambda: (h.send_headers(sid, [(":status", "200"), ("content-length", str(len(body)))] + base),))
                self.send_body(sid, body)
            elif path == "/big":
                self.send(lambda: h.send_headers(sid, [(":status", "200")] + base))
                self.send_body(sid, b"b" * int(q.get("n", "1000000")))
            elif path.startswith("/status/"):
                body = ("status %s from %s" % (path[8:], up.name)).encode()
                self.send(lambda: (h.send_headers(sid, [(":status", path[8:]), ("content-length", str(len(body)))] + base),
                                   h.send_data(sid, body, end_stream=True)))
            elif hdrs.get(":method") == "HEAD":
                self.send(lambda: h.send_headers(sid, [(":status", "200"), ("content-length", "12")] + base,
                                                 end_stream=True))
            else:
                body = ("h2 ok from %s" % up.name).encode()
                self.send(lambda: (h.send_headers(sid, [(":status", "200"), ("content-length", str(len(body)))] + base),
                                   h.send_data(sid, body, end_stream=True)))
        finally:
            self.open.pop(sid, None)

    def send_body(self, sid, body):
        """Respects the client's flow-control windows (waits for WINDOW_UPDATE)."""
        off = 0
        deadline = time.time() + 60
        while True:
            with self.wlock:
                try:
                    n = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size, len(body) - off)
                    if n > 0 or off == len(body):
                        self.h2.send_data(sid, body[off:off + n], end_stream=off + n == len(body))
                        off += n
                        self.up.sent += max(n, 0)
                    data = self.h2.data_to_send()
                    if data:
                        self.sock.sendall(data)
                except (OSError, h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError, KeyError):
                    return
            if off == len(body) and n >= 0:
                if off == len(body):
                    return
            if n <= 0:
                if time.time() > deadline:
                    return
                time.sleep(0.005)
