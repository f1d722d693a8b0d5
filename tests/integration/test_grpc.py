"""gRPC through the proxy with real peers (python3-grpcio client and
servers, grpc_peers.py): all four RPC kinds with metadata and trailers, front
h2c and TLS x back h2c and TLS, deadlines, cancellation reaching the upstream,
16 MiB messages, 1,000 RPCs over one channel balanced across 3 servers, no
server -> UNAVAILABLE as a gRPC status, full-duplex bidi streaming, upstream
multiplexing (10,000 calls from 100 connections on few upstream connections)
and upstream GOAWAY under load with no failed call.

GANTRY_TEST_STANDIN=nginx|haproxy|direct runs the same tests through a stand-in
(or none) to validate the tests themselves; the default is gantry."""
import hashlib
import os
import queue
import time

import pytest

from conftest import SLOW, free_port, run, run_dir, wait_for
from module_procs import ModuleProcs
from grpc_peers import PROXY, EchoServer, channel, start_front, stubs
from tls_certs import make_cert

import grpc  # noqa: E402 (after grpc_peers set GRPC_ENABLE_FORK_SUPPORT)

pb, pb_grpc = stubs(os.path.join(run_dir(), "grpc-stubs"))
STUB_DIR = os.path.join(run_dir(), "grpc-stubs")
MiB = 1024 * 1024


class Env:
    """Three echo servers (h2c or TLS) behind one proxy."""

    def __init__(self, tmp, procs, back):
        self.tmp = str(tmp)
        self.cert = make_cert(self.tmp, "grpc.test", ips=("127.0.0.1",))
        self.ca = os.path.join(self.tmp, "ca.crt")
        self.back = back
        self.servers = [EchoServer(procs, "%s-%d" % (back, i), self.cert if back == "tls" else None, STUB_DIR)
                        for i in range(3)]
        self.front = start_front(PROXY, tmp, procs, self.servers, self.cert, self.ca)

    def channel(self, front, **kw):
        port = self.front.tls_port if front == "tls" else self.front.h2c_port
        if port is None:
            pytest.skip("direct: the client speaks the server's own protocol only")
        return channel(port, self.ca if front == "tls" else None, **kw)

    def stub(self, front):
        ch = self.channel(front)
        return ch, pb_grpc.EchoStub(ch)

    def stats(self):
        return [s.stats(self.ca) for s in self.servers]


@pytest.fixture(scope="module", params=["back-h2c", "back-tls"])
def env(request, tmp_path_factory):
    procs = ModuleProcs()
    try:
        yield Env(tmp_path_factory.mktemp(request.param), procs, request.param[5:])
    finally:
        procs.stop_all()


FRONTS = ["front-h2c", "front-tls"]


def front_of(p):
    return p[6:]


@pytest.fixture(params=FRONTS)
def front(request):
    return front_of(request.param)


def md(call, which):
    return dict(getattr(call, which)())


def test_unary_with_metadata_and_trailers(env, front):
    ch, stub = env.stub(front)
    with ch:
        reply, call = stub.Unary.with_call(pb.EchoRequest(message="hi", payload=b"\x00\x01"),
                                           metadata=(("x-echo", "v1"), ("x-custom", "c")), timeout=10 * SLOW)
        assert reply.message == "hi" and reply.payload == b"\x00\x01"
        assert reply.metadata["x-echo"] == "v1" and reply.metadata["x-custom"] == "c"
        assert reply.metadata.get("te") in (None, "trailers")  # grpcio hides te; a proxy must not rewrite it
        initial, trailing = md(call, "initial_metadata"), md(call, "trailing_metadata")
        assert initial.get("x-initial") == reply.server and initial.get("x-echo-initial") == "v1", initial
        assert trailing.get("x-trailer") == reply.server and trailing.get("x-echo-trailer") == "v1", trailing
        assert call.code() == grpc.StatusCode.OK
        # an error status travels in the trailers, with its message and trailing metadata
        with pytest.raises(grpc.RpcError) as e:
            stub.Unary(pb.EchoRequest(message="nope", fail_code=grpc.StatusCode.NOT_FOUND.value[0]),
                       metadata=(("x-echo", "v2"),), timeout=10 * SLOW)
        assert e.value.code() == grpc.StatusCode.NOT_FOUND, e.value
        assert e.value.details() == "failed as asked: nope"
        assert dict(e.value.trailing_metadata()).get("x-echo-trailer") == "v2"


