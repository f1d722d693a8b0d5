"""A private, real Docker engine for the tests: dockerd from Debian's
docker.io with its own socket, data root and exec root (so the tests can
kill and restart it without touching a system daemon), and a test image
made with `docker import` of a busybox-static folder (no registry here).
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import SLOW, run_dir, wait_for

IMAGE = "gantry-test/busybox:latest"
BUSYBOX = "/bin/busybox"
APPLETS = ["sh", "httpd", "echo", "sleep", "cat", "wget", "true", "false", "mkdir", "touch", "rm", "test", "ls"]


def available():
    return shutil.which("dockerd") is not None and os.path.exists(BUSYBOX) and os.geteuid() == 0


def require():
    if not available():
        msg = "needs root, dockerd (docker.io) and busybox-static"
        if os.environ.get("CI"):
            pytest.fail(msg + " (CI must provide them)")
        pytest.skip(msg)


def web_labels(name, port):
    """Labels routing Host(`<name>.test`) to a container's <port>."""
    return {"gantry.http.routers.%s.rule" % name: "Host(`%s.test`)" % name,
            "gantry.http.services.%s.loadbalancer.server.port" % name: port}


class Dockerd:
    def __init__(self, root=None, live_restore=True, tcp=None, keep=False):
        self.root = root or tempfile.mkdtemp(prefix="dockerd-", dir=run_dir())
        self.keep = keep  # keep the data root (images, build cache) for the next run
        os.makedirs(self.root, exist_ok=True)
        self.sock = os.path.join(self.root, "docker.sock")
        self.host = "unix://" + self.sock
        self.live_restore = live_restore
        self.tcp = tcp  # (port, ca, cert, key): also listen on TLS tcp://127.0.0.1:port
        self.proc = None
        self.log_path = os.path.join(self.root, "dockerd.log")

    def start(self, wait=True):
        if self.keep:  # a kept data root: a daemon left over by an interrupted run must go first
            pidfile = os.path.join(self.root, "dockerd.pid")
            try:
                with open(pidfile) as f:
                    os.kill(int(f.read().strip()), signal.SIGTERM)
                deadline = time.time() + 20
                while os.path.exists(pidfile) and time.time() < deadline:
                    time.sleep(0.1)
            except (OSError, ValueError):
                pass
        args = ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none", "-H", self.host,
                "--data-root", os.path.join(self.root, "data"), "--exec-root", os.path.join(self.root, "exec"),
                "--pidfile", os.path.join(self.root, "dockerd.pid")]
        if self.live_restore:
            args.append("--live-restore")  # containers keep running while dockerd is down
        if self.tcp:
            port, ca, cert, key = self.tcp
            args += ["-H", "tcp://127.0.0.1:%d" % port, "--tlsverify", "--tlscacert", ca, "--tlscert", cert,
                     "--tlskey", key]
        self.proc = subprocess.Popen(args, stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self):
        wait_for(lambda: self.docker("version", check=False).returncode == 0, timeout=60, interval=0.2,
                 what="dockerd at %s" % self.sock)

    def kill(self):
        """The engine crashes: SIGKILL to dockerd and to the containerd it
        manages (which would otherwise die on its next log write, while a
        restarting dockerd tries to reuse it). Containers keep running in
        their shims; --live-restore adopts them on restart."""
        pidfile = os.path.join(self.root, "exec", "containerd", "containerd.pid")
        try:
            with open(pidfile) as f:
                cpid = int(f.read().strip())
        except (OSError, ValueError):
            cpid = None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if cpid:
            try:
                os.kill(cpid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.time() + 10
            while time.time() < deadline and os.path.exists("/proc/%d" % cpid):
                time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            for c in self.docker("ps", "-aq", check=False).stdout.decode().split():
                self.docker("rm", "-f", c, check=False)
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._cleanup_mounts()

    def _cleanup_mounts(self):
        """Unmounts what a killed daemon left under its root, then removes it."""
        with open("/proc/mounts") as f:
            mounts = [line.split()[1] for line in f if line.split()[1].startswith(self.root)]
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def docker(self, *args, check=True, timeout=60):
        r = subprocess.run(["docker", "-H", self.host, *args], capture_output=True, timeout=timeout * SLOW)
        if check and r.returncode != 0:
            raise AssertionError("docker %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
        return r

    def ensure_image(self):
        if self.docker("image", "inspect", IMAGE, check=False).returncode == 0:
            return
        d = tempfile.mkdtemp(prefix="busybox-", dir=run_dir())
        os.makedirs(os.path.join(d, "bin"))
        os.makedirs(os.path.join(d, "tmp"))
        os.makedirs(os.path.join(d, "www"))
        shutil.copy(BUSYBOX, os.path.join(d, "bin", "busybox"))
        for a in APPLETS:
            os.symlink("busybox", os.path.join(d, "bin", a))
        with open(os.path.join(d, "www", "index.html"), "w") as f:
            f.write("hello\n")
        tar = subprocess.Popen(["tar", "-C", d, "-c", "."], stdout=subprocess.PIPE)
        r = subprocess.run(["docker", "-H", self.host, "import", "-", IMAGE], stdin=tar.stdout, capture_output=True)
        tar.wait()
        shutil.rmtree(d)
        assert r.returncode == 0, r.stderr

    def run_web(self, name, port, labels=None, extra=(), ip="127.0.0.1", text=None):
        """Runs busybox httpd on the host network, answering <text> (default: the name)."""
        args = ["run", "-d", "--name", name, "--network", "host"]
        for k, v in (labels or {}).items():
            args += ["-l", "%s=%s" % (k, v)]
        args += list(extra)
        script = "mkdir -p /tmp/w && echo %s > /tmp/w/index.html && exec httpd -f -p %s:%d -h /tmp/w" % (
            text or name, ip, port)
        args += [IMAGE, "sh", "-c", script]
        return self.docker(*args).stdout.decode().strip()


class SocketProxy:
    """A unix-socket proxy in front of dockerd that a test can cut (every
    connection dropped, new ones refused) and restore: gantry loses the
    engine while the test keeps changing containers through the real socket."""

    def __init__(self, target, path):
        self.target, self.path = target, path
        self.open = True
        self.conns = []
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                c.close()
                continue
            u = socket.socket(socket.AF_UNIX)
            try:
                u.connect(self.target)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.open = False
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.conns = []

    def restore(self):
        self.open = True

    def close(self):
        self.cut()
        self.listener.close()
