"""The admin listener: every API endpoint against traffic the test sent,
/metrics parsed by the real Prometheus text parser (python3-prometheus-client),
/healthz and /readyz, the bearer token, and read-only-ness."""
import json
import re

from prometheus_client.parser import text_string_to_metric_families

from conftest import free_port, get, service_yaml, wait_for


def config(up, dead):
    return ("http:\n  routers:\n"
            "    app:\n      rule: \"Host(`app.test`)\"\n      service: app\n"
            "    broken:\n      rule: \"Host(`b.test`) && Pth(`/`)\"\n      service: app\n"
            "    guarded:\n      rule: \"Host(`g.test`)\"\n      service: app\n      middlewares: [auth]\n"
            "    down:\n      rule: \"Host(`down.test`)\"\n      service: down\n"
            "  middlewares:\n    auth:\n      basicAuth:\n        users: [\"u:p\"]\n        realm: x\n        nosuchoption: 1\n"
            "  services:\n" + service_yaml("app", [up.url], "        healthCheck: {path: /health, interval: 1s}\n")
            + service_yaml("down", [dead]))


def send_traffic(g):
    for _ in range(5):
        assert get(g.port, "/", "app.test")[0] == 200
    for _ in range(3):
        assert get(g.port, "/nope", "nobody.test")[0] == 404
    assert get(g.port, "/", "down.test")[0] == 502
    assert get(g.port, "/upload", "app.test", method="POST", body=b"x" * 1000)[0] == 200


def test_api_endpoints(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up, "http://127.0.0.1:%d" % free_port()))
    send_traffic(g)

    assert g.api("/api/version")["Version"]
    ov = g.api("/api/overview")
    assert ov["http"]["routers"] == {"total": 4, "warnings": 0, "errors": 2}
    assert ov["http"]["services"]["total"] == 2
    assert ov["providers"] == [{"name": "file", "connected": True, "synced": True}]
    assert ov["config"]["reloads"] >= 1
    assert any("unknown matcher 'Pth'" in p for p in ov["problems"])
    assert any("guarded@file" in p and "the router is not served" in p for p in ov["problems"])

    routers = {r["name"]: r for r in g.api("/api/http/routers")}
    app = routers["app@file"]
    assert app["status"] == "enabled" and app["service"] == "app@file" and app["rule"] == "Host(`app.test`)"
    assert app["stats"]["requests"] == 6 and app["stats"]["responses"]["2xx"] == 6
    assert app["stats"]["bytesIn"] == 1000 and app["stats"]["bytesOut"] > 0
    assert 0 < app["stats"]["latencySeconds"]["p50"] <= app["stats"]["latencySeconds"]["p99"]
    broken = routers["broken@file"]
    assert broken["status"] == "disabled" and "unknown matcher 'Pth'" in broken["error"][0]
    assert "stats" not in broken
    assert routers["guarded@file"]["status"] == "disabled"

    one = g.api("/api/http/routers/app@file")
    assert one["name"] == "app@file"
    status, body = g.admin("/api/http/routers/missing@file")
    assert status == 404 and json.loads(body)["message"] == "router not found"

    svc = g.api("/api/http/services/app@file")
    assert svc["type"] == "loadBalancer" and svc["usedBy"] == ["app@file", "broken@file", "guarded@file"]
    server = svc["loadBalancer"]["servers"][0]
    assert server["url"] == up.url and server["health"] == "UP" and server["inFlight"] == 0 and server["requests"] == 6
    assert svc["loadBalancer"]["healthCheck"]["path"] == "/health"
    down = g.api("/api/http/services/down@file")
    assert down["stats"]["upstreamErrors"] == 1 and down["stats"]["responses"]["5xx"] == 1
    assert down["loadBalancer"]["servers"][0]["health"] == "DEGRADED"  # refused a connection: skipped for a while
    assert down["loadBalancer"]["servers"][0]["connectFailures"] == 1

    eps = g.api("/api/entrypoints")
    assert eps[0]["name"] == "web" and eps[0]["stats"]["requests"] == 10
    assert eps[0]["stats"]["responses"]["4xx"] == 3

    raw = g.api("/api/rawdata")
    assert set(raw["routers"]) == {"app@file", "broken@file", "guarded@file", "down@file"}
    assert raw["middlewares"]["auth@file"]["type"] == "basicAuth"
    assert raw["services"]["app@file"]["loadBalancer"]["servers"][0]["url"] == up.url

    # a new router shows up, and the change is logged with counts
    g.write(config(up, "http://127.0.0.1:1") + "    later:\n      loadBalancer:\n        servers: [{url: \"%s\"}]\n" % up.url)
    wait_for(lambda: g.api("/api/http/services/later@file")["name"] == "later@file", what="new service in the API")
    g.wait_log(r"configuration applied in [0-9.]+ ms: 2 routers \(\+\d+ -\d+ ~\d+\), 3 services")


