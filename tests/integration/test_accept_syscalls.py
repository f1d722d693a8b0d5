"""Accepting a connection costs accept4, TCP_NODELAY and the epoll
registration: the client's address comes with accept4 (no getpeername) and
the socket is non-blocking from accept4 on (libh2o's F_SETFL O_NONBLOCK is
answered in the executable, proxy/accept_fcntl.c; not in sanitizer builds).
The address still reaches the upstream, from whichever loopback address the
client used."""
import json
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import SANITIZED, SLOW, service_yaml


def config(up):
    return ("http:\n  routers:\n    a: {rule: \"Host(`acc.test`)\", service: a}\n"
            "  services:\n" + service_yaml("a", [up.url]))


def request_from(source, port):
    """One GET on a fresh connection from <source>; the upstream's view of it."""
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(10 * SLOW)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /?format=json HTTP/1.1\r\nHost: acc.test\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    if b"chunked" in head.lower():  # whoami may chunk: take the JSON object between the braces
        body = body[body.index(b"{"):body.rindex(b"}") + 1]
    return {k.lower(): v for k, v in json.loads(body)["headers"].items()}


def test_a_connection_is_accepted_without_getpeername_or_fcntl(tmp_path, procs):
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (scripts/deps.sh installs it)")
    up = procs.whoami()
    # LeakSanitizer cannot run under ptrace
    g = procs.gantry(tmp_path, config(up), env_extra={"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0"})
    trace = tmp_path / "accept.trace"
    strace = subprocess.Popen(["strace", "-f", "-e", "trace=accept4,fcntl,getpeername", "-o", str(trace),
                               "-p", str(g.proc.pid)], stderr=subprocess.PIPE, text=True)
    attached = strace.stderr.readline()
    if "attached" not in attached:
        strace.kill()
        pytest.skip("strace cannot attach here: " + attached.strip())
    time.sleep(0.3 * SLOW)  # every thread attached (strace announces the first one)
    seen = []
    for i in range(10):
        source = "127.0.0.%d" % (2 + i % 3)
        h = request_from(source, g.port)
        seen.append((source, h.get("x-real-ip"), h.get("x-forwarded-for")))
    time.sleep(0.3 * SLOW)
    strace.terminate()
    strace.wait(10 * SLOW)
    calls = trace.read_text().splitlines()
    accepted = set()
    for c in calls:
        m = re.search(r"accept4\(\d+, \{sa_family=AF_INET.*\) = (\d+)$", c)
        if m:
            accepted.add(m.group(1))
    # the client's address as accept4 gave it, from three different sources
    assert all(real == src and xff == src for src, real, xff in seen), seen
    assert len(accepted) >= 1, calls[:20]
    on_accepted = [c for c in calls for fd in accepted
                   if re.search(r"\b(getpeername|fcntl)\(%s, " % fd, c) and "F_GETFL" not in c]
    getpeername = [c for c in on_accepted if "getpeername" in c]
    print("accept4: %d descriptor numbers; getpeername %d on them" % (len(accepted), len(getpeername)))
    assert getpeername == [], getpeername[:5]
    if not SANITIZED:  # the fcntl answer is left out of sanitizer builds
        # an accepted descriptor number may be reused for an upstream socket, whose F_SETFL is real:
        # only calls right after an accept4 of that number count
        after_accept = []
        last = {}
        for c in calls:
            m = re.search(r"accept4\(\d+, \{sa_family=AF_INET.*\) = (\d+)$", c)
            if m:
                last[m.group(1)] = True
                continue
            m = re.search(r"fcntl\((\d+), F_SETFL", c)
            if m and last.pop(m.group(1), False):
                after_accept.append(c)
            m = re.search(r"getpeername\((\d+),", c)
            if m:
                last.pop(m.group(1), None)
        assert after_accept == [], after_accept[:5]
