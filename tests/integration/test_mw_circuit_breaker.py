"""circuitBreaker against a real upstream (whoami answers any status on
/status/NNN and sleeps on /slow): the circuit opens on the expression,
answers responseCode without reaching the service for fallbackDuration,
recovers and closes; each router has its own breaker; network errors and
latency quantiles trip it; a bad expression refuses the routers."""
import time

from conftest import free_port, get, service_yaml, wait_for


def config(app, expr, extra_routers=""):
    return ("http:\n  routers:\n"
            "    r: {rule: \"Host(`cb.test`)\", service: app, middlewares: [cb]}\n"
            "    other: {rule: \"Host(`other.test`)\", service: app, middlewares: [cb]}\n" + extra_routers +
            "  middlewares:\n"
            "    cb:\n      circuitBreaker:\n        expression: \"%s\"\n        checkPeriod: 50ms\n"
            "        fallbackDuration: 1s\n        recoveryDuration: 1s\n        responseCode: 418\n"
            "  services:\n" % expr + service_yaml("app", [app.url])
            + service_yaml("dead", ["http://127.0.0.1:%d" % free_port()]))


def test_opens_on_5xx_ratio_falls_back_recovers_and_closes(tmp_path, procs):
    app = procs.whoami()
    g = procs.gantry(tmp_path, config(app, "ResponseCodeRatio(500, 600, 0, 600) > 0.5"))
    wait_for(lambda: get(g.port, "/", "cb.test")[0] == 200, what="route live")
    codes = []
    deadline = time.time() + 3
    while time.time() < deadline and 418 not in codes:  # 5xx until the next check opens it
        codes.append(get(g.port, "/status/500", "cb.test")[0])
        time.sleep(0.01)
    assert codes[-1] == 418 and set(codes[:-1]) == {500}, codes
    opened = time.time()
    # open: every request gets the fallback status; the other router's breaker is its own
    assert [get(g.port, "/", "cb.test")[0] for _ in range(10)] == [418] * 10
    assert get(g.port, "/", "other.test")[0] == 200
    # after fallbackDuration: recovering, a growing share reaches the service, then closed
    wait_for(lambda: get(g.port, "/", "cb.test")[0] == 200, timeout=3, what="recovering")
    assert time.time() - opened >= 0.9
    time.sleep(1.2)
    assert [get(g.port, "/", "cb.test")[0] for _ in range(20)] == [200] * 20


def test_network_errors_and_latency(tmp_path, procs):
    app = procs.whoami()
    extra = ("    dead: {rule: \"Host(`dead.test`)\", service: dead, middlewares: [net]}\n"
             "    slow: {rule: \"Host(`slow.test`)\", service: app, middlewares: [lat]}\n")
    dyn = config(app, "NetworkErrorRatio() > 0.5", extra).replace("  services:\n",
        "    net: {circuitBreaker: {expression: \"NetworkErrorRatio() > 0.5\", checkPeriod: 50ms, fallbackDuration: 5s}}\n"
        "    lat: {circuitBreaker: {expression: \"LatencyAtQuantileMS(50.0) > 100 && ResponseCodeRatio(200, 300, 0, 600) >= 0.5\","
        " checkPeriod: 50ms, fallbackDuration: 5s}}\n  services:\n")
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "cb.test")[0] == 200, what="route live")
    for _ in range(5):
        assert get(g.port, "/", "dead.test")[0] == 502
    time.sleep(0.1)
    wait_for(lambda: get(g.port, "/", "dead.test")[0] == 503, timeout=2, what="open on network errors")
    assert get(g.port, "/slow?delay=0.2", "slow.test")[0] == 200  # one slow answer is a median of 200 ms
    time.sleep(0.1)
    wait_for(lambda: get(g.port, "/", "slow.test")[0] == 503, timeout=2, what="open on latency")


def test_bad_expression_refuses_the_router(tmp_path, procs):
    app = procs.whoami()
    g = procs.gantry(tmp_path, config(app, "LatencyAtQuantileMS(50.0) >> 1"))
    wait_for(lambda: g.api("/api/http/routers"), what="api")
    r = {x["name"]: x for x in g.api("/api/http/routers")}["r@file"]
    assert r["status"] == "disabled" and "expression" in " ".join(r["error"])
    assert get(g.port, "/", "cb.test")[0] == 404
