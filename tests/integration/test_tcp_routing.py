"""TCP routing by SNI against the real binary and real peers: TLS
passthrough to two nginx backends chosen by the ClientHello (curl verifies
each backend's own certificate), TLS termination with plain TCP to an echo
server, HTTP and TCP routers sharing one TLS entry point, a plain TCP entry
point with HostSNI(`*`) (a server-first protocol works), half-close, a large
transfer through splice, and clients that send nothing or a partial hello
cut off while others are served.
"""
import hashlib
import socket
import ssl
import time

from attack import metric
from conftest import SLOW, run, service_yaml, wait_for
from tcp_peers import EchoServer, TlsNginx
from test_tls import peer_names
from tls_certs import make_cert

ENTRYPOINTS = ("web", "websecure", "tcpep")


def config(app, pass_a, pass_b, echo, banner, cert_dir, extra=""):
    return ("http:\n  routers:\n"
            "    h: {rule: \"Host(`h.test`)\", service: app, tls: {}, entryPoints: [websecure]}\n"
            "  services:\n" + service_yaml("app", [app.url]) +
            "tcp:\n  routers:\n"
            "    pass-a: {rule: \"HostSNI(`a.pass.test`)\", service: pa, tls: {passthrough: true}, entryPoints: [websecure]}\n"
            "    pass-b: {rule: \"HostSNI(`*.wild.test`, `b.pass.test`)\", service: pb, tls: {passthrough: true},"
            " entryPoints: [websecure]}\n"
            "    term: {rule: \"HostSNI(`term.test`)\", service: echo, tls: {}, entryPoints: [websecure]}\n"
            "    plain: {rule: \"HostSNI(`*`)\", service: banner, entryPoints: [tcpep]}\n" + extra +
            "  services:\n"
            "    pa: {loadBalancer: {servers: [{address: \"%s\"}]}}\n"
            "    pb: {loadBalancer: {servers: [{address: \"%s\"}]}}\n"
            "    echo: {loadBalancer: {servers: [{address: \"%s\"}]}}\n"
            "    banner: {loadBalancer: {servers: [{address: \"%s\"}]}}\n"
            "tls:\n  certificates:\n"
            "    - {certFile: %s/h.test.crt, keyFile: %s/h.test.key}\n"
            "    - {certFile: %s/term.test.crt, keyFile: %s/term.test.key}\n"
            % (pass_a.address, pass_b.address, echo.address, banner.address, cert_dir, cert_dir, cert_dir, cert_dir))


def start(tmp_path, procs, args=(), extra=""):
    d = str(tmp_path)
    for name in ("h.test", "term.test"):
        make_cert(d, name)
    a = procs.add(TlsNginx(tmp_path, "backend-a", *make_cert(d, "a.pass.test"), big_mb=20))
    b = procs.add(TlsNginx(tmp_path, "backend-b", *make_cert(d, "b.pass.test", ["b.pass.test", "*.wild.test"])))
    echo, banner = EchoServer(), EchoServer(banner=b"220 banner first\r\n")
    app = procs.whoami()
    g = procs.gantry(tmp_path, config(app, a, b, echo, banner, d, extra), entrypoints=ENTRYPOINTS, args=list(args))
    g.backend_a = a
    return g, d + "/ca.crt", echo, banner


def curl(g, ca, host, path="/", extra=()):
    port = g.ports["websecure"]
    return run(["curl", "-s", "--cacert", ca, "--resolve", "%s:%d:127.0.0.1" % (host, port),
                "https://%s:%d%s" % (host, port, path), *extra], timeout=60)


def tls_client(port, sni, cafile=None):
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
    if not cafile:
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
    return ctx.wrap_socket(s, server_hostname=sni)


def recv_all(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_passthrough_termination_and_http_share_an_entry_point(tmp_path, procs):
    g, ca, echo, banner = start(tmp_path, procs)
    port = g.ports["websecure"]
    # passthrough: the backend's own certificate reaches the client, which verifies it
    assert curl(g, ca, "a.pass.test").stdout == b"backend-a\n"
    assert curl(g, ca, "b.pass.test").stdout == b"backend-b\n"
    assert curl(g, ca, "x.wild.test").stdout == b"backend-b\n"  # one-label wildcard
    assert "DNS:a.pass.test" in peer_names(port, "a.pass.test")
    assert "DNS:*.wild.test" in peer_names(port, "x.wild.test")
    # HTTP router with TLS on the same entry point: gantry's certificate and h2
    r = curl(g, ca, "h.test", "/?format=json", ["--http2", "-w", "\n%{http_version}"])
    assert b'"method": "GET"' in r.stdout and r.stdout.endswith(b"\n2"), r.stdout[-200:]
    # an SNI no TCP router wants goes to the HTTP side (404 there)
    assert curl(g, ca, "nobody.test", extra=["-k", "-o", "/dev/null", "-w", "%{http_code}"]).stdout == b"404"
    # termination: gantry's certificate for term.test, plain TCP to the echo server
    with tls_client(port, "term.test", ca) as t:
        assert "term.test" in str(t.getpeercert()["subjectAltName"])
        t.sendall(b"ping over tls\n")
        assert recv_all(t, 14) == b"ping over tls\n"
    assert echo.received >= 14
    assert metric(g, "gantry_tcp_connections_total") >= 6


def test_plain_tcp_catch_all_server_first_and_half_close(tmp_path, procs):
    g, ca, echo, banner = start(tmp_path, procs)
    port = g.ports["tcpep"]
    with socket.create_connection(("127.0.0.1", port), timeout=5 * SLOW) as s:
        # routed at accept: the backend's greeting arrives before we send anything
        assert recv_all(s, 18) == b"220 banner first\r\n"
        payload = bytes(range(256)) * 4096  # 1 MiB
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)  # half-close: the echo must still come back in full
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        assert got == payload
    # TLS bytes on a plain catch-all are forwarded too (HostSNI(`*`) takes everything)
    assert banner.connections >= 1


