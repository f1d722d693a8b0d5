"""basicAuth and digestAuth against the real binary: htpasswd/htdigest files
made by Debian's apache2-utils, real clients (curl -u, curl --digest), the
401 exactly as Traefik sends it, headerField/removeHeader as the upstream
sees them, Traefik's documented examples, digest replay and stale nonces,
and fail closed on a users file that cannot be read.
"""
import hashlib
import os
import re
import subprocess

from attack import RecordingUpstream
from conftest import get, service_yaml, wait_for

# Traefik's documentation examples (passwords: test / test2)
DOC_BASIC = ["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/", "test2:$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0"]
DOC_DIGEST = ["test:traefik:a2688e031edb4be6a3797f3882655c05", "test2:traefik:518845800f9e2bfb1f1f740ec24f074e"]


def upstream_header(up, name, i=-1):
    for line in up.requests[i][0].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name.lower().encode():
            return v.strip().decode()
    return None


def curl(port, host, *args, path="/"):
    """Status code, headers (lowercased names) and body of one curl request."""
    r = subprocess.run(["curl", "-s", "-i", "--max-time", "20", "-H", "Host: " + host] + list(args) +
                       ["http://127.0.0.1:%d%s" % (port, path)], capture_output=True, timeout=30)
    raw = r.stdout
    # with --digest curl prints the 401 first, then the final response
    last = raw.rsplit(b"\r\n\r\nHTTP/", 1)
    if len(last) == 2:
        raw = b"HTTP/" + last[1]
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, body


def htpasswd(path, flag, user, password):
    subprocess.run(["htpasswd", "-b", flag] + (["-c"] if not os.path.exists(path) else []) + [path, user, password],
                   check=True, capture_output=True)


def htdigest(path, realm, user, password):
    """htdigest only prompts: feed it the password twice on stdin."""
    args = ["htdigest"] + (["-c"] if not os.path.exists(path) else []) + [path, realm, user]
    subprocess.run(args, input=("%s\n%s\n" % (password, password)).encode(), check=True, capture_output=True)


def yaml_list(items):
    return "[" + ", ".join('"%s"' % i for i in items) + "]"


def test_basic_auth_htpasswd_formats_with_curl(tmp_path, procs):
    up = RecordingUpstream()
    users = str(tmp_path / "htpasswd")
    htpasswd(users, "-B", "bcrypt", "pw-bcrypt")
    htpasswd(users, "-m", "apr1", "pw-apr1")
    htpasswd(users, "-s", "sha1", "pw-sha1")
    htpasswd(users, "-d", "crypt", "pw-crypt")
    with open(users, "a") as f:
        f.write("# a comment\n\nplain:pw-plain\n")
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`b.test`)\", service: app, middlewares: [auth]}\n"
                     "  middlewares:\n"
                     "    auth:\n      basicAuth:\n        usersFile: \"%s\"\n" % users +
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/", "b.test")[0] == 401, what="route live")
    for user in ("bcrypt", "apr1", "sha1"):
        status, _, body = curl(g.port, "b.test", "-u", "%s:pw-%s" % (user, user))
        assert (status, body) == (200, b"ok"), user
        assert upstream_header(up, "Authorization").startswith("Basic ")  # kept by default
        status, headers, _ = curl(g.port, "b.test", "-u", "%s:wrong" % user)
        assert status == 401 and headers["www-authenticate"] == 'Basic realm="traefik"', user
    # DES crypt (htpasswd -d) and plain text: go-http-auth never matches them, nor do we
    served = len(up.requests)
    assert curl(g.port, "b.test", "-u", "crypt:pw-crypt")[0] == 401
    assert curl(g.port, "b.test", "-u", "plain:pw-plain")[0] == 401
    assert curl(g.port, "b.test", "-u", "nobody:pw-apr1")[0] == 401
    assert len(up.requests) == served


