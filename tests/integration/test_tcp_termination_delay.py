"""Traefik's TCP terminationDelay against the real binary: once the client
has ended its stream (shutdown(SHUT_WR)), the server's answer may still
flow for terminationDelay, then both sides are closed. Real sockets on
both ends: a server that answers in timed steps after the client's end of
stream, a client that half-closes and times what it gets until EOF.
Cases: Traefik's default (100ms), a transport's duration, the deprecated
loadBalancer.terminationDelay (milliseconds), the transport winning over
it, and a negative value (no limit).
"""
import socket
import threading
import time

from conftest import SLOW
from tcp_peers import Listener

ENTRYPOINTS = ("web", "dflt", "tr", "lbms", "prec", "forever")


class TimedServer(Listener):
    """Answers "early" to the client's first bytes; after the client's end
    of stream sends each (seconds, bytes) step of <steps> at its time, then
    closes <close_after> seconds after that end of stream. A connection
    without bytes (a readiness probe) is just closed."""

    def __init__(self, steps, close_after):
        self.steps = steps
        self.close_after = close_after
        self.sessions = 0
        self.listen()

    def one(self, conn):
        try:
            conn.settimeout(10 * SLOW)
            if not conn.recv(64):
                return
            self.sessions += 1
            conn.sendall(b"early;")
            while conn.recv(64):
                pass
            t0 = time.monotonic()
            for at, chunk in self.steps:
                time.sleep(max(0.0, t0 + at - time.monotonic()))
                conn.sendall(chunk)
            time.sleep(max(0.0, t0 + self.close_after - time.monotonic()))
        except OSError:
            pass  # gantry closed the connection after the delay: later steps fail, as they should
        finally:
            conn.close()


def half_closed_session(port):
    """Sends, waits for the server's first answer, half-closes, and reads
    to EOF: (bytes after "early;", seconds from the half-close to EOF)."""
    c = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
    try:
        c.sendall(b"hi")
        got = b""
        while not got.startswith(b"early;"):
            chunk = c.recv(64)
            assert chunk, got
            got += chunk
        c.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        rest = got[len(b"early;"):]
        while True:
            try:
                chunk = c.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            rest += chunk
        return rest, time.monotonic() - t0
    finally:
        c.close()


def test_termination_delay_bounds_the_other_direction(tmp_path, procs):
    servers = {
        # default 100ms: what comes 600ms after the client's end of stream is cut off
        "dflt": TimedServer([(0.6, b"late")], close_after=1.0),
        # transport terminationDelay: 1s: 300ms in arrives, 1.8s in does not
        "tr": TimedServer([(0.3, b"late"), (1.8, b"toolate")], close_after=2.2),
        # deprecated loadBalancer.terminationDelay: 700 (milliseconds)
        "lbms": TimedServer([(0.3, b"late"), (1.5, b"toolate")], close_after=2.0),
        # loadBalancer.terminationDelay 5000 and a transport with 300ms: the transport wins (Traefik v3)
        "prec": TimedServer([(0.1, b"late"), (1.2, b"toolate")], close_after=1.6),
        # negative: no limit, the server's own close ends it
        "forever": TimedServer([(0.4, b"late"), (1.4, b"last")], close_after=1.5),
    }
    a = {ep: s.address for ep, s in servers.items()}
    cfg = ("tcp:\n  routers:\n" + "".join(
        "    %s: {rule: \"HostSNI(`*`)\", service: %s, entryPoints: [%s]}\n" % (ep, ep, ep) for ep in servers) +
        "  services:\n"
        "    dflt: {loadBalancer: {servers: [{address: \"%s\"}]}}\n"
        "    tr: {loadBalancer: {serversTransport: onesec, servers: [{address: \"%s\"}]}}\n"
        "    lbms: {loadBalancer: {terminationDelay: 700, servers: [{address: \"%s\"}]}}\n"
        "    prec: {loadBalancer: {terminationDelay: 5000, serversTransport: short, servers: [{address: \"%s\"}]}}\n"
        "    forever: {loadBalancer: {serversTransport: nolimit, servers: [{address: \"%s\"}]}}\n"
        "  serversTransports:\n"
        "    onesec: {terminationDelay: 1s}\n"
        "    short: {terminationDelay: 300ms}\n"
        "    nolimit: {terminationDelay: -1s}\n"
        % (a["dflt"], a["tr"], a["lbms"], a["prec"], a["forever"]))
    g = procs.gantry(tmp_path, cfg, entrypoints=ENTRYPOINTS)

    results = {}

    def run(ep):
        results[ep] = half_closed_session(g.ports[ep])

    threads = [threading.Thread(target=run, args=(ep,)) for ep in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15 * SLOW)
    slack = 0.35 * SLOW  # timers and scheduling on a shared machine

    rest, took = results["dflt"]
    assert rest == b"" and took < 0.1 + slack, results["dflt"]
    rest, took = results["tr"]
    assert rest == b"late" and 1.0 - 0.05 <= took < 1.0 + slack, results["tr"]
    rest, took = results["lbms"]
    assert rest == b"late" and 0.7 - 0.05 <= took < 0.7 + slack, results["lbms"]
    rest, took = results["prec"]
    assert rest == b"late" and 0.3 - 0.05 <= took < 0.3 + slack, results["prec"]
    rest, took = results["forever"]
    assert rest == b"latelast" and took >= 1.4, results["forever"]
    assert all(s.sessions == 1 for s in servers.values()), {ep: s.sessions for ep, s in servers.items()}

    # the API shows the deprecated loadBalancer value as given
    svcs = {s["name"]: s for s in g.api("/api/tcp/services")}
    assert svcs["lbms@file"]["loadBalancer"]["terminationDelay"] == 700, svcs["lbms@file"]


def test_bad_termination_delay_keeps_the_last_good_file(tmp_path, procs):
    srv = TimedServer([(0.3, b"late")], close_after=0.8)
    good = ("tcp:\n  routers:\n"
            "    r: {rule: \"HostSNI(`*`)\", service: s, entryPoints: [tr]}\n"
            "  services:\n"
            "    s: {loadBalancer: {serversTransport: t, servers: [{address: \"%s\"}]}}\n"
            "  serversTransports:\n"
            "    t: {terminationDelay: %s}\n")
    g = procs.gantry(tmp_path, good % (srv.address, "1s"), entrypoints=ENTRYPOINTS)
    assert half_closed_session(g.ports["tr"])[0] == b"late"
    g.write(good % (srv.address, "soon"))
    g.wait_log(r"got 'soon'")
    # the last good file keeps serving with its 1s delay
    rest, took = half_closed_session(g.ports["tr"])
    assert rest == b"late" and took >= 0.75, (rest, took)
