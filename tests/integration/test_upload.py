"""Request bodies: a 10 MB upload over HTTP/1.1 and HTTP/2 reaches the
upstream intact; above entryPoints.<ep>.http.maxRequestBodyBytes the
answer is 413."""
import hashlib
import json
import os

from conftest import run, service_yaml


def config(up):
    return ("http:\n  routers:\n    u:\n      rule: \"Host(`up.test`)\"\n      service: s\n"
            "  services:\n" + service_yaml("s", [up.url]))


def test_10mb_upload(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up))
    data = os.urandom(10 * 1024 * 1024)
    (tmp_path / "body").write_bytes(data)
    for flags in ([], ["--http2-prior-knowledge"], ["-H", "Transfer-Encoding: chunked"]):
        r = run(["curl", "-s", *flags, "-H", "Host: up.test", "--data-binary", "@%s" % (tmp_path / "body"),
                 "http://127.0.0.1:%d/upload" % g.port], timeout=120)
        res = json.loads(r.stdout)
        assert res["length"] == len(data) and res["sha256"] == hashlib.sha256(data).hexdigest(), flags


def test_body_limit_413(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up), args=["--entryPoints.web.http.maxRequestBodyBytes=1048576"])
    (tmp_path / "big").write_bytes(b"x" * (2 * 1024 * 1024))
    r = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: up.test", "--data-binary",
             "@%s" % (tmp_path / "big"), "http://127.0.0.1:%d/upload" % g.port])
    assert r.stdout == b"413"
    r = run(["curl", "-s", "-H", "Host: up.test", "--data-binary", "small", "http://127.0.0.1:%d/upload" % g.port])
    assert json.loads(r.stdout)["length"] == 5
