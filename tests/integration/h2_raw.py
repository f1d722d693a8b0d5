"""A raw HTTP/2 client for the conformance, gRPC and RFC 8441 tests:
python3-h2 for the well-formed parts (HPACK, SETTINGS, flow control), plus
hand-built frames for what h2 refuses to send (bad frames, uppercase names,
frames on stream 0). Over h2c prior knowledge or TLS with ALPN h2."""
import socket
import ssl
import struct
import time

import h2.config
import h2.connection
import h2.events
import h2.settings

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# frame types and error codes (RFC 9113 §6, §7)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, FRAME_SIZE_ERROR, \
    REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, CONNECT_ERROR = range(11)
SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x8


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, stream & 0x7FFFFFFF) + payload


def open_socket(port, tls=False, ca=None, server_name="h2.test", timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls:
        ctx = ssl.create_default_context(cafile=ca) if ca else ssl._create_unverified_context()
        ctx.set_alpn_protocols(["h2"])
        s = ctx.wrap_socket(s, server_hostname=server_name)
        assert s.selected_alpn_protocol() == "h2", s.selected_alpn_protocol()
    return s


class Frame(tuple):
    """(type, flags, stream, payload), and .headers for a HEADERS frame."""
    headers = None


class RawFrames:
    """Frames read off a socket, without h2's state machine (to see what a
    server does with frames h2 would never send)."""

    def __init__(self, sock, buf=b"", ack_settings=True):
        import hpack
        self.sock = sock
        self.buf = buf
        self.closed = False
        self.ack_settings = ack_settings  # a silent client would get SETTINGS_TIMEOUT
        self.decoder = hpack.Decoder()
        self.server_settings = {}

    def send(self, *frames):
        self.sock.sendall(b"".join(frames))

    def headers_of(self, f):
        """The decoded header list of a HEADERS frame (decoded as it was read:
        HPACK state is per connection, every block must go through in order)."""
        return f.headers

    def _decode(self, flags, p):
        if flags & 0x8:
            p = p[1:len(p) - p[0]]
        if flags & 0x20:
            p = p[5:]
        return [(k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes) else v)
                for k, v in self.decoder.decode(p)]

    def read(self, timeout=5.0):
        """The next frame (type, flags, stream, payload), or None on EOF/timeout."""
        deadline = time.time() + timeout
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            left = deadline - time.time()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except (ConnectionResetError, ssl.SSLError, OSError):
                chunk = b""
            if not chunk:
                self.closed = True
                return None
            self.buf += chunk
        n = int.from_bytes(self.buf[:3], "big")
        ftype, flags, stream = self.buf[3], self.buf[4], struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
        payload = self.buf[9:9 + n]
        self.buf = self.buf[9 + n:]
        if ftype == SETTINGS and not flags & ACK:
            for i in range(0, len(payload) - 5, 6):
                k, v = struct.unpack(">HI", payload[i:i + 6])
                self.server_settings[k] = v
            if self.ack_settings:
                try:
                    self.sock.sendall(frame(SETTINGS, ACK, 0))
                except OSError:
                    pass
        f = Frame((ftype, flags, stream, payload))
        if ftype in (HEADERS, PUSH_PROMISE):  # no CONTINUATION expected from a server's small responses
            f.headers = self._decode(flags, payload if ftype == HEADERS else payload[4:])
        return f

    def until(self, pred, timeout=5.0):
        """Reads frames until pred(frame) is true: that frame, or None."""
        deadline = time.time() + timeout
        while True:
            f = self.read(max(0.01, deadline - time.time()))
            if f is None:
                return None
            if pred(f):
                return f

    def goaway(self, timeout=5.0):
        """(last_stream_id, error_code) of the GOAWAY the server sends, or None."""
        f = self.until(lambda f: f[0] == GOAWAY, timeout)
        if f is None:
            return None
        last, code = struct.unpack(">II", f[3][:8])
        return last & 0x7FFFFFFF, code

    def rst(self, stream, timeout=5.0):
        f = self.until(lambda f: f[0] == RST_STREAM and f[2] == stream, timeout)
        return None if f is None else struct.unpack(">I", f[3])[0]

    def connection_closed(self, timeout=5.0):
        """True when the server closes the connection (after any frames)."""
        deadline = time.time() + timeout
        while not self.closed and time.time() < deadline:
            self.read(deadline - time.time())
        return self.closed


