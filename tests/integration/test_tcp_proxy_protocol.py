"""PROXY protocol towards TCP servers (Traefik's tcp serversTransports
`proxyProtocol.version`, default 2, and the deprecated
`loadBalancer.proxyProtocol`) against the real binary: a backend that
parses the header it receives first (HAProxy's spec, v1 text and v2
binary) sees the client's address and port and the entry point's, then
the client's bytes unchanged; a version other than 1 or 2 is refused.
Precedence as Traefik v3's DialerManager.Build: a service naming a
serversTransport gets that transport's proxyProtocol, set or not (its
loadBalancer.proxyProtocol is ignored); one naming none gets its
loadBalancer.proxyProtocol.
"""
import socket
import struct

from conftest import SLOW, wait_for
from tcp_peers import Listener

ENTRYPOINTS = ("web", "pp1", "pp2", "pplb", "plain", "lbonly", "trnone")
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def parse_header(conn):
    """The PROXY header at the start of <conn> as (version, src, sport, dst, dport), and the bytes
    read past it; (None, first bytes) when the connection does not start with one."""
    peek = b""
    while len(peek) < 5:
        peek = conn.recv(12, socket.MSG_PEEK)
        if not peek:
            raise EOFError("closed before any byte")
    if not peek.startswith(b"PROXY") and not peek.startswith(V2_SIGNATURE[:5]):
        return None, b""
    first = read_exact(conn, 12)
    if first == V2_SIGNATURE:
        ver_cmd, fam, length = struct.unpack("!BBH", read_exact(conn, 4))
        body = read_exact(conn, length)
        assert ver_cmd == 0x21, ver_cmd
        if fam == 0x11:
            src, dst = socket.inet_ntop(socket.AF_INET, body[0:4]), socket.inet_ntop(socket.AF_INET, body[4:8])
            sport, dport = struct.unpack("!HH", body[8:12])
            return (2, src, sport, dst, dport), b""
        return (2, None, 0, None, 0), b""
    line = first
    while not line.endswith(b"\r\n"):
        line += read_exact(conn, 1)
        assert len(line) <= 107
    parts = line.decode().split()
    return (1, parts[2], int(parts[4]), parts[3], int(parts[5])), b""


class HeaderBackend(Listener):
    """Accepts connections, parses an optional PROXY header, records it, and answers
    "<what followed>" back to the client."""

    def __init__(self):
        self.headers = []
        self.listen()

    def one(self, conn):
        try:
            conn.settimeout(5 * SLOW)
            header, rest = parse_header(conn)
            self.headers.append(header)
            rest += read_exact(conn, 5 - len(rest))
            conn.sendall(b"got:" + rest)
        except (OSError, EOFError, AssertionError) as e:
            self.headers.append(("error", str(e)))
        finally:
            conn.close()


def exchange(port, timeout=5 * SLOW):
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        c.sendall(b"hello")
        data = b""
        while len(data) < 9:
            chunk = c.recv(64)
            if not chunk:
                break
            data += chunk
        return c.getsockname()[1], data
    finally:
        c.close()