def test_basic_auth_401_is_traefiks(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`b.test`)\", service: app, middlewares: [auth]}\n"
                     "  middlewares:\n"
                     "    auth: {basicAuth: {users: %s, realm: \"my realm\"}}\n" % yaml_list(DOC_BASIC) +
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/", "b.test")[0] == 401, what="route live")
    for hdrs in ({}, {"Authorization": "Basic"}, {"Authorization": "Basic !!!"}, {"Authorization": "Bearer dGVzdDp0ZXN0"},
                 {"Authorization": "Basic dGVzdDp0ZXN0="}, {"Authorization": "Basic dGVzdHRlc3Q="}):
        status, headers, body = get(g.port, "/x", "b.test", headers=hdrs)
        assert status == 401, hdrs
        assert headers["www-authenticate"] == 'Basic realm="my realm"'
        assert headers["content-type"] == "text/plain"
        assert body == b"401 Unauthorized\n"
    assert up.requests == []
    # the documented users: test/test and test2/test2
    assert get(g.port, "/", "b.test", headers={"Authorization": "Basic dGVzdDp0ZXN0"})[0] == 200
    assert curl(g.port, "b.test", "-u", "test2:test2")[0] == 200
    assert curl(g.port, "b.test", "-u", "test2:test")[0] == 401
    # HEAD gets the same answer without a body
    status, headers, body = get(g.port, "/", "b.test", method="HEAD")
    assert status == 401 and headers["www-authenticate"] == 'Basic realm="my realm"' and body == b""


def test_basic_auth_header_field_and_remove_header(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`h.test`)\", service: app, middlewares: [auth]}\n"
                     "    k: {rule: \"Host(`k.test`)\", service: app, middlewares: [keep]}\n"
                     "  middlewares:\n"
                     "    auth: {basicAuth: {users: %s, headerField: X-WebAuth-User, removeHeader: true}}\n"
                     % yaml_list(DOC_BASIC) +
                     "    keep: {basicAuth: {users: %s, headerField: X-WebAuth-User}}\n" % yaml_list(DOC_BASIC) +
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/", "h.test")[0] == 401, what="route live")
    status, _, _ = curl(g.port, "h.test", "-u", "test2:test2", "-H", "X-WebAuth-User: admin")
    assert status == 200
    assert upstream_header(up, "X-WebAuth-User") == "test2"
    assert upstream_header(up, "Authorization") is None
    assert curl(g.port, "k.test", "-u", "test:test")[0] == 200
    assert upstream_header(up, "X-WebAuth-User") == "test"
    assert upstream_header(up, "Authorization") == "Basic dGVzdDp0ZXN0"
    # a refused request never reaches the upstream, forged header or not
    served = len(up.requests)
    assert curl(g.port, "h.test", "-u", "test:nope", "-H", "X-WebAuth-User: test")[0] == 401
    assert len(up.requests) == served


def test_users_override_the_file_and_bad_files_fail_closed(tmp_path, procs):
    up = RecordingUpstream()
    users = str(tmp_path / "htpasswd")
    htpasswd(users, "-m", "test", "from-file")
    htpasswd(users, "-m", "other", "other-pw")
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`m.test`)\", service: app, middlewares: [merged]}\n"
                     "    gone: {rule: \"Host(`gone.test`)\", service: app, middlewares: [nofile]}\n"
                     "    bad: {rule: \"Host(`bad.test`)\", service: app, middlewares: [badline]}\n"
                     "  middlewares:\n"
                     "    merged: {basicAuth: {usersFile: \"%s\", users: %s}}\n" % (users, yaml_list(DOC_BASIC[:1])) +
                     "    nofile: {basicAuth: {usersFile: \"%s/missing\"}}\n" % tmp_path +
                     "    badline: {digestAuth: {users: [\"test:a2688e031edb4be6a3797f3882655c05\"]}}\n"
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/", "m.test")[0] == 401, what="route live")
    # Traefik: the `users` entry replaces the file's line for the same name
    assert curl(g.port, "m.test", "-u", "test:test")[0] == 200
    assert curl(g.port, "m.test", "-u", "test:from-file")[0] == 401
    assert curl(g.port, "m.test", "-u", "other:other-pw")[0] == 200
    served = len(up.requests)
    assert get(g.port, "/", "gone.test")[0] == 404
    assert get(g.port, "/", "bad.test")[0] == 404
    assert len(up.requests) == served
    rs = {r["name"]: r for r in g.api("/api/http/routers")}
    assert rs["gone@file"]["status"] == "disabled"
    assert "usersFile: cannot read" in " ".join(rs["gone@file"]["error"])
    assert "expected name:realm:encoded-password" in " ".join(rs["bad@file"]["error"])
    assert "a2688e031edb4be6a3797f3882655c05" not in " ".join(rs["bad@file"]["error"])  # no secret in the API


