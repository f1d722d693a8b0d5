"""Traffic mirroring against the real binary with real upstreams: each
mirror receives its share of the requests (bodies included), per-mirror
statistics match what the mirrors saw, a mirror that never answers costs
the main requests nothing measurable, and maxBodySize / mirrorBody /
broken configurations behave as documented.
"""
import socket
import statistics
import time

from prometheus_client.parser import text_string_to_metric_families

from attack import RecordingUpstream, metric, metrics
from conftest import SANITIZED, SLOW, get, service_yaml, wait_for


def config(main, mirrors, extra_mirroring="", extra=""):
    y = ("http:\n  routers:\n"
         "    r: {rule: \"Host(`m.test`)\", service: mirrored}\n"
         "    base: {rule: \"Host(`base.test`)\", service: main}\n" + extra +
         "  services:\n"
         "    mirrored:\n      mirroring:\n        service: main\n" + extra_mirroring +
         "        mirrors:\n")
    for name, _, percent in mirrors:
        y += "          - {name: %s, percent: %d}\n" % (name, percent)
    y += service_yaml("main", [main.url])
    for name, up, _ in mirrors:
        y += service_yaml(name, [up.url])
    return y


def mirror_stats(g, name):
    svc = g.api("/api/http/services/mirrored@file")
    return {m["name"]: m for m in svc["mirroring"]["mirrors"]}[name]["stats"]


def test_each_mirror_gets_its_share_and_stats_match(tmp_path, procs):
    main, half, tenth = RecordingUpstream(), RecordingUpstream(body=b"shadow"), RecordingUpstream(body=b"x")
    g = procs.gantry(tmp_path, config(main, [("half", half, 50), ("tenth", tenth, 10)]))
    n = 1000
    for i in range(n):
        status, _, body = get(g.port, "/item/%d?q=1" % i, "m.test", method="POST", body=b"payload %d" % i)
        assert status == 200 and body == b"ok"  # the main service's answer, never a mirror's
    wait_for(lambda: (mirror_stats(g, "half@file")["requests"] + mirror_stats(g, "tenth@file")["requests"]
                      == len(half.requests) + len(tenth.requests) and len(half.requests) >= 495) or
             (mirror_stats(g, "half@file"), len(half.requests), len(tenth.requests)), what="mirrors answered")
    print("1000 requests: main %d, half %d (50%%), tenth %d (10%%)"
          % (len(main.requests), len(half.requests), len(tenth.requests)))
    assert len(main.requests) == n
    assert abs(len(half.requests) - 500) <= 5 and abs(len(tenth.requests) - 100) <= 5
    # the same request, body and path included
    mains = {h.split(b"\r\n", 1)[0]: b for h, b in main.requests}
    for head, body in half.requests[:50] + tenth.requests[:20]:
        line = head.split(b"\r\n", 1)[0]
        assert line in mains and mains[line] == body, line
        assert b"\r\nhost: m.test" in head.lower() and b"x-forwarded-for: 127.0.0.1" in head.lower()
    # statistics: what each mirror saw, by status class, in the API and /metrics
    for name, up in (("half@file", half), ("tenth@file", tenth)):
        st = mirror_stats(g, name)
        assert st["requests"] == len(up.requests) and st["responses"]["2xx"] == len(up.requests)
        assert st["dropped"] == 0 and st["upstreamErrors"] == 0
        assert metric(g, "gantry_mirror_requests_total", service="mirrored@file", mirror=name, code_class="2xx") \
            == len(up.requests)
    families = {f.name: f for f in text_string_to_metric_families(metrics(g))}
    hist = families["gantry_mirror_request_duration_seconds"]
    counts = [s.value for s in hist.samples if s.name.endswith("_count") and s.labels["mirror"] == "half@file"]
    assert counts == [len(half.requests)]


