"""tcp.serversTransports (Traefik's TCP servers transports) against the real
binary: a service's dialTimeout bounds the connect to a backend that never
answers (a loopback listener whose accept queue is full drops the SYN), and
the next server is tried; a transport asking for what gantry cannot do for
TCP (tls.spiffe), or one that does not exist, refuses its services
and their routers, named in the API. The static tcpServersTransport
(Traefik's default@internal) dials the services that name no transport:
its dialTimeout and dialKeepAlive (keep-alive probes seen with ss on
gantry's socket to the server), not those of a service's own transport.
"""
import re
import socket
import subprocess
import time

from conftest import SLOW, wait_for
from tcp_peers import EchoServer
from test_tcp_weighted import banner_of

ENTRYPOINTS = ("web", "tcpep")


def silent_backend():
    """A loopback listener that never completes a handshake: backlog 0, its
    queue filled by connections nobody accepts, so later SYNs are dropped."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(0)
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(s.getsockname())
        fillers.append(c)
    time.sleep(0.2)
    return s, fillers, "127.0.0.1:%d" % s.getsockname()[1]


def test_dial_timeout_and_refused_transports(tmp_path, procs):
    echo = EchoServer(banner=b"E\n")
    silent, fillers, silent_addr = silent_backend()
    cfg = ("tcp:\n  routers:\n"
           "    main: {rule: \"HostSNI(`*`)\", service: svc, entryPoints: [tcpep]}\n"
           "    withtls: {rule: \"HostSNI(`t.test`)\", service: tlsback, tls: {passthrough: true}, entryPoints: [web]}\n"
           "    nosuch: {rule: \"HostSNI(`n.test`)\", service: ghost, tls: {passthrough: true}, entryPoints: [web]}\n"
           "  services:\n"
           "    svc: {loadBalancer: {serversTransport: quick, servers: [{address: \"%s\"}, {address: \"%s\"}]}}\n"
           "    tlsback: {loadBalancer: {serversTransport: totls, servers: [{address: \"%s\"}]}}\n"
           "    ghost: {loadBalancer: {serversTransport: absent, servers: [{address: \"%s\"}]}}\n"
           "    split: {weighted: {services: [{name: svc}, {name: tlsback}]}}\n"
           "  serversTransports:\n"
           "    quick: {dialTimeout: 300ms}\n"
           "    totls: {dialTimeout: 1s, tls: {serverName: backend.internal, spiffe: {trustDomain: example.org}}}\n"
           % (silent_addr, echo.address, echo.address, echo.address))
    g = procs.gantry(tmp_path, cfg, entrypoints=ENTRYPOINTS)
    times = []
    for _ in range(4):
        t0 = time.monotonic()
        assert banner_of(g.ports["tcpep"]) == b"E"
        times.append(time.monotonic() - t0)
    # round robin starts on the silent server for some connections: they wait the 300 ms, then reach the echo
    assert max(times) >= 0.28, times
    assert max(times) < 3 * SLOW, times
    problems = "\n".join(g.api("/api/overview")["problems"])
    assert "tcp service 'tlsback@file': serversTransport 'totls@file': tls.spiffe is not supported by gantry for TCP" in problems
    assert "tcp router 'withtls@file': tcp service 'tlsback@file' is not served" in problems, problems
    assert "tcp service 'ghost@file': serversTransport 'absent@file' does not exist" in problems, problems
    assert "tcp service 'split@file': weighted: tcp service 'tlsback@file' is not served: serversTransport" in problems
    silent.close()
    for c in fillers:
        c.close()


def keepalive_timers(server_port):
    """The keep-alive timers (seconds left) of the established sockets whose
    peer is 127.0.0.1:<server_port> (gantry's side of its server connections).
    ss prints seconds as "7sec" or, with millisecond digits, "6.696ms"."""
    out = subprocess.run(["ss", "-tnoH", "state", "established", "dport", "= :%d" % server_port],
                         capture_output=True, text=True, check=True).stdout
    return [float(t) for t in re.findall(r"timer:\(keepalive,([0-9.]+)(?:sec|ms)", out)], out


def test_static_tcp_servers_transport_is_the_default(tmp_path, procs):
    plain, own = EchoServer(banner=b"P\n"), EchoServer(banner=b"O\n")
    silent, fillers, silent_addr = silent_backend()
    cfg = ("tcp:\n  routers:\n"
           "    main: {rule: \"HostSNI(`*`)\", service: svc, entryPoints: [tcpep]}\n"
           "    other: {rule: \"HostSNI(`*`)\", service: named, entryPoints: [web]}\n"
           "  services:\n"
           "    svc: {loadBalancer: {servers: [{address: \"%s\"}, {address: \"%s\"}]}}\n"
           "    named: {loadBalancer: {serversTransport: nokeepalive, servers: [{address: \"%s\"}]}}\n"
           "  serversTransports:\n"
           "    nokeepalive: {dialKeepAlive: -1s}\n" % (silent_addr, plain.address, own.address))
    g = procs.gantry(tmp_path, cfg, entrypoints=ENTRYPOINTS,
                     args=("--tcpServersTransport.dialTimeout=300ms", "--tcpServersTransport.dialKeepAlive=7s"))
    times = []
    for _ in range(4):
        t0 = time.monotonic()
        assert banner_of(g.ports["tcpep"]) == b"P"
        times.append(time.monotonic() - t0)
    # the silent server is tried first by some connections: the static 300 ms (not Traefik's 30 s default) ends it
    assert 0.28 <= max(times) < 3 * SLOW, times

    held = []
    for ep, banner in (("tcpep", b"P\n"), ("web", b"O\n")):
        c = socket.create_connection(("127.0.0.1", g.ports[ep]), timeout=5 * SLOW)
        held.append(c)
        got = b""
        while not got.endswith(b"\n"):  # the relay is up: the server's banner came through
            chunk = c.recv(16)
            assert chunk, got
            got += chunk
        assert got == banner, got
    # dialKeepAlive 7s from the static section; the named transport's -1s turns it off
    wait_for(lambda: keepalive_timers(plain.port)[0], what="a keep-alive timer on gantry's connection to the server")
    timers, out = keepalive_timers(plain.port)
    assert timers and all(5.0 <= t <= 7.0 for t in timers), out
    timers, out = keepalive_timers(own.port)
    assert timers == [] and out.strip(), out
    for c in held:
        c.close()
    silent.close()
    for c in fillers:
        c.close()


def test_static_tcp_servers_transport_spiffe_refuses_the_services_using_it(tmp_path, procs):
    echo = EchoServer(banner=b"E\n")
    cfg = ("tcp:\n  routers:\n"
           "    main: {rule: \"HostSNI(`*`)\", service: svc, entryPoints: [tcpep]}\n"
           "    other: {rule: \"HostSNI(`*`)\", service: named, entryPoints: [web]}\n"
           "  services:\n"
           "    svc: {loadBalancer: {servers: [{address: \"%s\"}]}}\n"
           "    named: {loadBalancer: {serversTransport: own, servers: [{address: \"%s\"}]}}\n"
           "  serversTransports:\n"
           "    own: {dialTimeout: 2s}\n" % (echo.address, echo.address))
    g = procs.gantry(tmp_path, cfg, entrypoints=ENTRYPOINTS,
                     args=("--tcpServersTransport.tls.spiffe.trustDomain=example.org",))
    problems = "\n".join(g.api("/api/overview")["problems"])
    assert "tcp service 'svc@file': tcpServersTransport: tls.spiffe is not supported by gantry" in problems, problems
    assert "tcp router 'main@file': tcp service 'svc@file' is not served" in problems, problems
    assert banner_of(g.ports["web"]) == b"E"   # a service with a transport of its own is not concerned