def test_digest_auth_htdigest_with_curl(tmp_path, procs):
    up = RecordingUpstream()
    users = str(tmp_path / "htdigest")
    htdigest(users, "traefik", "alice", "alice-pw")
    htdigest(users, "traefik", "bob", "bob-pw")
    htdigest(users, "elsewhere", "carol", "carol-pw")
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`d.test`)\", service: app, middlewares: [digest]}\n"
                     "    h: {rule: \"Host(`h.test`)\", service: app, middlewares: [hdr]}\n"
                     "  middlewares:\n"
                     "    digest: {digestAuth: {usersFile: \"%s\"}}\n" % users +
                     "    hdr: {digestAuth: {users: %s, headerField: X-WebAuth-User, removeHeader: true}}\n"
                     % yaml_list(DOC_DIGEST) +
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/", "d.test")[0] == 401, what="route live")
    status, _, body = curl(g.port, "d.test", "--digest", "-u", "alice:alice-pw", path="/dir/index.html?x=1")
    assert (status, body) == (200, b"ok")
    assert upstream_header(up, "Authorization").startswith("Digest username=\"alice\"")
    assert curl(g.port, "d.test", "--digest", "-u", "bob:bob-pw")[0] == 200
    served = len(up.requests)
    assert curl(g.port, "d.test", "--digest", "-u", "bob:alice-pw")[0] == 401
    assert curl(g.port, "d.test", "--digest", "-u", "carol:carol-pw")[0] == 401  # another realm's user
    assert curl(g.port, "d.test", "-u", "alice:alice-pw")[0] == 401  # Basic is not Digest
    assert len(up.requests) == served
    # Traefik's documented users, with headerField and removeHeader
    assert curl(g.port, "h.test", "--digest", "-u", "test2:test2", "-H", "X-WebAuth-User: forged")[0] == 200
    assert upstream_header(up, "X-WebAuth-User") == "test2"
    assert upstream_header(up, "Authorization") is None


def parse_challenge(value):
    assert value.startswith("Digest ")
    return dict(re.findall(r'(\w+)="([^"]*)"', value))


def digest_header(ch, user, password, method, uri, nc, cnonce="0a4f113b", realm="traefik"):
    ha1 = hashlib.md5(("%s:%s:%s" % (user, realm, password)).encode()).hexdigest()
    ha2 = hashlib.md5(("%s:%s" % (method, uri)).encode()).hexdigest()
    resp = hashlib.md5(("%s:%s:%08x:%s:auth:%s" % (ha1, ch["nonce"], nc, cnonce, ha2)).encode()).hexdigest()
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5, qop=auth, nc=%08x, '
            'cnonce="%s", response="%s", opaque="%s"' % (user, realm, ch["nonce"], uri, nc, cnonce, resp, ch["opaque"]))


