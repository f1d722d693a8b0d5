"""An HTTP/1.1 upstream that answers the statuses it is told to, in order,
and records what it was sent (tests of retries on an answer)."""
import json
import threading

from http_peers import QuietHandler, serve


class StatusUpstream:
    """Answers each request with the next status of <statuses> (then the
    last one forever), recording method, path and body of every request."""

    def __init__(self, name, statuses):
        self.name, self.statuses, self.seen = name, list(statuses), []
        up = self

        class Handler(QuietHandler):
            def handle_one(self):
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n) if n else b""
                with up.lock:
                    up.seen.append((self.command, self.path, body))
                    status = up.statuses.pop(0) if len(up.statuses) > 1 else up.statuses[0]
                out = json.dumps({"from": up.name, "status": status, "length": len(body)}).encode()
                self.send_response(status)
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = handle_one

        self.lock = threading.Lock()
        self.server = serve(Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
