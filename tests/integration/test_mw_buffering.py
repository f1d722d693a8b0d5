"""buffering against a real upstream (whoami): request bodies over the
limit get 413 and never reach it, responses over the limit become 500 (a
known length and a chunked stream alike), responses under it arrive whole
with their length; and retryExpression: an attempt whose answer makes the
expression hold is dropped and the request (its body too) goes out again,
over HTTP/1.1 and HTTP/2 servers, at most 10 times more; an expression
Gantry cannot read takes its router out."""
import json
import socket
import threading

from conftest import get, service_yaml, wait_for
from status_peer import StatusUpstream


def config(app):
    return ("http:\n  routers:\n"
            "    r: {rule: \"Host(`b.test`)\", service: app, middlewares: [buf]}\n"
            "    retry: {rule: \"Host(`retry.test`)\", service: app, middlewares: [badretry]}\n"
            "  middlewares:\n"
            "    buf: {buffering: {maxRequestBodyBytes: 1000, maxResponseBodyBytes: 5000, memRequestBodyBytes: 100}}\n"
            "    badretry: {buffering: {retryExpression: \"IsNetworkError() and Attempts() < 2\"}}\n"
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
    assert r["status"] == "disabled", r
    assert "retryExpression: unexpected text at offset 17" in " ".join(r["error"]), r
    assert get(g.port, "/", "retry.test")[0] == 404  # not served without the policy it asked for


def retry_config(expr, urls):
    return ("http:\n  routers:\n"
            "    r: {rule: \"Host(`r.test`)\", service: s, middlewares: [buf]}\n"
            "  middlewares:\n"
            "    buf: {buffering: {retryExpression: \"%s\"}}\n"
            "  services:\n" % expr.replace('"', '\\"')) + service_yaml("s", urls)


def test_retry_expression_retries_on_the_answer_it_names(tmp_path, procs):
    bad, good = StatusUpstream("bad", [503]), StatusUpstream("good", [200])
    try:
        g = procs.gantry(tmp_path, retry_config("ResponseCode() == 503 && Attempts() < 2", [bad.url, good.url]))
        wait_for(lambda: get(g.port, "/", "r.test")[0] == 200, what="route live")
        del bad.seen[:], good.seen[:]
        # round robin starts half the requests on the server that answers 503:
        # every one of them goes to the other server, its body with it
        for i in range(10):
            status, _, body = get(g.port, "/up?i=%d" % i, "r.test", method="POST", body=b"p" * (1000 + i))
            assert status == 200, (i, status, body)
            assert json.loads(body) == {"from": "good", "status": 200, "length": 1000 + i}
        assert len(good.seen) == 10 and len(bad.seen) >= 4, (len(good.seen), len(bad.seen))
        assert all(m == "POST" and len(b) == 1000 + int(p.split("=")[1]) for m, p, b in good.seen + bad.seen)
    finally:
        bad.stop()
        good.stop()


def test_retry_expression_is_bounded_and_the_last_answer_goes_out(tmp_path, procs):
    up = StatusUpstream("only", [503])
    other = StatusUpstream("limited", [429, 429, 200])
    try:
        dyn = retry_config("ResponseCode() >= 500 || ResponseCode() == 429", [up.url])
        dyn += ("    other:\n      loadBalancer:\n        servers:\n          - url: \"%s\"\n" % other.url)
        dyn = dyn.replace("  middlewares:\n", "    o: {rule: \"Host(`o.test`)\", service: other, middlewares: [buf]}\n  middlewares:\n")
        g = procs.gantry(tmp_path, dyn)
        wait_for(lambda: get(g.port, "/", "r.test")[0] == 503, what="route live")
        del up.seen[:]
        status, _, body = get(g.port, "/", "r.test")
        # oxy: asked after attempts 1..10, so 11 attempts, and the 11th answer is the client's
        assert status == 503 and json.loads(body)["from"] == "only"
        assert len(up.seen) == 11, len(up.seen)
        # an expression that stops holding: the third answer
        status, _, body = get(g.port, "/", "o.test")
        assert status == 200 and len(other.seen) == 3, (status, len(other.seen))
        # not asked: a route without the middleware answers the 503 once
    finally:
        up.stop()
        other.stop()


def test_retry_expression_over_http2_and_when_no_server_answers(tmp_path, procs):
    from h2_peers import H2Upstream
    h2 = H2Upstream("h2")
    procs.add(h2)
    dropper = socket.socket()  # accepts, reads the request, resets: Gantry's own 502
    dropper.bind(("127.0.0.1", 0))
    dropper.listen(64)
    drops = []

    def drop():
        while True:
            try:
                c, _ = dropper.accept()
            except OSError:
                return
            drops.append(c.recv(65536))
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()
    threading.Thread(target=drop, daemon=True).start()
    dead = "http://127.0.0.1:%d" % dropper.getsockname()[1]
    dyn = ("http:\n  routers:\n"
           "    h: {rule: \"Host(`h.test`)\", service: h, middlewares: [buf]}\n"
           "    d: {rule: \"Host(`d.test`)\", service: d, middlewares: [net]}\n"
           "  middlewares:\n"
           "    buf: {buffering: {retryExpression: \"ResponseCode() == 502 && Attempts() <= 3\"}}\n"
           "    net: {buffering: {retryExpression: \"IsNetworkError() && Attempts() < 4\"}}\n"
           "  services:\n" + service_yaml("h", [h2.url]) + service_yaml("d", [dead]))
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "h.test")[0] == 200, what="route live")
    before = h2.streams
    status, _, body = get(g.port, "/status/502", "h.test")
    assert status == 502 and b"status 502 from h2" in body
    assert h2.streams - before == 4, h2.streams - before  # asked after 1, 2, 3: four attempts
    before = h2.streams
    assert get(g.port, "/status/503", "h.test")[0] == 503
    assert h2.streams - before == 1
    # a connection reset before any answer: a POST is not replayed by Gantry
    # itself (it may have been processed), but the expression asks for it
    status, _, _ = get(g.port, "/", "d.test", method="POST", body=b"once more")
    dropper.close()
    assert status == 502
    assert len(drops) == 4 and all(d.endswith(b"once more") for d in drops), drops

