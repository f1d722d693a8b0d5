"""tcp.serversTransports (Traefik's TCP servers transports) against the real
binary: a service's dialTimeout bounds the connect to a backend that never
answers (a loopback listener whose accept queue is full drops the SYN), and
the next server is tried; a transport asking for what gantry cannot do for
TCP (tls.spiffe), or one that does not exist, refuses its services
and their routers, named in the API.
"""
import socket
import time

from conftest import SLOW
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
