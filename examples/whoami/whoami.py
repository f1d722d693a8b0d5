#!/usr/bin/env python3
"""whoami: a small HTTP/1.1 upstream for the demo and the tests.

Python standard library only. Every request is answered with what the
server saw: method, path, headers, client address, and the server's name.
A few paths help tests and demos:

  /                     text report (JSON with ?format=json or Accept: application/json)
  /status/<code>        answer with that status
  /bytes/<n>            n bytes of deterministic data (sha256 in X-Body-Sha256)
  /stream?n=5&delay=0.2 n chunks, one every delay seconds (chunked encoding)
  /slow?delay=2         wait, then answer
  /upload               read the body, answer its length and sha256
  /health               200 ok (or the status set with /health/set?status=503)

Usage: whoami.py [--port 9001] [--host 127.0.0.1] [--name NAME]
"""
import argparse
import hashlib
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HEALTH = {"status": 200}


def payload(n):
    block = bytes(range(256)) * 256  # 64 KiB pattern
    out = bytearray()
    while len(out) < n:
        out += block[: n - len(out)]
    return bytes(out)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "whoami"

    def log_message(self, fmt, *args):  # keep test output quiet
        if self.server.verbose:
            sys.stderr.write("whoami: " + fmt % args + "\n")

    def send_body(self, status, body, ctype="text/plain; charset=utf-8", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def report(self, body):
        url = urlsplit(self.path)
        info = {
            "name": self.server.name,
            "hostname": socket.gethostname(),
            "method": self.command,
            "path": url.path,
            "query": url.query,
            "uri": self.path,
            "remote_addr": "%s:%d" % self.client_address[:2],
            "headers": {k: v for k, v in self.headers.items()},
            "body_length": len(body),
        }
        wants_json = "format=json" in url.query or "application/json" in self.headers.get("Accept", "")
        if wants_json:
            return self.send_body(200, json.dumps(info).encode(), "application/json")
        lines = ["Name: %s" % info["name"], "Hostname: %s" % info["hostname"], "RemoteAddr: %s" % info["remote_addr"],
                 "%s %s %s" % (self.command, self.path, self.request_version)]
        lines += ["%s: %s" % (k, v) for k, v in self.headers.items()]
        self.send_body(200, ("\n".join(lines) + "\n").encode())

    def handle_any(self):
        body = self.read_body()
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        parts = url.path.strip("/").split("/")
        if parts[0] == "status" and len(parts) > 1 and parts[1].isdigit():
            code = int(parts[1])
            if code in (204, 304) or code < 200:  # no body allowed
                self.send_response(code)
                self.end_headers()
                return
            return self.send_body(code, ("status %s\n" % parts[1]).encode())
        if parts[0] == "bytes" and len(parts) > 1 and parts[1].isdigit():
            data = payload(int(parts[1]))
            return self.send_body(200, data, "application/octet-stream",
                                  {"X-Body-Sha256": hashlib.sha256(data).hexdigest()})
        if parts[0] == "stream":
            n = int(q.get("n", ["5"])[0])
            delay = float(q.get("delay", ["0.2"])[0])
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(n):
                chunk = ("chunk %d %.3f\n" % (i, time.time())).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                if i + 1 < n:
                    time.sleep(delay)
            self.wfile.write(b"0\r\n\r\n")
            return
        if parts[0] == "slow":
            time.sleep(float(q.get("delay", ["2"])[0]))
            return self.send_body(200, b"slow done\n")
        if parts[0] == "upload":
            res = {"length": len(body), "sha256": hashlib.sha256(body).hexdigest(), "name": self.server.name}
            return self.send_body(200, json.dumps(res).encode(), "application/json")
        if parts[0] == "health":
            if len(parts) > 1 and parts[1] == "set":
                HEALTH["status"] = int(q.get("status", ["200"])[0])
                return self.send_body(200, b"set\n")
            return self.send_body(HEALTH["status"], b"health\n")
        return self.report(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9001)
    ap.add_argument("--name", default=None)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    srv = Server((args.host, args.port), Handler)
    srv.name = args.name or "whoami-%d" % args.port
    srv.verbose = args.verbose
    print("whoami %s listening on %s:%d" % (srv.name, args.host, srv.server_address[1]), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
