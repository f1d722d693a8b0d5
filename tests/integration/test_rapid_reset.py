"""HTTP/2 Rapid Reset (CVE-2023-44487) against the real binary: a flood of
HEADERS+RST_STREAM pairs is cut after the per-connection budget, costs a
handful of upstream connections (not one per reset), and a parallel
h2load run on the same proxy completes every request.
"""
import re
import subprocess
import time

import h2.errors

from attack import H2Client, RecordingUpstream, metric
from conftest import SLOW, Nginx, get, service_yaml


def config(attacked, other):
    return ("http:\n  routers:\n"
            "    attacked: {rule: \"Host(`rr.test`)\", service: attacked}\n"
            "    other: {rule: \"Host(`ok.test`)\", service: other}\n"
            "  services:\n" + service_yaml("attacked", [attacked.url]) + service_yaml("other", [other.url]))


def flood(port, pairs, batch=100):
    """Sends HEADERS+RST_STREAM pairs until the server closes; returns the
    number of pairs written and whether a GOAWAY or EOF was seen."""
    c = H2Client(port)
    sent = 0
    closed = False
    try:
        while sent < pairs:
            for _ in range(batch):
                sid = c.conn.get_next_available_stream_id()
                c.conn.send_headers(sid, [(":method", "GET"), (":path", "/x"), (":scheme", "http"),
                                          (":authority", "rr.test")], end_stream=True)
                c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
                sent += 1
            c.sock.sendall(c.conn.data_to_send())
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    if not closed:  # drain what the server sent: a GOAWAY, then EOF
        c.sock.settimeout(5 * SLOW)
        try:
            while c.sock.recv(65536):
                pass
            closed = True
        except (ConnectionResetError, BrokenPipeError):
            closed = True
        except OSError:
            pass
    c.close()
    return sent, closed


def test_rapid_reset_flood_is_cut_without_churning_upstream_connections(tmp_path, procs):
    attacked = RecordingUpstream(delay=0.2)  # answers after the client reset
    ng = procs.add(Nginx(tmp_path))
    g = procs.gantry(tmp_path, config(attacked, ng), args=["--entryPoints.web.http2.maxResetStreams=100"])
    assert get(g.port, "/", "ok.test")[0] == 200

    bench = subprocess.Popen(["h2load", "-n", "20000", "-c", "4", "-m", "10", "-H", ":authority: ok.test",
                              "http://127.0.0.1:%d/" % g.port], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.2)
    results = []
    for _ in range(3):  # three attacking connections, one after the other
        results.append(flood(g.port, 20000))
    out = bench.communicate(timeout=120)[0].decode()
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed", out)
    assert m, out
    total, succeeded, failed = int(m.group(1)), int(m.group(4)), int(m.group(5))

    cut = metric(g, "gantry_connections_closed_total", reason="rapid_reset")
    opened = metric(g, "gantry_server_connections_opened_total", url=attacked.url)
    reached = len(attacked.requests)
    print("rapid reset: pairs written per connection %s; connections cut %d; upstream connections opened %d "
          "(upstream saw %d requests); parallel h2load %d/%d succeeded, %d failed"
          % ([s for s, _ in results], cut, opened, reached, succeeded, total, failed))
    assert all(closed for _, closed in results)
    assert cut == 3
    assert succeeded == total == 20000 and failed == 0
    # 300 resets processed at most (100 per connection, then the cut): before
    # the fix each one cost a new upstream connection
    assert opened <= 20, opened
    attacked.stop()


def test_reset_budget_is_per_connection_and_windowed(tmp_path, procs):
    """A client that cancels now and then (a browser navigating away) is
    never cut: only bursts over the budget within 10 s are."""
    up = RecordingUpstream(delay=0.1)
    g = procs.gantry(tmp_path, config(up, up), args=["--entryPoints.web.http2.maxResetStreams=20"])
    c = H2Client(g.port)
    for i in range(15):  # 15 cancels, under the budget
        sid = c.request("/x", "rr.test")
        c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        c.flush()
    status, body, _ = c.response(c.request("/y", "rr.test"))
    assert status == 200 and body == b"ok"
    c.close()
    assert metric(g, "gantry_connections_closed_total", reason="rapid_reset") == 0
    up.stop()


def test_streams_per_second_cap_answers_429(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, config(up, up), args=["--entryPoints.web.http2.maxStreamsPerSecond=50"])
    c = H2Client(g.port)
    statuses = []
    # batches stay under the 100 concurrent streams the connection allows
    # (more would be refused with RST_STREAM under a slow, sanitized build)
    for _ in range(3):
        sids = [c.request("/", "rr.test") for _ in range(40)]
        statuses += [c.response(sid, timeout=5.0 * SLOW)[0] for sid in sids]
    c.close()
    ok, limited = statuses.count(200), statuses.count(429)
    print("stream rate: %d answered, %d refused with 429, others %s"
          % (ok, limited, [s for s in statuses if s not in (200, 429)]))
    assert ok + limited == 120 and 50 <= ok < 120 and limited > 0
    assert len(up.requests) == ok  # refused streams cost nothing upstream
    up.stop()
