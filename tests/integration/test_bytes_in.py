"""Request body bytes of streamed uploads (issue 16): an HTTP/1.1 body
that streams to the upstream (above 64 KiB, Content-Length or chunked) and
an HTTP/2 one are counted in the access log (`RequestContentSize`, as
Traefik names it) and in `gantry_router_request_bytes_total`, not as 0."""
import json
import os
import subprocess

from attack import metric
from conftest import SLOW, get, service_yaml, wait_for

SIZE = 3 * 1024 * 1024 + 7


def test_streamed_uploads_are_counted_in_the_access_log_and_metrics(tmp_path, procs):
    up = procs.whoami()
    log = str(tmp_path / "access.json")
    cfg = ("http:\n  routers:\n    r: {rule: \"Host(`up.test`)\", service: s}\n"
           "  services:\n" + service_yaml("s", [up.url]))
    g = procs.gantry(tmp_path, cfg, args=["--accessLog.filePath=" + log, "--accessLog.format=json"])
    wait_for(lambda: get(g.port, "/", "up.test")[0] == 200, what="route live")
    before = metric(g, "gantry_router_request_bytes_total", router="r@file") or 0
    data = tmp_path / "body"
    data.write_bytes(os.urandom(SIZE))
    url = "http://127.0.0.1:%d/upload" % g.port
    runs = [("h1-length", ["--data-binary", "@" + str(data)]),
            ("h1-chunked", ["--data-binary", "@" + str(data), "-H", "Transfer-Encoding: chunked"]),
            ("h2", ["--http2-prior-knowledge", "--data-binary", "@" + str(data)])]
    for name, args in runs:
        r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: up.test",
                            "-H", "X-Run: " + name] + args + [url], capture_output=True, timeout=60 * SLOW)
        assert r.stdout == b"200", (name, r)

    def entries():
        if not os.path.exists(log):
            return None
        with open(log) as f:
            got = [json.loads(l) for l in f.read().splitlines()]
        uploads = [e for e in got if e["RequestPath"] == "/upload"]
        return uploads if len(uploads) == 3 else None
    uploads = wait_for(entries, what="3 upload lines")
    assert [e["RequestContentSize"] for e in uploads] == [SIZE] * 3, uploads
    # lines come per worker: in completion order only within one worker
    assert sorted(e["RequestProtocol"] for e in uploads) == ["HTTP/1.1", "HTTP/1.1", "HTTP/2.0"]
    wait_for(lambda: (metric(g, "gantry_router_request_bytes_total", router="r@file") or 0) - before == 3 * SIZE,
             what="request bytes counted")
