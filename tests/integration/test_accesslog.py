"""Access logs in Traefik's common format and in JSON, for traffic the test
sent: router, service, upstream address, status, bytes, duration; escaping
of client-controlled text; SIGHUP reopens the file (log rotation)."""
import json
import os
import re
import signal

from conftest import get, service_yaml, wait_for


def config(up):
    return ("http:\n  routers:\n    r:\n      rule: \"Host(`log.test`)\"\n      service: s\n"
            "  services:\n" + service_yaml("s", [up.url]))


def lines(path, n):
    def enough():
        if not os.path.exists(path):
            return None
        with open(path) as f:
            got = f.read().splitlines()
        return got if len(got) >= n else None
    return wait_for(enough, what="%d access log lines in %s" % (n, path))


def test_common_format(tmp_path, procs):
    up = procs.whoami()
    log = str(tmp_path / "access.log")
    g = procs.gantry(tmp_path, config(up), args=["--accessLog.filePath=" + log])
    assert get(g.port, "/bytes/123?q=1", "log.test", headers={"User-Agent": "tester/1.0", "Referer": "http://ref/"})[0] == 200
    assert get(g.port, "/x", "unknown.test")[0] == 404
    got = lines(log, 2)
    rx = re.compile(r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /bytes/123\?q=1 HTTP/1\.1" 200 123 '
                    r'"http://ref/" "tester/1\.0" \d+ "r@file" "%s" \d+ms$' % re.escape(up.url))
    assert any(rx.match(l) for l in got), got
    assert any(re.search(r'"GET /x HTTP/1\.1" 404 19 "-" "-" \d+ "-" "-" \d+ms$', l) for l in got), got


def test_json_format_and_escaping(tmp_path, procs):
    up = procs.whoami()
    log = str(tmp_path / "access.json")
    g = procs.gantry(tmp_path, config(up), args=["--accessLog.filePath=" + log, "--accessLog.format=json"])
    assert get(g.port, "/upload", "log.test", method="POST", body=b"y" * 500,
               headers={"User-Agent": 'evil"\\agent'})[0] == 200
    entry = json.loads(lines(log, 1)[0])
    assert entry["RequestMethod"] == "POST" and entry["RequestPath"] == "/upload"
    assert entry["DownstreamStatus"] == 200 and entry["DownstreamContentSize"] > 0
    assert entry["RouterName"] == "r@file" and entry["ServiceName"] == "s@file" and entry["ServiceURL"] == up.url
    assert entry["entryPointName"] == "web" and entry["RequestHost"] == "log.test"
    assert entry["request_User-Agent"] == 'evil"\\agent'  # escaped in the file, intact once parsed
    assert entry["Duration"] > 0 and entry["StartUTC"].endswith("Z")


def test_sighup_reopens_the_file(tmp_path, procs):
    up = procs.whoami()
    log = str(tmp_path / "access.log")
    g = procs.gantry(tmp_path, config(up), args=["--accessLog.filePath=" + log])
    get(g.port, "/first", "log.test")
    lines(log, 1)
    os.rename(log, log + ".1")  # what logrotate does
    g.proc.send_signal(signal.SIGHUP)
    g.wait_log(r"SIGHUP received")
    def second_in_new_file():  # the reopen is asynchronous: retry until the new file gets lines
        get(g.port, "/second", "log.test")
        return os.path.exists(log) and "/second" in open(log).read()
    wait_for(second_in_new_file, what="lines in the reopened file")
    with open(log + ".1") as f:
        assert "/first" in f.read()