def test_server_streaming(env, front):
    ch, stub = env.stub(front)
    with ch:
        call = stub.ServerStream(pb.EchoRequest(message="s", count=5, reply_size=1000), metadata=(("x-echo", "ss"),),
                                 timeout=10 * SLOW)
        replies = list(call)
        assert [r.index for r in replies] == [0, 1, 2, 3, 4]
        assert all(len(r.payload) == 1000 and r.metadata["x-echo"] == "ss" for r in replies)
        assert md(call, "initial_metadata")["x-echo-initial"] == "ss"
        assert md(call, "trailing_metadata")["x-echo-trailer"] == "ss"
        assert call.code() == grpc.StatusCode.OK


def test_client_streaming(env, front):
    ch, stub = env.stub(front)
    with ch:
        msgs = [pb.EchoRequest(message="m%d" % i, payload=os.urandom(3000)) for i in range(10)]
        reply, call = stub.ClientStream.with_call(iter(msgs), metadata=(("x-echo", "cs"),), timeout=10 * SLOW)
        assert reply.message == "m9,10" and reply.index == 10 and reply.received_bytes == 30000
        assert md(call, "trailing_metadata")["x-echo-trailer"] == "cs"


def test_bidi_is_full_duplex(env, front):
    """The client sends message n+1 only after it got the reply to message n:
    this only completes if the proxy streams the request body to the
    upstream as it arrives and the response back while the request is open."""
    ch, stub = env.stub(front)
    with ch:
        q = queue.Queue()

        def requests():
            while True:
                m = q.get()
                if m is None:
                    return
                yield m

        q.put(pb.EchoRequest(message="0"))
        call = stub.Bidi(requests(), metadata=(("x-echo", "bd"),), timeout=20 * SLOW)
        got = []
        t0 = time.monotonic()
        for reply in call:
            got.append(reply.message)
            assert reply.index == len(got) - 1
            if len(got) == 20:
                q.put(None)
            else:
                q.put(pb.EchoRequest(message=str(len(got)), payload=b"p" * 100))
        assert got == [str(i) for i in range(20)], got
        assert call.code() == grpc.StatusCode.OK
        assert md(call, "trailing_metadata")["x-echo-trailer"] == "bd"
        assert time.monotonic() - t0 < 10 * SLOW


def test_deadline_exceeded_at_the_deadline(env, front):
    """grpc-timeout reaches the upstream (it sees at most the client's
    deadline) and the client gets DEADLINE_EXCEEDED at ~the deadline."""
    ch, stub = env.stub(front)
    tag = "deadline-%s-%s" % (env.back, front)
    with ch:
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as e:
            stub.Unary(pb.EchoRequest(message="slow", sleep_ms=5000, tag=tag), timeout=1.0)
        took = time.monotonic() - t0
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e.value
        assert 0.9 <= took < 1.0 + 0.5 * SLOW, took

    def upstream_saw():
        for s in env.stats():
            timeouts = [t for t in s.timeouts if t.startswith(tag + "=")]
            if timeouts and (tag in s.deadline_exceeded or tag in s.cancelled):
                return int(timeouts[0].split("=")[1])
        return None
    left_ms = wait_for(upstream_saw, 3, what="the upstream to see the deadline and stop")
    assert 0 < left_ms <= 1100, left_ms  # grpc-timeout is rounded up to its unit


