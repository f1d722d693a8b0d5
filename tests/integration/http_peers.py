"""What the tests' small threaded HTTP/1.1 peers (Python's http.server)
share: a handler that logs nothing, and a server started on a thread."""
import collections
import http.server
import threading


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """An HTTP/1.1 (keep-alive) request handler that writes no log lines."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass


def serve(handler, ssl_ctx=None, port=0):
    """A ThreadingHTTPServer for <handler> on 127.0.0.1:<port> (0: any free
    port), TLS with <ssl_ctx>, serving on a daemon thread."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    if ssl_ctx is not None:
        httpd.socket = ssl_ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


class StatusPeer:
    """An HTTP/1.1 server that answers the path's first segment as the
    status ("/503/..." -> 503, anything else 200) with "<name> <status>
    <request body length>" and `Set-Cookie: from=<name>`, and records each
    request as (method, path, headers with lower-case names, body)."""

    def __init__(self, name):
        self.name, self.seen, self.lock = name, [], threading.Lock()
        peer = self

        class Handler(QuietHandler):
            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with peer.lock:
                    peer.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                          body))
                first = self.path.split("/")[1]
                status = int(first) if first.isdigit() else 200
                out = ("%s %d %d\n" % (peer.name, status, len(body))).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(out)))
                self.send_header("Set-Cookie", "from=" + peer.name)
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PUT = answer

        self.httpd = serve(Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]

    def paths(self):
        with self.lock:
            return [s.path for s in self.seen]

    def last(self):
        with self.lock:
            return self.seen[-1]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


Seen = collections.namedtuple("Seen", "method path headers body")
