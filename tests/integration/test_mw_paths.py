"""The path and redirect middlewares against the real binary: what the
upstream receives (RecordingUpstream) after replacePath, replacePathRegex
and stripPrefixRegex, the status and Location curl sees from
redirectRegex, encodedCharacters' 400s under an entry point that allows
more, and Traefik's documentation examples for each (file form; the label
forms are decoded in tests/fixtures/docker/path_middlewares.json and built
in the unit tests).
"""
from attack import RecordingUpstream
from conftest import get, run, service_yaml, wait_for


def target(up, i=-1):
    return up.requests[i][0].split(b"\r\n", 1)[0].split(b" ")[1].decode()


def headers(up, name, i=-1):
    out = []
    for line in up.requests[i][0].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name.lower().encode():
            out.append(v.strip().decode())
    return out


def header(up, name, i=-1):
    h = headers(up, name, i)
    return h[0] if h else None


def curl(port, path, host, *extra):
    """(status, location, body) as curl sees them (no redirect following)."""
    r = run(["curl", "-s", "--path-as-is", "-o", "-", "-w", "\n%{http_code} %{redirect_url}", "-H", "Host: " + host]
            + list(extra) + ["http://127.0.0.1:%d%s" % (port, path)])
    body, _, tail = r.stdout.decode(errors="replace").rpartition("\n")
    status, _, location = tail.partition(" ")
    return int(status), location, body


ALLOW_ALL = ["--entryPoints.web.http.encodedCharacters.%s=true" % k for k in (
    "allowEncodedSlash", "allowEncodedBackSlash", "allowEncodedNullCharacter", "allowEncodedSemicolon",
    "allowEncodedPercent", "allowEncodedQuestionMark", "allowEncodedHash")]


def test_replace_path(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`rp.test`)\", service: app, middlewares: [test-replacepath]}\n"
                     "  middlewares:\n"
                     "    test-replacepath:\n      replacePath:\n        path: \"/foo\"\n"  # Traefik's example
                     "  services:\n" + service_yaml("app", [up.url]), args=ALLOW_ALL)
    wait_for(lambda: get(g.port, "/bar/baz", "rp.test")[0] == 200, what="route live")
    assert target(up) == "/foo" and header(up, "X-Replaced-Path") == "/bar/baz"
    # the query goes on; Go's URL.String() puts it in the header as well
    assert get(g.port, "/bar?x=1", "rp.test")[0] == 200
    assert target(up) == "/foo?x=1" and header(up, "X-Replaced-Path") == "/bar?x=1"
    # a path Go keeps encoded (RawPath): the header is that path alone
    assert get(g.port, "/a%2Fb?x=1", "rp.test")[0] == 200
    assert target(up) == "/foo?x=1" and header(up, "X-Replaced-Path") == "/a%2Fb"
    # the value is added after any the client sent (Go's Header.Add, as Traefik)
    assert get(g.port, "/z", "rp.test", headers={"X-Replaced-Path": "/sent"})[0] == 200
    assert headers(up, "X-Replaced-Path") == ["/sent", "/z"]


def test_replace_path_regex(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`rx.test`)\", service: app, middlewares: [test-replacepathregex]}\n"
                     "    named: {rule: \"Host(`named.test`)\", service: app, middlewares: [named]}\n"
                     "    bad: {rule: \"Host(`bad.test`)\", service: app, middlewares: [badescape]}\n"
                     "  middlewares:\n"
                     "    test-replacepathregex:\n      replacePathRegex:\n"   # Traefik's example
                     "        regex: \"^/foo/(.*)\"\n        replacement: \"/bar/$1\"\n"
                     "    named: {replacePathRegex: {regex: '^/api/(?P<ver>v[0-9]+)/(?P<rest>.*)', replacement: '/${rest}/${ver}x'}}\n"
                     "    badescape: {replacePathRegex: {regex: '^/(.*)', replacement: '/%zz/$1'}}\n"
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: get(g.port, "/foo/a/b?q=1", "rx.test")[0] == 200, what="route live")
    assert target(up) == "/bar/a/b?q=1" and header(up, "X-Replaced-Path") == "/foo/a/b"
    assert get(g.port, "/other", "rx.test")[0] == 200
    assert target(up) == "/other" and header(up, "X-Replaced-Path") is None
    assert get(g.port, "/api/v2/users", "named.test")[0] == 200 and target(up) == "/users/v2x"
    # a result that is not a valid escaped path: Traefik's 500, nothing sent upstream
    n = len(up.requests)
    status, _, body = get(g.port, "/x", "bad.test")
    assert status == 500 and len(up.requests) == n