def test_client_cancellation_reaches_the_upstream(env, front):
    ch, stub = env.stub(front)
    tag_stream, tag_unary = ("cancel-%s-%s-%s" % (k, env.back, front) for k in ("stream", "unary"))
    with ch:
        call = stub.ServerStream(pb.EchoRequest(message="c", count=200, sleep_ms=50, tag=tag_stream),
                                 timeout=30 * SLOW)
        it = iter(call)
        next(it), next(it)
        call.cancel()
        fut = stub.Unary.future(pb.EchoRequest(message="c", sleep_ms=10000, tag=tag_unary), timeout=30 * SLOW)
        time.sleep(0.3)
        fut.cancel()
        assert call.code() == grpc.StatusCode.CANCELLED
    for tag in (tag_stream, tag_unary):
        wait_for(lambda: any(tag in s.cancelled for s in env.stats()), 3, what="upstream to see %s cancelled" % tag)


def test_16mib_messages_both_ways(env, front):
    ch, stub = env.stub(front)
    payload = os.urandom(16 * MiB)
    with ch:
        reply = stub.Unary(pb.EchoRequest(message="big", payload=payload), timeout=60 * SLOW)
        assert hashlib.sha256(reply.payload).digest() == hashlib.sha256(payload).digest()
        reply = stub.Unary(pb.EchoRequest(message="big", reply_size=16 * MiB), timeout=60 * SLOW)
        assert len(reply.payload) == 16 * MiB and reply.payload == b"\x5a" * (16 * MiB)


def test_1000_unary_over_one_channel_balanced_across_3_servers(env):
    if PROXY == "direct":
        pytest.skip("direct: one server")
    ch, stub = env.stub("h2c")
    counts = {}
    with ch:
        # 20 in flight at a time on the one connection
        for _ in range(50):
            futs = [stub.Unary.future(pb.EchoRequest(message="b"), timeout=20 * SLOW) for _ in range(20)]
            for f in futs:
                s = f.result().server
                counts[s] = counts.get(s, 0) + 1
        # one client connection carried them all (grpcio: one channel, one subchannel)
        conns = run(["ss", "-Htn", "state", "established", "dst", "127.0.0.1:%d" % env.front.h2c_port]).stdout.split(b"\n")
        assert len([c for c in conns if c.strip()]) == 1, conns
    assert sum(counts.values()) == 1000
    assert sorted(counts) == sorted(s.name for s in env.servers), counts
    for name, n in counts.items():
        assert 300 <= n <= 367, counts  # 333 +- 10 %


def dead_env(tmp_path, procs, back):
    """A proxy whose only server is down (nothing listens on its port)."""
    class Dead:
        port = free_port()
        name = "dead"
        tls = back == "tls"
        scheme_url = ("https://127.0.0.1:%d" if tls else "h2c://127.0.0.1:%d") % port
    cert = make_cert(str(tmp_path), "grpc.test", ips=("127.0.0.1",))
    ca = os.path.join(str(tmp_path), "ca.crt")
    return start_front(PROXY, tmp_path, procs, [Dead()], cert, ca), ca


@pytest.mark.parametrize("back", ["h2c", "tls"])
def test_no_healthy_server_is_unavailable(tmp_path, procs, back):
    if PROXY == "direct":
        pytest.skip("direct: no proxy to answer")
    f, ca = dead_env(tmp_path, procs, back)
    for front in ("h2c", "tls"):
        port = f.tls_port if front == "tls" else f.h2c_port
        with channel(port, ca if front == "tls" else None) as ch:
            t0 = time.monotonic()
            with pytest.raises(grpc.RpcError) as e:
                pb_grpc.EchoStub(ch).Unary(pb.EchoRequest(message="x"), timeout=10 * SLOW)
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value
            assert time.monotonic() - t0 < 5 * SLOW