def test_metrics_in_prometheus_format(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up, "http://127.0.0.1:%d" % free_port()))
    send_traffic(g)
    status, body = g.admin("/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}

    def sample(family, name=None, **labels):
        for s in families[family].samples:
            if (name is None or s.name == name) and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        raise AssertionError("no sample %s %s" % (family, labels))

    assert sample("gantry_requests", router="app@file", code="200", method="GET") == 5
    assert sample("gantry_requests", router="app@file", code="200", method="POST") == 1
    assert sample("gantry_requests", router="down@file", code="502", method="GET") == 1
    assert sample("gantry_entrypoint_requests", entrypoint="web", code="404", method="GET") == 3
    assert sample("gantry_request_duration_seconds", "gantry_request_duration_seconds_count", router="app@file") == 6
    assert sample("gantry_request_duration_seconds", "gantry_request_duration_seconds_bucket", router="app@file",
                  le="+Inf") == 6
    assert sample("gantry_router_request_bytes", router="app@file") == 1000
    assert sample("gantry_service_upstream_errors", service="down@file") == 1
    assert sample("gantry_service_server_up", service="app@file", url=up.url) == 1
    assert sample("gantry_server_requests", url=up.url) == 6
    assert sample("gantry_config_reloads") >= 1
    assert sample("gantry_config_last_reload_success_timestamp_seconds") > 1.7e9
    assert sample("gantry_config_problems") == 2
    assert sample("gantry_provider_synced", provider="file") == 1
    assert sample("gantry_entrypoint_open_connections", entrypoint="web") >= 0
    assert sample("process_resident_memory_bytes") > 1e6


def test_health_readiness_token_and_read_only(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up, "http://127.0.0.1:1"), args=["--admin.token=s3cret"])
    assert g.admin("/healthz")[0] == 401
    assert g.admin("/api/overview")[0] == 401
    assert g.admin("/api/overview", token="wrong")[0] == 401
    assert g.admin("/healthz", token="s3cret") == (200, b"ok\n")
    assert g.admin("/readyz", token="s3cret") == (200, b"ready\n")
    assert g.admin("/api/overview", token="s3cret")[0] == 200
    import urllib.request
    req = urllib.request.Request("http://127.0.0.1:%d/api/overview" % g.admin_port, method="POST", data=b"{}",
                                 headers={"Authorization": "Bearer s3cret"})
    try:
        urllib.request.urlopen(req)
        assert False, "POST accepted"
    except urllib.error.HTTPError as e:
        assert e.code == 405 and e.headers["Allow"] == "GET, HEAD"


def test_readyz_waits_for_docker(tmp_path, procs):
    g = procs.gantry(tmp_path, None, args=["--providers.docker",
                                           "--providers.docker.endpoint=unix://%s/nothing.sock" % tmp_path])
    status, body = g.admin("/readyz")
    assert status == 503 and b"docker provider: first synchronisation not complete (not connected)" in body
    assert g.admin("/healthz") == (200, b"ok\n")


def test_dashboard_is_served_from_the_binary(tmp_path, procs):
    up = procs.whoami()
    g = procs.gantry(tmp_path, config(up, "http://127.0.0.1:1"))
    status, body = g.admin("/dashboard/")
    assert status == 200 and b"<title>Gantry dashboard</title>" in body
    assert not re.search(rb"<script[^>]+src=|<link[^>]+href=\"http", body)  # nothing from a CDN
    assert g.admin("/nope")[0] == 404