def upgrade_h2c(port, authority="h2.test", path="/"):
    """An HTTP/1.1 request with `Upgrade: h2c` (RFC 7540 §3.2); returns the
    socket and the bytes after the 101 response (the server's first frames).
    The upgraded request becomes stream 1, half-closed (local)."""
    import base64
    s = open_socket(port)
    settings = base64.urlsafe_b64encode(b"").decode().rstrip("=")
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
               "HTTP2-Settings: %s\r\n\r\n" % (path, authority, settings)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("closed before the 101: %r" % buf)
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s, rest


def raw_connect(port, mode="h2c", ca=None, server_name="h2.test", settings=b""):
    """A connection in <mode> (h2c prior knowledge, tls, upgrade) with the
    client preface and a SETTINGS frame sent, and a RawFrames reader on it.
    After an upgrade, stream 1 is taken (the upgraded GET)."""
    rest = b""
    if mode == "upgrade":
        s, rest = upgrade_h2c(port, server_name)
    else:
        s = open_socket(port, mode == "tls", ca, server_name)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0, settings))
    return s, RawFrames(s, rest)


def hpack_headers(headers):
    """A header block for <headers> (list of (name, value) bytes/str), with
    no validation: uppercase names and connection headers go through."""
    import hpack
    return hpack.Encoder().encode([(k.encode() if isinstance(k, str) else k, v.encode() if isinstance(v, str) else v)
                                   for k, v in headers])


class Client:
    """python3-h2 on a socket: request helpers that collect events."""

    def __init__(self, port, tls=False, ca=None, server_name="h2.test", validate=True, settings=None):
        self.sock = open_socket(port, tls, ca, server_name)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8", validate_outbound_headers=validate,
                                        normalize_outbound_headers=validate, validate_inbound_headers=validate)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.flush()
        self.events = []
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, timeout=5.0):
        """Reads once (up to <timeout>); returns the new events."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return []
        except (ConnectionResetError, ssl.SSLError, OSError):
            data = b""
        if not data:
            self.closed = True
            return []
        evs = self.conn.receive_data(data)
        for e in evs:
            if isinstance(e, h2.events.DataReceived):
                self.conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
        self.flush()
        self.events += evs
        return evs

    def wait(self, pred, timeout=5.0, what="event"):
        """The first event (seen before or after) matching pred."""
        deadline = time.time() + timeout
        seen = 0
        while True:
            for e in self.events[seen:]:
                if pred(e):
                    return e
            seen = len(self.events)
            if self.closed or time.time() > deadline:
                raise AssertionError("no %s; events: %r" % (what, self.events[-20:]))
            self.pump(max(0.01, deadline - time.time()))

    def request(self, headers, body=None, end_stream=True, trailers=None):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, headers, end_stream=end_stream and body is None and trailers is None)
        if body is not None:
            self.conn.send_data(sid, body, end_stream=end_stream and trailers is None)
        if trailers is not None:
            self.conn.send_headers(sid, trailers, end_stream=True)
        self.flush()
        return sid

    def response(self, sid, timeout=10.0):
        """(headers dict, body bytes, trailers dict or None, reset error code or None)
        once stream <sid> ended or was reset."""
        self.wait(lambda e: (isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset))
                             and e.stream_id == sid), timeout, "end of stream %d" % sid)
        headers, body, trailers, reset = {}, b"", None, None
        for e in self.events:
            if getattr(e, "stream_id", None) != sid:
                continue
            if isinstance(e, h2.events.ResponseReceived):
                headers = dict(e.headers)
            elif isinstance(e, h2.events.TrailersReceived):
                trailers = dict(e.headers)
            elif isinstance(e, h2.events.DataReceived):
                body += e.data
            elif isinstance(e, h2.events.StreamReset):
                reset = e.error_code
        return headers, body, trailers, reset

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
