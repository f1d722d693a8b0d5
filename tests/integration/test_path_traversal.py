"""Path handling: routes match the normalised path, and the backend gets
that same path, so "/api/../admin" and its encoded variants cannot reach a
route they should not, nor reach a backend in a form it reads differently.
"""
import pytest

from attack import H2Client, RecordingUpstream, raw_exchange, status_of
from conftest import service_yaml


def config(api, admin):
    # /admin is only for 10.9.9.9; everyone may use /api
    return ("http:\n  routers:\n"
            "    api: {rule: \"Host(`p.test`) && PathPrefix(`/api`)\", service: api}\n"
            "    admin: {rule: \"Host(`p.test`) && PathPrefix(`/admin`) && ClientIP(`10.9.9.9`)\", service: admin}\n"
            "  services:\n" + service_yaml("api", [api.url]) + service_yaml("admin", [admin.url]))


@pytest.fixture
def env(tmp_path, procs):
    api, admin = RecordingUpstream(body=b"api"), RecordingUpstream(body=b"admin")
    g = procs.gantry(tmp_path, config(api, admin))
    yield g, api, admin
    api.stop()
    admin.stop()


def send(port, target):
    resp = raw_exchange(port, b"GET " + target.encode() + b" HTTP/1.1\r\nHost: p.test\r\nConnection: close\r\n\r\n")
    return status_of(resp), resp.split(b"\r\n\r\n", 1)[-1]


# target -> (status, what the api backend receives, or None when it receives nothing)
CASES = {
    "/api/x": (200, "/api/x"),
    "/api/../admin": (404, None),
    "/api/./../admin/": (404, None),
    "/api/%2e%2e/admin": (404, None),
    "/api/%2E%2E/admin": (404, None),
    "/api/.%2e/admin": (404, None),
    "/api/..%2fadmin": (400, None),             # encoded slash: refused by default
    "/api/..%2Fadmin": (400, None),
    "/api/..%5cadmin": (400, None),             # encoded backslash
    "/api/%252e%252e/admin": (400, None),       # double encoding: encoded percent refused
    "/api/%00/x": (400, None),                  # encoded NUL
    "/api/x%3b/y": (400, None),                 # encoded semicolon
    "/api/x%3fy": (400, None),                  # encoded question mark
    "/api/x%23y": (400, None),                  # encoded hash
    "/api/%zz": (400, None),                    # broken encoding
    "/admin/../api/x": (200, "/api/x"),
    "//api//x": (200, "/api/x"),
    "/api/a/b/../../c?q=/../admin": (200, "/api/c?q=/../admin"),  # the query is not a path
    "/%61pi/x": (200, "/api/x"),                # unreserved characters decoded
    "/api/caf%c3%a9": (200, "/api/caf%C3%A9"),  # others upper-cased, kept encoded
    "/../../api/x": (200, "/api/x"),            # never above the root
    "http://p.test/api/abs": (200, "/api/abs"), # absolute form: origin form upstream
}


@pytest.mark.parametrize("target", sorted(CASES))
def test_path_is_normalised_for_routing_and_upstream(env, target):
    g, api, admin = env
    want_status, want_upstream = CASES[target]
    status, body = send(g.port, target)
    assert status == want_status, (target, status, body)
    assert admin.request_lines() == []
    if want_upstream is None:
        assert api.request_lines() == []
    else:
        assert body == b"api"
        assert api.request_lines() == ["GET %s HTTP/1.1" % want_upstream]


def test_http2_paths_are_normalised_too(env):
    g, api, admin = env
    c = H2Client(g.port, validate=False)
    for path, want in (("/api/../admin", 404), ("/api/%2e%2e/admin", 404), ("/api/..%2fadmin", 400),
                       ("/api/y/../x", 200)):
        status, _, _ = c.response(c.request(path, "p.test"))
        assert status == want, (path, status)
    c.close()
    assert admin.request_lines() == []
    assert api.request_lines() == ["GET /api/x HTTP/1.1"]


def test_encoded_slash_can_be_allowed(tmp_path, procs):
    """allowEncodedSlash keeps %2F encoded: one segment for the router and
    the backend alike (Traefik's encodedCharacters)."""
    api, admin = RecordingUpstream(body=b"api"), RecordingUpstream(body=b"admin")
    g = procs.gantry(tmp_path, config(api, admin),
                     args=["--entryPoints.web.http.encodedCharacters.allowEncodedSlash=true"])
    status, _ = send(g.port, "/api/a%2fb")
    assert status == 200 and api.request_lines() == ["GET /api/a%2Fb HTTP/1.1"]
    assert send(g.port, "/api/%5c")[0] == 400  # the others are still refused
    assert admin.request_lines() == []
    api.stop()
    admin.stop()


def test_sanitize_path_can_be_disabled(tmp_path, procs):
    api, admin = RecordingUpstream(body=b"api"), RecordingUpstream(body=b"admin")
    g = procs.gantry(tmp_path, config(api, admin), args=["--entryPoints.web.http.sanitizePath=false"])
    status, _ = send(g.port, "/api/./x")
    assert status == 200 and api.request_lines() == ["GET /api/./x HTTP/1.1"]
    api.stop()
    admin.stop()