def test_no_healthy_server_is_a_grpc_status_not_an_http_error(tmp_path, procs):
    """The proxy answers a gRPC request it cannot forward with a
    trailers-only response (HTTP 200, grpc-status 14), not a bare 502/503
    (which a gRPC client can only guess from)."""
    if PROXY in ("direct", "haproxy"):
        pytest.skip("%s: no proxy-made gRPC errors to check" % PROXY)
    import h2_raw
    f, _ = dead_env(tmp_path, procs, "h2c")
    c = h2_raw.Client(f.h2c_port)
    sid = c.request([(":method", "POST"), (":scheme", "http"), (":authority", "grpc.test"),
                     (":path", "/gantry.test.Echo/Unary"), ("content-type", "application/grpc"), ("te", "trailers")],
                    body=b"\x00\x00\x00\x00\x00")
    headers, body, trailers, reset = c.response(sid)
    c.close()
    assert reset is None and headers.get(":status") == "200", (headers, trailers, body)
    status = (trailers or headers).get("grpc-status")
    assert status == "14", (headers, trailers)
    assert headers.get("content-type", "").startswith("application/grpc"), headers


def upstream_connections(port):
    out = run(["ss", "-Htn", "state", "established", "src", "127.0.0.1:%d" % port]).stdout.decode()
    return len([line for line in out.splitlines() if line.strip()])


def test_10000_requests_from_100_connections_share_few_upstream_connections(env, tmp_path):
    """Upstream multiplexing: 10,000 gRPC calls (h2load, pre-encoded
    message) from 100 client connections open at most one connection per
    server per worker (counted on the servers' side)."""
    if PROXY in ("direct", "nginx"):
        pytest.skip("%s: no upstream multiplexing to check" % PROXY)
    body = tmp_path / "req.bin"
    body.write_bytes(b"\x00\x00\x00\x00\x07\x0a\x05hello")  # EchoRequest{message: "hello"}
    workers = 2  # conftest's Gantry default; haproxy's nbthread on a 2-core machine
    out = run(["h2load", "-n", "10000", "-c", "100", "-m", "10", "-t", "1", "-d", str(body),
               "-H", "content-type: application/grpc", "-H", "te: trailers", "-H", ":authority: grpc.test",
               "http://127.0.0.1:%d/gantry.test.Echo/Unary" % env.front.h2c_port], timeout=120).stdout.decode()
    assert "10000 succeeded, 0 failed" in out, out
    per_server = {s.name: upstream_connections(s.port) for s in env.servers}
    assert all(1 <= n <= workers for n in per_server.values()), per_server


@pytest.mark.parametrize("back", ["h2c", "tls"])
def test_upstream_goaway_under_load_fails_no_call(tmp_path, procs, back):
    """Servers that GOAWAY every connection after 200 ms (gRPC's
    max_connection_age): 2,000 unary calls, 20 in flight, all succeed; the
    proxy opens new upstream connections and never sends a stream on a
    connection that is going away."""
    if PROXY == "direct":
        pytest.skip("direct: the client itself would reconnect")
    d = str(tmp_path)
    cert = make_cert(d, "grpc.test", ips=("127.0.0.1",))
    ca = os.path.join(d, "ca.crt")
    servers = [EchoServer(procs, "goaway-%d" % i, cert if back == "tls" else None, STUB_DIR, max_age_ms=200)
               for i in range(3)]
    f = start_front(PROXY, tmp_path, procs, servers, cert, ca)
    failures, counts = [], {}
    t0 = time.monotonic()
    with channel(f.h2c_port) as ch:
        stub = pb_grpc.EchoStub(ch)
        batches = 0
        # at least 2,000 calls, and long enough for every connection to get its GOAWAY
        # (a fast machine makes 2,000 calls in less than the 200 ms age)
        while batches < 100 or (time.monotonic() - t0 < 1.0 and batches < 2000):
            batches += 1
            futs = [stub.Unary.future(pb.EchoRequest(message="g", payload=b"x" * 1000), timeout=20 * SLOW)
                    for _ in range(20)]
            for fu in futs:
                try:
                    name = fu.result().server
                    counts[name] = counts.get(name, 0) + 1
                except grpc.RpcError as e:
                    failures.append("%s: %s" % (e.code(), e.details()))
    assert not failures, "%d of %d calls failed: %s" % (len(failures), 20 * batches, sorted(set(failures))[:5])
    assert len(counts) == 3, counts
    assert time.monotonic() - t0 > 0.4, "too quick for any GOAWAY to happen"