def test_strip_prefix_regex(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    r: {rule: \"Host(`sx.test`)\", service: app, middlewares: [test-stripprefixregex]}\n"
                     "    ctl: {rule: \"Host(`ctl.test`)\", service: app, middlewares: [ctl]}\n"
                     "    multi: {rule: \"Host(`multi.test`)\", service: app, middlewares: [multi]}\n"
                     "  middlewares:\n"
                     "    test-stripprefixregex:\n      stripPrefixRegex:\n"  # Traefik's example
                     "        regex:\n          - \"/foo/[a-z0-9]+/[0-9]+/\"\n"
                     "    ctl: {stripPrefixRegex: {regex: ['/a[^/]']}}\n"
                     "    multi: {stripPrefixRegex: {regex: ['/v[0-9]{1,2}', '/api']}}\n"
                     "  services:\n" + service_yaml("app", [up.url]), args=ALLOW_ALL)
    wait_for(lambda: get(g.port, "/foo/abc/123/bar?x=1", "sx.test")[0] == 200, what="route live")
    assert target(up) == "/bar?x=1" and header(up, "X-Forwarded-Prefix") == "/foo/abc/123/"
    assert get(g.port, "/foo/abc/123/", "sx.test")[0] == 200 and target(up) == "/"
    assert get(g.port, "/foo/abc/x/", "sx.test")[0] == 200 and target(up) == "/foo/abc/x/"
    assert header(up, "X-Forwarded-Prefix") is None
    # an encoded slash after the prefix stays encoded
    assert get(g.port, "/foo/a/1/x%2Fy", "sx.test")[0] == 200 and target(up) == "/x%2Fy"
    # a list given in YAML: a regex with a comma inside {m,n} stays whole
    assert get(g.port, "/v12/x", "multi.test")[0] == 200 and target(up) == "/x"
    assert header(up, "X-Forwarded-Prefix") == "/v12"
    assert get(g.port, "/api/y", "multi.test")[0] == 200 and target(up) == "/y"
    # a decoded control character cannot go in X-Forwarded-Prefix: 502, as Go refuses to send it
    n = len(up.requests)
    assert get(g.port, "/a%0A/x", "ctl.test")[0] == 502 and len(up.requests) == n
    assert get(g.port, "/ab/x", "ctl.test")[0] == 200 and target(up) == "/x"


def test_redirect_regex(tmp_path, procs):
    up = RecordingUpstream()
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    docs: {rule: \"Host(`localhost`) || Host(`localhost:8080`)\", service: app, middlewares: [test-redirectregex]}\n"
                     "    foo: {rule: \"HostRegexp(`^(foo|bar)\\\\.com$`)\", service: app, middlewares: [foobar]}\n"
                     "    perm: {rule: \"Host(`perm.test`)\", service: app, middlewares: [perm]}\n"
                     "    same: {rule: \"Host(`same.test`)\", service: app, middlewares: [same]}\n"
                     "    invalid: {rule: \"Host(`invalid.test`)\", service: app, middlewares: [invalid]}\n"
                     "  middlewares:\n"
                     "    test-redirectregex:\n      redirectRegex:\n"  # Traefik's example
                     "        regex: \"^http://localhost/(.*)\"\n        replacement: \"http://mydomain/${1}\"\n"
                     "    foobar: {redirectRegex: {regex: '^(?:http?:\\/\\/)(foo)(\\.com)(:\\d+)(.*)$', replacement: 'https://${1}bar$2:443$4'}}\n"
                     "    perm: {redirectRegex: {regex: '^http://', replacement: 'https://', permanent: true}}\n"
                     "    same: {redirectRegex: {regex: '^(.*)$', replacement: '$1'}}\n"
                     "    invalid: {redirectRegex: {regex: '^(.*)$', replacement: 'http://192.168.0.%31/'}}\n"
                     "  services:\n" + service_yaml("app", [up.url]))
    wait_for(lambda: curl(g.port, "/", "localhost")[0] == 302, what="route live")
    assert curl(g.port, "/a/b?c=d", "localhost") == (302, "http://mydomain/a/b?c=d", "Found")
    assert curl(g.port, "/a", "localhost", "-X", "POST", "-d", "x")[:2] == (307, "http://mydomain/a")
    # the Host's port is part of the URL: this one does not match, the request goes on
    assert curl(g.port, "/a", "localhost:8080")[0] == 200 and target(up) == "/a"
    # Traefik's own test case
    assert curl(g.port, "/", "foo.com:80")[:2] == (302, "https://foobar.com:443/")
    assert curl(g.port, "/", "bar.com:80")[0] == 200
    assert curl(g.port, "/p?q", "perm.test")[:2] == (301, "https://perm.test/p?q")
    assert curl(g.port, "/p", "perm.test", "-X", "PUT", "-d", "")[:2] == (308, "https://perm.test/p")
    # the same URL again: no redirect (no loop), served
    assert curl(g.port, "/s", "same.test")[0] == 200 and target(up) == "/s"
    # a result Go cannot parse: 502
    n = len(up.requests)
    assert curl(g.port, "/", "invalid.test")[0] == 502 and len(up.requests) == n


def test_encoded_characters(tmp_path, procs):
    up = RecordingUpstream()
    dyn = ("http:\n  routers:\n"
           "    strict: {rule: \"Host(`strict.test`)\", service: app, middlewares: [strict]}\n"
           "    slash: {rule: \"Host(`slash.test`)\", service: app, middlewares: [test-encodedchars]}\n"
           "    open: {rule: \"Host(`open.test`)\", service: app}\n"
           "  middlewares:\n"
           "    strict: {encodedCharacters: {}}\n"
           "    test-encodedchars:\n      encodedCharacters:\n        allowEncodedSlash: true\n"  # Traefik's example
           "  services:\n" + service_yaml("app", [up.url]))
    # the entry point allows every encoded character except %3F: routers decide
    args = [a for a in ALLOW_ALL if "QuestionMark" not in a]
    g = procs.gantry(tmp_path, dyn, args=args)
    wait_for(lambda: get(g.port, "/x", "strict.test")[0] == 200, what="route live")
    for enc in ("%2F", "%2f", "%5C", "%00", "%3B", "%25", "%23"):
        n = len(up.requests)
        assert curl(g.port, "/a%sb" % enc, "strict.test")[0] == 400, enc
        assert len(up.requests) == n
        assert curl(g.port, "/a%sb" % enc, "open.test")[0] == 200, enc
    assert curl(g.port, "/a%2Fb", "slash.test")[0] == 200 and target(up) == "/a%2Fb"
    assert curl(g.port, "/a%3Bb", "slash.test")[0] == 400
    # other encodings and the query are not the middleware's business
    assert curl(g.port, "/a%20b?x=%2F", "strict.test")[0] == 200
    # the entry point refuses first: the middleware cannot allow what it refuses
    assert curl(g.port, "/a%3Fb", "open.test")[0] == 400


def test_content_type(tmp_path, procs):
    html = RecordingUpstream(body=b"  <html><body>" + b"hello " * 400 + b"</body></html>")
    png = RecordingUpstream(body=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    empty = RecordingUpstream(body=b"")
    g = procs.gantry(tmp_path, "http:\n  routers:\n"
                     "    html: {rule: \"Host(`html.test`)\", service: html, middlewares: [autodetect]}\n"
                     "    png: {rule: \"Host(`png.test`)\", service: png, middlewares: [autodetect]}\n"
                     "    empty: {rule: \"Host(`empty.test`)\", service: empty, middlewares: [autodetect]}\n"
                     "    plain: {rule: \"Host(`plain.test`)\", service: html}\n"
                     "    off: {rule: \"Host(`off.test`)\", service: html, middlewares: [off]}\n"
                     "    set: {rule: \"Host(`set.test`)\", service: html, middlewares: [autodetect, json]}\n"
                     "    gz: {rule: \"Host(`gz.test`)\", service: html, middlewares: [gzip, autodetect]}\n"
                     "    gz2: {rule: \"Host(`gz2.test`)\", service: html, middlewares: [autodetect, gzip]}\n"
                     "  middlewares:\n"
                     "    autodetect:\n      contentType: {}\n"  # Traefik's example
                     "    off: {contentType: {autoDetect: false}}\n"
                     "    json: {headers: {customResponseHeaders: {Content-Type: application/json}}}\n"
                     "    gzip: {compress: {}}\n"
                     "  services:\n" + service_yaml("html", [html.url]) + service_yaml("png", [png.url])
                     + service_yaml("empty", [empty.url]))
    wait_for(lambda: get(g.port, "/", "html.test")[0] == 200, what="route live")
    # Gantry, like Traefik, sends a response without Content-Type as it came
    assert "content-type" not in get(g.port, "/", "plain.test")[1]
    assert "content-type" not in get(g.port, "/", "off.test")[1]
    # the middleware detects it as Go's http.DetectContentType
    status, hdrs, body = get(g.port, "/", "html.test")
    assert hdrs["content-type"] == "text/html; charset=utf-8" and body.startswith(b"  <html>")
    assert get(g.port, "/", "png.test")[1]["content-type"] == "image/png"
    r = run(["curl", "-s", "-o", "/dev/null", "-w", "%{content_type}", "-H", "Host: png.test",
             "http://127.0.0.1:%d/" % g.port])
    assert r.stdout.decode() == "image/png"
    # no body, no detection (Go sniffs only what is written)
    assert "content-type" not in get(g.port, "/", "empty.test")[1]
    # a Content-Type set by another middleware wins (Traefik's documented behaviour)
    assert get(g.port, "/", "set.test")[1]["content-type"] == "application/json"
    # with compress, in either order: detected on the body as it came, then compressed
    import gzip
    for host in ("gz.test", "gz2.test"):
        status, hdrs, body = get(g.port, "/", host, headers={"Accept-Encoding": "gzip"})
        assert hdrs["content-type"] == "text/html; charset=utf-8" and hdrs.get("content-encoding") == "gzip", host
        assert gzip.decompress(body).startswith(b"  <html>")
