"""Shared fixtures for the integration tests: the real gantry binary, real
upstream servers (whoami, nginx, websockets) and real clients, all on
loopback. Helpers poll until a deadline; nothing sleeps and hopes.
"""
import atexit
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GANTRY_BIN = os.environ.get("GANTRY_BIN", os.path.join(ROOT, "build", "gantry"))
WHOAMI = os.path.join(ROOT, "examples", "whoami", "whoami.py")
PYTHON = "/usr/bin/python3"
SANITIZED = os.environ.get("GANTRY_SANITIZED") == "1"
# sanitizer builds are several times slower: scale deadlines
SLOW = 4 if SANITIZED else 1

sys.path.insert(0, os.path.dirname(__file__))

# Everything a run writes (process logs, pytest's tmp_path folders, private
# dockerd roots) goes under one run directory, so that a run leaves /tmp as
# it found it: removed when the run passes, kept with its path printed when it
# fails (the logs are what one reads then).
_run_dir = None


def run_dir():
    global _run_dir
    if _run_dir is None:
        _run_dir = tempfile.mkdtemp(prefix="gantry-test.")
        atexit.register(_remove_if_empty)
    return _run_dir


def _remove_if_empty():
    """Outside pytest (bench/ using dockerenv), nothing removes the run
    directory: it goes at exit once its users have emptied it."""
    try:
        os.rmdir(_run_dir)
    except OSError:
        pass


@pytest.hookimpl(tryfirst=True)  # before pytest's tmpdir plugin reads --basetemp
def pytest_configure(config):
    if config.option.basetemp is None:
        config.option.basetemp = os.path.join(run_dir(), "pytest")


def _run_passed(exitstatus):
    return exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _run_dir is not None and not _run_passed(exitstatus):
        terminalreporter.write_line("gantry: run directory kept for the failure (logs, tmp_path folders): %s" % _run_dir)


def pytest_sessionfinish(session, exitstatus):
    if _run_dir is not None and _run_passed(exitstatus):
        shutil.rmtree(_run_dir, ignore_errors=True)

# attack tests hold a thousand sockets, and gantry (a child) as many
try:
    import resource
    _soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if _hard == resource.RLIM_INFINITY or _hard > 65536:
        _hard = 65536
    if _soft < _hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
except (ImportError, ValueError, OSError):
    pass