def test_large_transfer_through_passthrough(tmp_path, procs):
    g, ca, echo, banner = start(tmp_path, procs)
    want = hashlib.sha256(open(g.backend_a.dir + "/big", "rb").read()).hexdigest()
    t0 = time.monotonic()
    r = curl(g, ca, "a.pass.test", "/big", ["-o", str(tmp_path / "big.out")])
    took = time.monotonic() - t0
    got = hashlib.sha256((tmp_path / "big.out").read_bytes()).hexdigest()
    print("passthrough: 20 MiB in %.2f s (%.0f MB/s)" % (took, 20 * 1.048576 / took))
    assert r.returncode == 0 and got == want


def test_silent_and_partial_hello_clients_are_cut_while_others_are_served(tmp_path, procs):
    g, ca, echo, banner = start(tmp_path, procs,
                                args=["--entryPoints.websecure.transport.respondingTimeouts.readTimeout=2s"])
    port = g.ports["websecure"]
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
    partial = socket.create_connection(("127.0.0.1", port))
    partial.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a hello that never completes
    # meanwhile everybody else is served
    for _ in range(5):
        assert curl(g, ca, "a.pass.test").stdout == b"backend-a\n"
        assert curl(g, ca, "h.test").returncode == 0
    t0 = time.monotonic()
    for s in silent + [partial]:
        s.settimeout(10 * SLOW)
        try:
            assert s.recv(1) == b""
        except ConnectionResetError:
            pass
    cut_after = time.monotonic() - t0
    print("51 silent/partial clients cut within %.2f s after the others were served" % cut_after)
    assert metric(g, "gantry_connections_closed_total", reason="hello_timeout") >= 51
    # garbage that looks like TLS is refused at once, counted
    bad = socket.create_connection(("127.0.0.1", port), timeout=5 * SLOW)
    bad.sendall(b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00")  # a ServerHello where a ClientHello belongs
    assert bad.recv(1) == b""
    assert metric(g, "gantry_connections_closed_total", reason="bad_client_hello") == 1
    assert curl(g, ca, "b.pass.test").stdout == b"backend-b\n"


def test_bad_tcp_routers_are_reported_and_the_rest_served(tmp_path, procs):
    extra = ("    nosni: {rule: \"HostSNI(`x.test`)\", service: echo, entryPoints: [tcpep]}\n"
             "    badrule: {rule: \"HostSNI(`a`) &&\", service: echo, tls: {passthrough: true}}\n"
             "    noservice: {rule: \"HostSNI(`n.test`)\", service: missing, tls: {passthrough: true}}\n"
             "    httpmatcher: {rule: \"Host(`a.test`)\", service: echo, tls: {passthrough: true}}\n")
    g, ca, echo, banner = start(tmp_path, procs, extra=extra)
    problems = "\n".join(g.api("/api/overview")["problems"])
    assert "tcp router 'nosni@file'" in problems and "only a TLS ClientHello carries" in problems
    assert "tcp router 'badrule@file'" in problems
    assert "tcp service 'missing@file' does not exist" in problems
    assert "tcp router 'httpmatcher@file'" in problems and "HostSNI" in problems
    assert curl(g, ca, "a.pass.test").stdout == b"backend-a\n"
    # a dead backend: the connection is closed, counted, the others go on
    g.write(config(procs.whoami(), *[type("x", (), {"address": "127.0.0.1:1"})()] * 2, echo, banner,
                   str(tmp_path)))
    wait_for(lambda: run(["curl", "-s", "--cacert", ca, "--resolve", "a.pass.test:%d:127.0.0.1" % g.ports["websecure"],
                          "https://a.pass.test:%d/" % g.ports["websecure"]], check=False).returncode != 0,
             what="dead backend")
    assert metric(g, "gantry_tcp_connect_failures_total") >= 1


def test_grpc_through_tls_passthrough(tmp_path, procs):
    """A real gRPC server (python3-grpcio) with its own certificate behind a
    passthrough router: the client's HTTP/2 and TLS go end to end."""
    import concurrent.futures
    import grpc

    d = str(tmp_path)
    crt, key = make_cert(d, "grpc.test")

    def say(request, context):
        return b"hello " + request + b" from " + dict(context.invocation_metadata()).get("who", "?").encode()

    handler = grpc.method_handlers_generic_handler("echo.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say)})
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials([(open(key, "rb").read(), open(crt, "rb").read())])
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    try:
        g = procs.gantry(tmp_path, "tcp:\n  routers:\n"
                         "    grpc: {rule: \"HostSNI(`grpc.test`)\", service: grpc, tls: {passthrough: true}}\n"
                         "  services:\n    grpc: {loadBalancer: {servers: [{address: \"127.0.0.1:%d\"}]}}\n" % port)
        channel = grpc.secure_channel("127.0.0.1:%d" % g.port,
                                      grpc.ssl_channel_credentials(root_certificates=open(d + "/ca.crt", "rb").read()),
                                      options=[("grpc.ssl_target_name_override", "grpc.test")])
        call = channel.unary_unary("/echo.Echo/Say")
        for i in range(20):  # one HTTP/2 connection, many calls
            assert call(b"gantry %d" % i, metadata=[("who", "grpc-server")], timeout=10 * SLOW) == \
                b"hello gantry %d from grpc-server" % i
        channel.close()
        assert metric(g, "gantry_tcp_connections_total") >= 1
    finally:
        server.stop(0)
