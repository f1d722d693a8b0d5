"""Real peers for the TCP routing tests: nginx terminating TLS with its own
certificate (a passthrough backend), and a threaded TCP echo server that
can greet first (a server-first protocol) and answers end of stream by
closing after its last echo (half-close)."""
import os
import signal
import socket
import textwrap
import threading

from conftest import Process, free_port, wait_port


class TlsNginx(Process):
    """nginx with TLS for <name>: '<name>' on /, <big_mb> MiB on /big."""

    def __init__(self, tmpdir, name, cert, key, big_mb=0):
        self.port = free_port()
        d = os.path.join(str(tmpdir), "tls-nginx-%s" % name)
        os.makedirs(d, exist_ok=True)
        if big_mb:
            with open(os.path.join(d, "big"), "wb") as f:
                f.write(os.urandom(big_mb << 20))
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(textwrap.dedent("""\
                worker_processes 1;
                user root;
                daemon off;
                pid {d}/nginx.pid;
                error_log {d}/error.log;
                events {{ worker_connections 1024; }}
                http {{
                  access_log off;
                  client_body_temp_path {d};
                  server {{
                    listen 127.0.0.1:{port} ssl;
                    ssl_certificate {cert};
                    ssl_certificate_key {key};
                    location / {{ return 200 "{name}\\n"; }}
                    location = /big {{ alias {d}/big; }}
                  }}
                }}
                """).format(d=d, port=self.port, cert=cert, key=key, name=name))
        self.dir = d
        super().__init__(["nginx", "-e", os.path.join(d, "error.log"), "-p", d, "-c", conf], "tls-nginx")
        wait_port(self.port)
        self.address = "127.0.0.1:%d" % self.port

    def stop(self, sig=signal.SIGQUIT, timeout=10):
        return Process.stop(self, sig, timeout)


class Listener:
    """A TCP listener on 127.0.0.1 (a free port) that hands each accepted
    connection to self.one(conn) on a thread of its own. Subclasses set up
    what one() needs, then call listen()."""

    def listen(self, backlog=16):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(conn,), daemon=True).start()


class EchoServer:
    """Echoes every byte; <banner> is sent on connect before anything is
    read. At the client's end of stream it closes its side."""

    def __init__(self, banner=None):
        self.banner = banner
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.connections = 0
        self.received = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            if self.banner:
                c.sendall(self.banner)
            while True:
                data = c.recv(65536)
                if not data:
                    break
                with self.lock:
                    self.received += len(data)
                c.sendall(data)
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.sock.close()
