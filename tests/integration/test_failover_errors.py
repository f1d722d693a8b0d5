"""failover.errors (Traefik v3.7): an answer of the main service with one of
the listed statuses (the server's, or Gantry's 502 when it cannot be
reached) is dropped and the request, body included, goes to the fallback;
a body over maxRequestBodyBytes is refused with 413; nested failovers hand
a fallback's answer to the next failover out; a bad status range is an
error of the file, whose last good configuration keeps serving.
"""
import subprocess
from conftest import free_port, get, service_yaml, wait_for
from http_peers import StatusPeer as Peer


def failover(name, main, fallback, errors=""):
    return ("    %s:\n      failover:\n        service: %s\n        fallback: %s\n" % (name, main, fallback)
            + ("        errors: {%s}\n" % errors if errors else ""))


def test_main_statuses_go_to_the_fallback_with_the_body(tmp_path, procs):
    main, fallback = Peer("main"), Peer("fallback")
    dead = "http://127.0.0.1:%d" % free_port()  # nothing listens: Gantry's 502
    try:
        g = procs.gantry(tmp_path, "http:\n  routers:\n"
                         "    fo: {rule: \"Host(`fo.test`)\", service: fo}\n"
                         "    small: {rule: \"Host(`small.test`)\", service: small}\n"
                         "    down: {rule: \"Host(`down.test`)\", service: down}\n"
                         "  services:\n"
                         + failover("fo", "main", "fallback", "status: [\"500-504\", \"429\"]")
                         + failover("small", "main", "fallback", "status: [\"500-599\"], maxRequestBodyBytes: 10")
                         + failover("down", "dead", "fallback", "status: [\"502\"]")
                         + service_yaml("main", [main.url]) + service_yaml("fallback", [fallback.url])
                         + service_yaml("dead", [dead]))
        wait_for(lambda: get(g.port, "/ok", "fo.test")[0] == 200, what="route live")
        # a status outside the ranges is the client's, as is
        status, headers, body = get(g.port, "/404/x", "fo.test")
        assert (status, body) == (404, b"main 404 0\n")
        # one inside: main's answer (its cookie included) is dropped, the fallback answers
        status, headers, body = get(g.port, "/503/x", "fo.test")
        assert (status, body) == (503, b"fallback 503 0\n"), body
        assert headers["set-cookie"] == "from=fallback"
        status, _, body = get(g.port, "/429/y", "fo.test")
        assert (status, body) == (429, b"fallback 429 0\n")
        # the body goes to both, whole (HTTP/1.1)
        payload = b"x" * 300000
        status, _, body = get(g.port, "/500/post", "fo.test", method="POST", body=payload)
        assert (status, body) == (500, b"fallback 500 300000\n")
        assert [s.body == payload for s in main.seen if s.path == "/500/post"] == [True]
        assert [s.body == payload for s in fallback.seen if s.path == "/500/post"] == [True]
        # and over HTTP/2 (h2c), where request bodies otherwise stream
        r = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-H", "Host: fo.test", "--data-binary", "@-",
                            "http://127.0.0.1:%d/502/h2" % g.port], input=b"y" * 70000, capture_output=True, timeout=20)
        assert r.stdout == b"fallback 502 70000\n", r
        assert [len(s.body) for s in main.seen if s.path == "/502/h2"] == [70000]
        # maxRequestBodyBytes: over it, 413 before any server is asked
        before = len(main.seen)
        assert get(g.port, "/200/big", "small.test", method="POST", body=b"z" * 11)[0] == 413
        assert len(main.seen) == before
        status, _, body = get(g.port, "/500/fits", "small.test", method="POST", body=b"z" * 10)
        assert (status, body) == (500, b"fallback 500 10\n")
        # Gantry's own 502 (main unreachable) is an answer of the main service too
        status, _, body = get(g.port, "/200/d", "down.test")
        assert (status, body) == (200, b"fallback 200 0\n")
    finally:
        main.close()
        fallback.close()


def test_nested_failovers_hand_the_fallback_answer_outwards(tmp_path, procs):
    a, b, c = Peer("a"), Peer("b"), Peer("c")
    try:
        # outer: main = inner (a, falling back on b), fallback c. A path
        # "/500/..." makes a and b answer 500: the inner failover drops a's,
        # b's 500 is the inner failover's answer, which the outer drops for c.
        g = procs.gantry(tmp_path, "http:\n  routers:\n"
                         "    r: {rule: \"Host(`n.test`)\", service: outer}\n"
                         "  services:\n"
                         + failover("outer", "inner", "c", "status: [\"500\"]")
                         + failover("inner", "a", "b", "status: [\"500\"]")
                         + service_yaml("a", [a.url]) + service_yaml("b", [b.url]) + service_yaml("c", [c.url]))
        wait_for(lambda: get(g.port, "/x", "n.test")[0] == 200, what="route live")
        assert get(g.port, "/500/n", "n.test")[2] == b"c 500 0\n"
        assert (a.paths().count("/500/n"), b.paths().count("/500/n"), c.paths().count("/500/n")) == (1, 1, 1)
        assert get(g.port, "/x", "n.test")[2] == b"a 200 0\n"
    finally:
        for p in (a, b, c):
            p.close()


def test_a_bad_status_range_keeps_the_last_good_configuration(tmp_path, procs):
    main, fallback = Peer("main"), Peer("fallback")
    try:
        head = ("http:\n  routers:\n"
                "    r: {rule: \"Host(`r.test`)\", service: fo}\n"
                "  services:\n")
        tail = service_yaml("main", [main.url]) + service_yaml("fallback", [fallback.url])
        # without errors, a failover looks at health only: a 500 is the client's
        g = procs.gantry(tmp_path, head + failover("fo", "main", "fallback") + tail)
        wait_for(lambda: get(g.port, "/x", "r.test")[0] == 200, what="route live")
        assert get(g.port, "/500/x", "r.test")[2] == b"main 500 0\n"
        g.write(head + failover("fo", "main", "fallback", "status: [\"5xx\"]") + tail)
        g.wait_log("errors.status: `5xx` is not a status or a range of statuses")
        assert get(g.port, "/500/x", "r.test")[2] == b"main 500 0\n"
        g.write(head + failover("fo", "main", "fallback", "status: [\"500\"]") + tail)
        wait_for(lambda: get(g.port, "/500/x", "r.test")[2] == b"fallback 500 0\n", what="errors applied")
    finally:
        main.close()
        fallback.close()