def test_a_mirror_that_never_answers_costs_the_main_requests_nothing(tmp_path, procs):
    main = RecordingUpstream(record=False)
    black_hole = socket.socket()  # accepts connections (backlog), never reads, never answers
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(4096)
    hole = type("Hole", (), {"url": "http://127.0.0.1:%d" % black_hole.getsockname()[1]})()
    refused = type("Refused", (), {"url": "http://127.0.0.1:1"})()
    g = procs.gantry(tmp_path, config(main, [("hole", hole, 100), ("refused", refused, 100)]), workers=1)

    def latencies(host, n=400):
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            assert get(g.port, "/", host)[0] == 200
            out.append((time.perf_counter() - t0) * 1000)
        out.sort()
        return statistics.median(out), out[int(len(out) * 0.99)]

    base = latencies("base.test")      # the main service directly
    mirrored = latencies("m.test")     # the same, with two dead mirrors at 100%
    base2 = latencies("base.test")
    print("main latency p50/p99 ms: without mirrors %.2f/%.2f, %.2f/%.2f; with a black-hole and a refusing "
          "mirror at 100%%: %.2f/%.2f" % (base + base2 + mirrored))
    st_hole, st_ref = mirror_stats(g, "hole@file"), mirror_stats(g, "refused@file")
    print("black hole: in flight %d, dropped %d; refused: errors %d"
          % (st_hole["inFlight"], st_hole["dropped"], st_ref["upstreamErrors"]))
    if not SANITIZED:  # under ASan/TSan every request is 5-20x slower and the p99 is the scheduler's
        assert mirrored[0] < max(base[0], base2[0]) * 1.5 + 0.3
        assert mirrored[1] < max(base[1], base2[1]) * 2 + 1.0
    assert st_hole["inFlight"] <= 64 and st_hole["dropped"] >= 400 - 64  # bounded queue, drops counted
    assert st_ref["upstreamErrors"] + st_ref["dropped"] >= 400 - 64 and st_ref["requests"] == 0
    assert metric(g, "gantry_mirror_dropped_total", mirror="hole@file") == st_hole["dropped"]
    black_hole.close()


def test_max_body_size_and_mirror_body_false(tmp_path, procs):
    main, small, headers_only = RecordingUpstream(), RecordingUpstream(), RecordingUpstream()
    g = procs.gantry(tmp_path, config(main, [("small", small, 100)], "        maxBodySize: 100\n",
                                      extra="    h: {rule: \"Host(`h.test`)\", service: headonly}\n") +
                     "    headonly:\n      mirroring:\n        service: main\n        mirrorBody: false\n"
                     "        mirrors:\n          - {name: hdr, percent: 100}\n" + service_yaml("hdr", [headers_only.url]))
    assert get(g.port, "/small", "m.test", method="POST", body=b"x" * 100)[0] == 200
    assert get(g.port, "/large", "m.test", method="POST", body=b"x" * 101)[0] == 200
    assert get(g.port, "/h", "h.test", method="POST", body=b"secret body")[0] == 200
    wait_for(lambda: len(small.requests) == 1 and len(headers_only.requests) == 1, what="copies")
    time.sleep(0.2 * SLOW)
    assert [h.split(b" ")[1] for h, _ in small.requests] == [b"/small"]  # 101 bytes went to main only
    assert len(main.requests) == 3
    head, body = headers_only.requests[0]
    assert body == b"" and b"content-length: 0" in head.lower()


def test_broken_mirroring_is_reported_and_the_rest_served(tmp_path, procs):
    main, up = RecordingUpstream(), RecordingUpstream()
    y = config(main, [("m1", up, 5), ("ghost", up, 5)]).replace(service_yaml("ghost", [up.url]), "")
    y = y.replace("    base: {", "    other: {rule: \"Host(`o.test`)\", service: nomain}\n    base: {")
    y += "    nomain:\n      mirroring:\n        service: missing\n        mirrors:\n          - {name: m1, percent: 5}\n"
    g = procs.gantry(tmp_path, y)
    problems = "\n".join(g.api("/api/overview")["problems"])
    assert "service 'mirrored@file': mirror 'ghost@file': no such service" in problems, problems
    assert "main service 'missing@file' does not exist" in problems, problems
    svc = g.api("/api/http/services/nomain@file")
    assert "does not exist" in svc.get("error", "") or svc["status"] != "enabled", svc
    assert get(g.port, "/", "m.test")[0] == 404 and get(g.port, "/", "o.test")[0] == 404  # routers skipped
    assert get(g.port, "/", "base.test")[0] == 200
    # a percent out of range is the decoder's error, with its position
    g.write(config(main, [("m1", up, 150)]))
    wait_for(lambda: "150 is out of range [0, 100]" in "\n".join(g.api("/api/overview")["problems"]),
             what="decoder error")
    assert get(g.port, "/", "base.test")[0] == 200
