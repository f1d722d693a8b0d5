"""What the tests' small threaded HTTP/1.1 peers (Python's http.server)
share: a handler that logs nothing, and a server started on a thread."""
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
