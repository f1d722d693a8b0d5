"""buffering against a real upstream (whoami): request bodies over the
limit get 413 and never reach it, responses over the limit become 500 (a
known length and a chunked stream alike), responses under it arrive whole
with their length, and retryExpression is refused rather than ignored."""
from conftest import get, service_yaml, wait_for


def config(app):
    return ("http:\n  routers:\n"
            "    r: {rule: \"Host(`b.test`)\", service: app, middlewares: [buf]}\n"
            "    retry: {rule: \"Host(`retry.test`)\", service: app, middlewares: [withretry]}\n"
            "  middlewares:\n"
            "    buf: {buffering: {maxRequestBodyBytes: 1000, maxResponseBodyBytes: 5000, memRequestBodyBytes: 100}}\n"
            "    withretry: {buffering: {retryExpression: \"IsNetworkError() && Attempts() < 2\"}}\n"
            "  services:\n" + service_yaml("app", [app.url]))


def test_buffering_limits(tmp_path, procs):
    app = procs.whoami()
    g = procs.gantry(tmp_path, config(app))
    wait_for(lambda: get(g.port, "/", "b.test")[0] == 200, what="route live")
    status, _, body = get(g.port, "/upload", "b.test", method="POST", body=b"x" * 900)
    assert status == 200 and b'"length": 900' in body
    assert get(g.port, "/upload", "b.test", method="POST", body=b"x" * 1001)[0] == 413
    status, headers, body = get(g.port, "/bytes/4000", "b.test")
    assert status == 200 and len(body) == 4000 and headers.get("content-length") == "4000"
    assert get(g.port, "/bytes/6000", "b.test")[0] == 500
    # a chunked stream: held whole, then sent with its length
    status, headers, body = get(g.port, "/stream?n=3&delay=0.05", "b.test")
    assert status == 200 and body.count(b"chunk") == 3 and headers.get("content-length") == str(len(body))
    status, _, _ = get(g.port, "/stream?n=400&delay=0", "b.test")
    assert status == 500
    r = {x["name"]: x for x in g.api("/api/http/routers")}["retry@file"]
    assert r["status"] == "disabled" and "retryExpression" in " ".join(r["error"])