def test_proxy_protocol_versions_reach_the_backend(tmp_path, procs):
    back = HeaderBackend()
    a = back.address
    cfg = ("tcp:\n  routers:\n"
           "    r1: {rule: \"HostSNI(`*`)\", service: s1, entryPoints: [pp1]}\n"
           "    r2: {rule: \"HostSNI(`*`)\", service: s2, entryPoints: [pp2]}\n"
           "    r3: {rule: \"HostSNI(`*`)\", service: s3, entryPoints: [pplb]}\n"
           "    r4: {rule: \"HostSNI(`*`)\", service: s4, entryPoints: [plain]}\n"
           "    r5: {rule: \"HostSNI(`*`)\", service: s5, entryPoints: [lbonly]}\n"
           "  services:\n"
           "    s1: {loadBalancer: {serversTransport: v1, servers: [{address: \"%s\"}]}}\n"
           "    s2: {loadBalancer: {serversTransport: v2default, servers: [{address: \"%s\"}]}}\n"
           "    s3: {loadBalancer: {proxyProtocol: {version: 1}, serversTransport: v2default, servers: [{address: \"%s\"}]}}\n"
           "    s4: {loadBalancer: {servers: [{address: \"%s\"}]}}\n"
           "    s5: {loadBalancer: {proxyProtocol: {version: 1}, servers: [{address: \"%s\"}]}}\n"
           "  serversTransports:\n"
           "    v1: {proxyProtocol: {version: 1}}\n"
           "    v2default: {proxyProtocol: {}}\n" % (a, a, a, a, a))
    g = procs.gantry(tmp_path, cfg, entrypoints=ENTRYPOINTS)
    # pplb: both set, the transport's version 2 wins; lbonly: no transport, the loadBalancer's version 1
    expected = {"pp1": 1, "pp2": 2, "pplb": 2, "plain": None, "lbonly": 1}
    for ep, version in expected.items():
        cport, answer = exchange(g.ports[ep])
        assert answer == b"got:hello", (ep, answer, back.headers)
        if version is None:  # no header: the client's bytes come first (the readiness probes' connections too)
            assert None in back.headers, back.headers
            continue
        want = (version, "127.0.0.1", cport, "127.0.0.1", g.ports[ep])
        assert want in back.headers, (ep, want, back.headers)


def test_named_transport_without_proxy_protocol_overrides_the_load_balancer(tmp_path, procs):
    """loadBalancer.proxyProtocol with a serversTransport that has none: no
    header at all (Traefik v3 takes the transport's, unset), and a warning
    says the loadBalancer option is ignored."""
    back = HeaderBackend()
    cfg = ("tcp:\n  routers:\n"
           "    r: {rule: \"HostSNI(`*`)\", service: s, entryPoints: [trnone]}\n"
           "  services:\n"
           "    s: {loadBalancer: {proxyProtocol: {version: 2}, serversTransport: bare, servers: [{address: \"%s\"}]}}\n"
           "  serversTransports:\n"
           "    bare: {dialTimeout: 5s}\n" % back.address)
    g = procs.gantry(tmp_path, cfg, entrypoints=ENTRYPOINTS)
    g.wait_log(r"tcp service 's@file': loadBalancer.proxyProtocol is ignored: its serversTransport's applies")
    for _ in range(2):
        _, answer = exchange(g.ports["trnone"])
        assert answer == b"got:hello", (answer, back.headers)
    # (a readiness probe's connection, closed before any byte, is recorded as an error)
    assert back.headers.count(None) >= 2 and not any(h and h[0] in (1, 2) for h in back.headers), back.headers


def test_proxy_protocol_version_out_of_range_keeps_the_last_good_file(tmp_path, procs):
    back = HeaderBackend()
    good = ("tcp:\n  routers:\n"
            "    r: {rule: \"HostSNI(`*`)\", service: s, entryPoints: [pp1]}\n"
            "  services:\n"
            "    s: {loadBalancer: {serversTransport: pp, servers: [{address: \"%s\"}]}}\n"
            "  serversTransports:\n"
            "    pp: {proxyProtocol: {version: %d}}\n")
    g = procs.gantry(tmp_path, good % (back.address, 1), entrypoints=ENTRYPOINTS)
    cport, answer = exchange(g.ports["pp1"])
    assert answer == b"got:hello" and (1, "127.0.0.1", cport, "127.0.0.1", g.ports["pp1"]) in back.headers
    g.write(good % (back.address, 3))
    g.wait_log(r"3 is out of range \[1, 2\] \(tcp serversTransport 'pp'\)")
    # the API is a projection computed after the table is built: it follows the log line
    wait_for(lambda: "3 is out of range [1, 2] (tcp serversTransport 'pp')" in "\n".join(g.api("/api/overview")["problems"]),
             what="the problem in /api/overview")
    # the last good file keeps serving, header included
    cport, answer = exchange(g.ports["pp1"])
    assert answer == b"got:hello" and (1, "127.0.0.1", cport, "127.0.0.1", g.ports["pp1"]) in back.headers, back.headers