_handed_out = set()


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A free port below the kernel's ephemeral range: a port taken by
    bind(0) is in that range, and an outgoing connection (gantry's ACME or
    Kubernetes client, a test's curl) may take it as its source port before
    the process meant to listen on it binds it (seen once in CI: the admin
    listener failed with EADDRINUSE). Ports are not handed out twice."""
    lo, _ = _ephemeral_range()
    top = min(lo, 65536) - 1
    bottom = max(1024, top - 12000)
    rng = random.Random()
    for _ in range(2000):
        port = rng.randint(bottom, top)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as s:  # the low range is full: fall back to the kernel's choice
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProcessExited(AssertionError):
    """A process a test waits on has exited: waiting longer cannot help."""


def wait_for(predicate, timeout=5.0, interval=0.02, what="condition"):
    """Polls <predicate> until it returns a truthy value or the deadline passes."""
    deadline = time.time() + timeout * SLOW
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except ProcessExited:
            raise
        except Exception as e:  # noqa: BLE001 - report the last failure
            last = e
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def wait_port(port, host="127.0.0.1", timeout=5.0, proc=None):
    """Waits for a listener on <port>; with <proc> (a Process), fails at once
    with the end of its output when it has exited instead."""
    def ok():
        if proc is not None and not proc.alive():
            raise ProcessExited("%s exited (%s) before port %d listened:\n%s"
                                 % (proc.name, proc.proc.returncode, port, proc.output()[-3000:]))
        with socket.create_connection((host, port), timeout=0.5):
            return True
    wait_for(ok, timeout, what="port %d" % port)


class Http:
    """A tiny HTTP/1.1 client on raw sockets: full control, no retries."""

    @staticmethod
    def request(port, path="/", host="example.test", method="GET", headers=None, body=None, timeout=10):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * SLOW)
        hdrs = {"Host": host}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def get(port, path="/", host="example.test", **kw):
    return Http.request(port, path, host, **kw)


class Process:
    def __init__(self, args, name, env=None, cwd=None):
        self.name = name
        # named after the test that started it, for the run directory kept on failure
        test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0].rsplit("::", 1)[-1]
        prefix = (re.sub(r"[^\w.-]", "_", test)[:60] + "-" if test else "") + name + "-"
        fd, self.log_path = tempfile.mkstemp(prefix=prefix, suffix=".log", dir=run_dir())
        self.log = os.fdopen(fd, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=cwd)

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class Gantry(Process):
    """The real binary with a static configuration given as flags, and a
    dynamic configuration file the test can rewrite."""

    def __init__(self, tmpdir, dynamic=None, args=(), entrypoints=("web",), workers=2, check_exit=True, env_extra=None):
        self.dir = str(tmpdir)
        self.dynamic_path = os.path.join(self.dir, "dynamic.yaml")
        self.ports = {ep: free_port() for ep in entrypoints}
        self.admin_port = free_port()
        self.check_exit = check_exit
        if dynamic is not None:
            self.write(dynamic)
        argv = [GANTRY_BIN, "--workers=%d" % workers, "--log.level=DEBUG", "--admin.address=127.0.0.1:%d" % self.admin_port]
        for ep, port in self.ports.items():
            argv.append("--entryPoints.%s.address=127.0.0.1:%d" % (ep, port))
        if dynamic is not None:
            argv.append("--providers.file.filename=" + self.dynamic_path)
        argv += list(args)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        env.update(env_extra or {})
        super().__init__(argv, "gantry", env=env)
        self.port = self.ports[entrypoints[0]]

    def write(self, text):
        """Replaces the dynamic file atomically (write a temp file, rename)."""
        tmp = self.dynamic_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(textwrap.dedent(text))
        os.rename(tmp, self.dynamic_path)

    def wait_ready(self):
        for port in self.ports.values():
            wait_port(port, timeout=10, proc=self)
        wait_port(self.admin_port, timeout=10, proc=self)
        return self

    def admin(self, path, token=None):
        """GET on the admin listener: (status, body bytes)."""
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.admin_port, path))
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=10 * SLOW) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def api(self, path):
        status, body = self.admin(path)
        assert status == 200, (path, status, body[:500])
        return json.loads(body)

    def wait_log(self, pattern, timeout=5.0, start=0):
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.output(), start), timeout, what="log /%s/" % pattern)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        rc = super().stop(sig, timeout)
        out = self.output()
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "ThreadSanitizer"):
            assert marker not in out, "sanitizer report in gantry output:\n" + out[-6000:]
        if self.check_exit:
            assert rc == 0, "gantry exited with %r:\n%s" % (rc, out[-4000:])
        return rc


class Whoami(Process):
    def __init__(self, port=None, name=None):
        self.port = port or free_port()
        super().__init__([PYTHON, WHOAMI, "--port", str(self.port), "--name", name or "whoami-%d" % self.port], "whoami")
        wait_port(self.port)
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self, sig=signal.SIGTERM, timeout=5):
        return super().stop(sig, timeout)


@pytest.fixture
def procs():
    """Processes started by a test, stopped at its end (gantry last checked)."""
    started = []

    class Starter:
        def gantry(self, tmpdir, *a, **kw):
            g = Gantry(tmpdir, *a, **kw)
            started.append(g)
            return g.wait_ready()

        def whoami(self, *a, **kw):
            w = Whoami(*a, **kw)
            started.append(w)
            return w

        def add(self, p):
            started.append(p)
            return p

    yield Starter()
    errors = []
    for p in reversed(started):
        try:
            p.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        raise AssertionError("\n".join(errors))


def service_yaml(name, urls, extra=""):
    servers = "\n".join("          - url: \"%s\"" % u for u in urls)
    return ("    %s:\n      loadBalancer:\n        servers:\n%s\n" % (name, servers)) + extra


def whoami_json(port, path="/", host="example.test", **kw):
    status, headers, body = get(port, path + ("&" if "?" in path else "?") + "format=json", host, **kw)
    assert status == 200, (status, body[:300])
    return json.loads(body)


def run(cmd, timeout=60, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, timeout=timeout * SLOW, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (cmd, r.returncode, r.stdout.decode(errors="replace")[-2000:],
                                                          r.stderr.decode(errors="replace")[-2000:]))
    return r


class Nginx(Process):
    """nginx as a fast upstream: 'ok' on /, 16 KiB on /16k."""

    def __init__(self, tmpdir, port=None, workers=1):
        self.port = port or free_port()
        d = os.path.join(str(tmpdir), "nginx-%d" % self.port)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "16k"), "wb") as f:
            f.write(b"x" * 16384)
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(textwrap.dedent("""\
                worker_processes %d;
                daemon off;
                pid %s/nginx.pid;
                error_log %s/error.log;
                events { worker_connections 4096; }
                http {
                  access_log off;
                  keepalive_requests 1000000;
                  client_body_temp_path %s;
                  server {
                    listen 127.0.0.1:%d backlog=4096;
                    location / { return 200 "ok\\n"; }
                    location = /16k { alias %s/16k; }
                  }
                }
                """ % (workers, d, d, d, self.port, d)))
        super().__init__(["nginx", "-e", os.path.join(d, "error.log"), "-p", d, "-c", conf], "nginx")
        wait_port(self.port)
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self, sig=signal.SIGQUIT, timeout=10):
        return super().stop(sig, timeout)
