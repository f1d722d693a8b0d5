"""entryPoints.<name>.proxyProtocol (Traefik's keys): a load balancer's
PROXY header (v1 text, v2 binary) ahead of HTTP, HTTPS or TCP; its source
is the client's address (X-Forwarded-For, ipAllowList) when the balancer is
in trustedIPs (or insecure), and is read and dropped otherwise; a
connection without a header is served as it is; a bad header closes it.
"""
import socket
import ssl
import struct

from attack import RecordingUpstream
from conftest import get, service_yaml, wait_for

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_header(src, sport=4242, dst="127.0.0.1", dport=80):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return V2_SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def exchange(port, head, request, tls=False, host="pp.test"):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(head)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s, server_hostname=host)
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            d = s.recv(65536)
            if not d:
                break
            data += d
        return data
    except (ConnectionError, ssl.SSLError, socket.timeout):
        return b""
    finally:
        s.close()


def status(data):
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None


def xff(up):
    for line in up.requests[-1][0].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"x-forwarded-for":
            return v.strip().decode()
    return None


REQ = b"GET / HTTP/1.1\r\nHost: pp.test\r\nConnection: close\r\n\r\n"


def config(up):
    return ("http:\n  routers:\n"
            "    r: {rule: \"Host(`pp.test`)\", service: app}\n"
            "    s: {rule: \"Host(`pp.test`)\", service: app, tls: {}}\n"
            "    only: {rule: \"Host(`only.test`)\", service: app, middlewares: [doc]}\n"
            "  middlewares:\n"
            "    doc: {ipAllowList: {sourceRange: [\"203.0.113.0/24\"]}}\n"
            "  services:\n" + service_yaml("app", [up.url]))


def test_trusted_balancer_gives_the_client_address(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, config(up), args=["--entryPoints.web.proxyProtocol.trustedIPs=127.0.0.1/32"])
    wait_for(lambda: get(g.port, "/", "pp.test")[0] == 200, what="route live")  # no header: served as it is
    assert xff(up) == "127.0.0.1"
    v1 = b"PROXY TCP4 203.0.113.9 127.0.0.1 51000 80\r\n"
    assert status(exchange(g.port, v1, REQ)) == 200 and xff(up) == "203.0.113.9"
    assert status(exchange(g.port, v2_header("203.0.113.77"), REQ, tls=True)) == 200 and xff(up) == "203.0.113.77"
    # the allow-list sees the client, not the balancer
    only = REQ.replace(b"pp.test", b"only.test")
    assert status(exchange(g.port, b"PROXY TCP4 203.0.113.5 127.0.0.1 1 80\r\n", only)) == 200
    assert status(exchange(g.port, b"PROXY TCP4 198.51.100.5 127.0.0.1 1 80\r\n", only)) == 403
    # a header that cannot be read closes the connection, nothing reaches the upstream
    n = len(up.requests)
    assert exchange(g.port, b"PROXY TCP4 nonsense\r\n", REQ) == b""
    assert len(up.requests) == n


def test_untrusted_balancer_header_is_dropped(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, config(up), args=["--entryPoints.web.proxyProtocol.trustedIPs=10.0.0.0/8"])
    wait_for(lambda: get(g.port, "/", "pp.test")[0] == 200, what="route live")
    assert status(exchange(g.port, b"PROXY TCP4 203.0.113.9 127.0.0.1 51000 80\r\n", REQ)) == 200
    assert xff(up) == "127.0.0.1"
    assert status(exchange(g.port, b"PROXY TCP4 203.0.113.5 127.0.0.1 1 80\r\n", REQ.replace(b"pp.test", b"only.test"))) == 403


def test_insecure_trusts_every_balancer(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, config(up), args=["--entryPoints.web.proxyProtocol.insecure=true"])
    wait_for(lambda: get(g.port, "/", "pp.test")[0] == 200, what="route live")
    assert status(exchange(g.port, v2_header("192.0.2.44"), REQ)) == 200 and xff(up) == "192.0.2.44"


def test_tcp_routers_see_the_client_behind_the_balancer(tmp_path, procs):
    """A server-first TCP service behind the balancer: after the header the
    connection is routed at once (the banner comes without a client byte),
    and the TCP ipAllowList judges the header's source."""
    from tcp_peers import EchoServer
    echo = EchoServer(banner=b"220 ready\r\n")
    g = procs.gantry(tmp_path, "tcp:\n  routers:\n"
                     "    t: {rule: \"HostSNI(`*`)\", service: t, entryPoints: [tcpep], middlewares: [doc]}\n"
                     "  middlewares:\n"
                     "    doc: {ipAllowList: {sourceRange: [\"203.0.113.0/24\"]}}\n"
                     "  services:\n"
                     "    t: {loadBalancer: {servers: [{address: \"%s\"}]}}\n" % echo.address,
                     entrypoints=("web", "tcpep"), args=["--entryPoints.tcpep.proxyProtocol.trustedIPs=127.0.0.1"])
    g.wait_ready()

    def banner(src):
        s = socket.create_connection(("127.0.0.1", g.ports["tcpep"]), timeout=5)
        try:
            s.sendall(b"PROXY TCP4 %s 127.0.0.1 1000 25\r\n" % src.encode())
            return s.recv(100)
        except (ConnectionError, socket.timeout):
            return b""
        finally:
            s.close()

    wait_for(lambda: banner("203.0.113.8") == b"220 ready\r\n", what="tcp route live")
    before = echo.connections
    assert banner("198.51.100.8") == b""
    assert echo.connections == before