def test_digest_challenge_replay_and_stale(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`d.test`)\", service: app, middlewares: [digest]}\n"
                     "  middlewares:\n"
                     "    digest: {digestAuth: {users: %s}}\n" % yaml_list(DOC_DIGEST) +
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/", "d.test")[0] == 401, what="route live")
    status, headers, body = get(g.port, "/a", "d.test")
    assert status == 401 and headers["content-type"] == "text/plain" and body == b"401 Unauthorized\n"
    value = headers["www-authenticate"]
    assert re.fullmatch(r'Digest realm="traefik", nonce="[0-9a-f]{56}", opaque="[A-Za-z0-9+/]{16}", '
                        r'algorithm="MD5", qop="auth"', value), value
    ch = parse_challenge(value)

    def send(nc, uri="/a", method="GET", password="test", c=ch):
        return get(g.port, uri, "d.test", method=method,
                   headers={"Authorization": digest_header(c, "test", password, method, uri, nc)})

    assert send(1)[0] == 200
    status, headers, _ = send(1)  # the same request again: a replay
    assert status == 401 and "stale" not in headers["www-authenticate"]
    assert send(2)[0] == 200
    assert send(5, uri="/a/b?c=d")[0] == 200
    status, headers, _ = send(3)  # lower than the last count: out of order
    assert status == 401 and 'stale="true", algorithm="MD5"' in headers["www-authenticate"]
    # the stale challenge's fresh nonce works at once
    assert send(1, c=parse_challenge(headers["www-authenticate"]))[0] == 200
    assert send(6, password="wrong")[0] == 401
    # a nonce we never issued
    forged = dict(ch, nonce=ch["nonce"][:-1] + ("0" if ch["nonce"][-1] != "0" else "1"))
    assert send(1, c=forged)[0] == 401
    # another middleware instance's opaque is refused
    assert send(7, c=dict(ch, opaque="AAAAAAAAAAAAAAAA"))[0] == 401
    assert send(8, method="POST")[0] == 200


def test_basic_auth_cache_spares_bcrypt_and_follows_the_configuration(tmp_path, procs):
    import time
    up = RecordingUpstream()
    users = str(tmp_path / "htpasswd")
    subprocess.run(["htpasswd", "-cbB", "-C", "12", users, "slow", "pw"], check=True, capture_output=True)
    dyn = ("http:\n  routers:\n"
           "    r: {rule: \"Host(`c.test`)\", service: app, middlewares: [auth]}\n"
           "  middlewares:\n"
           "    auth: {basicAuth: {usersFile: \"%s\"}}\n" % users +
           "  services:\n" + service_yaml("app", [up.url]))
    g = procs.gantry(tmp_path, dyn)
    wait_for(lambda: get(g.port, "/", "c.test")[0] == 401, what="route live")
    ok = {"Authorization": "Basic c2xvdzpwdw=="}  # slow:pw
    t0 = time.monotonic()
    assert get(g.port, "/", "c.test", headers=ok)[0] == 200
    one = time.monotonic() - t0  # one bcrypt at cost 12
    t0 = time.monotonic()
    for _ in range(12):  # new connections: each worker pays at most once more
        assert get(g.port, "/", "c.test", headers=ok)[0] == 200
    assert time.monotonic() - t0 < 4 * one, (one, time.monotonic() - t0)
    assert get(g.port, "/", "c.test", headers={"Authorization": "Basic c2xvdzpwdXc="})[0] == 401
    # a new password in a new configuration: the old credentials stop working at once
    subprocess.run(["htpasswd", "-bB", "-C", "4", users, "slow", "new"], check=True, capture_output=True)
    g.write(dyn.replace("usersFile:", "realm: r2, usersFile:"))  # the file is read when the configuration changes
    wait_for(lambda: get(g.port, "/", "c.test", headers=ok)[0] == 401, what="new users list")
    assert curl(g.port, "c.test", "-u", "slow:new")[0] == 200


def test_errors_middleware_in_front_replaces_the_401_page(tmp_path, procs):
    up, pages = RecordingUpstream(), RecordingUpstream(body=b"custom page")
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`e.test`)\", service: app, middlewares: [oops, auth]}\n"
                     "  middlewares:\n"
                     "    oops: {errors: {status: [\"401\"], service: pages, query: \"/{status}.html\"}}\n"
                     "    auth: {basicAuth: {users: %s}}\n" % yaml_list(DOC_BASIC) +
                     "  services:\n" + service_yaml("app", [up.url]) + service_yaml("pages", [pages.url]))
    wait_for(lambda: get(g.port, "/", "e.test")[0] == 401, what="route live")
    status, _, body = get(g.port, "/", "e.test")
    assert status == 401 and body == b"custom page"
    assert pages.requests[-1][0].split(b" ")[1] == b"/401.html"
    assert up.requests == []
    assert curl(g.port, "e.test", "-u", "test:test")[0] == 200
