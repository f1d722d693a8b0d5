"""failover.errors (Traefik v3.7: fall back when the main service answers
one of these statuses) is not built by gantry: the routers using such a
service are refused with the reason, never served with a failover that
only looks at health, and the rest of the file is served.
"""
from attack import RecordingUpstream
from conftest import get, service_yaml, wait_for


def test_failover_on_statuses_refuses_its_routers(tmp_path, procs):
    main, fallback = RecordingUpstream(), RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    fo: {rule: \"Host(`fo.test`)\", service: fo}\n"
                     "    plain: {rule: \"Host(`plain.test`)\", service: plainfo}\n"
                     "  services:\n"
                     "    fo:\n      failover:\n        service: main\n        fallback: fallback\n"
                     "        errors: {status: [\"500-504\"], maxRequestBodyBytes: 1048576}\n"
                     "    plainfo:\n      failover:\n        service: main\n        fallback: fallback\n"
                     + service_yaml("main", [main.url]) + service_yaml("fallback", [fallback.url]))
    wait_for(lambda: get(g.port, "/", "plain.test")[0] == 200, what="route live")
    assert get(g.port, "/", "fo.test")[0] == 404
    routers = {r["name"]: r for r in g.api("/api/http/routers")}
    err = " ".join(routers["fo@file"]["error"])
    assert "failover.errors" in err, err
