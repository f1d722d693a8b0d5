"""Streaming: a chunked, slow upstream response reaches the client as it is
produced, over HTTP/1.1 and HTTP/2; large bodies arrive intact."""
import hashlib
import http.client
import subprocess
import time

from conftest import SLOW, run, service_yaml


def config(up):
    return ("http:\n  routers:\n    s:\n      rule: \"Host(`stream.test`)\"\n      service: s\n"
            "  services:\n" + service_yaml("s", [up.url]))


def test_chunks_arrive_incrementally_http1(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up))
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=10 * SLOW)
    t0 = time.time()
    conn.request("GET", "/stream?n=5&delay=0.4", headers={"Host": "stream.test"})
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("transfer-encoding") == "chunked"
    arrivals = []
    while True:
        line = r.readline()
        if not line:
            break
        arrivals.append(time.time() - t0)
    assert len(arrivals) == 5
    assert arrivals[0] < 0.35 * SLOW, arrivals  # the first chunk did not wait for the last
    assert arrivals[-1] - arrivals[0] > 1.4, arrivals


def test_chunks_arrive_incrementally_http2(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up))
    p = subprocess.Popen(["curl", "-sN", "--http2-prior-knowledge", "-H", "Host: stream.test",
                          "http://127.0.0.1:%d/stream?n=4&delay=0.4" % g.port], stdout=subprocess.PIPE)
    t0 = time.time()
    arrivals = []
    for line in p.stdout:
        arrivals.append(time.time() - t0)
    p.wait()
    assert len(arrivals) == 4 and arrivals[0] < 0.35 * SLOW and arrivals[-1] - arrivals[0] > 1.0, arrivals


def test_large_download_intact(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up))
    n = 30 * 1024 * 1024
    for flags in ([], ["--http2-prior-knowledge"]):
        r = run(["curl", "-s", *flags, "-H", "Host: stream.test", "-D", "-", "-o", str(tmp_path / "big"),
                 "http://127.0.0.1:%d/bytes/%d" % (g.port, n)], timeout=120)
        want = [l.split(":", 1)[1].strip() for l in r.stdout.decode().splitlines() if l.lower().startswith("x-body-sha256")]
        data = (tmp_path / "big").read_bytes()
        assert len(data) == n and hashlib.sha256(data).hexdigest() == want[0]


def test_slow_reader_gets_everything(tmp_path, procs):
    """The upstream is paused while the client is slow (bounded memory), and
    nothing is lost when the client reads again."""
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up))
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=30 * SLOW)
    conn.request("GET", "/bytes/%d" % (20 * 1024 * 1024), headers={"Host": "stream.test"})
    r = conn.getresponse()
    want = r.getheader("x-body-sha256")
    h = hashlib.sha256()
    first = r.read(64 * 1024)
    h.update(first)
    time.sleep(1.0)  # stall: gantry must stop reading the upstream, not buffer 20 MB
    while True:
        chunk = r.read(1024 * 1024)
        if not chunk:
            break
        h.update(chunk)
    assert h.hexdigest() == want
