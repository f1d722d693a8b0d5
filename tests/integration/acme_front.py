"""A loopback HTTPS reverse proxy in front of pebble, for what pebble cannot
be told to do: decline new orders with 429 + Retry-After (a CA's rate
limit), keep a finalized order "processing" for a while (a slow CA), or
offer ACME Renewal Information (RFC 9773; Debian's pebble 2.4 has none):
with <renewal_info> the directory gains `renewalInfo` and
GET /renewal-info/<certID> is answered by renewal_info(certID), which
returns (status, headers, body); with <refuse_replaces> a newOrder naming
"replaces" gets 409 alreadyReplaced. Pebble does all the ACME work: the Host
header is passed on, so the URLs pebble hands out (directory, orders, ...)
name the proxy."""
import base64
import http.client
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import free_port

HOP_BY_HOP = {"connection", "transfer-encoding", "content-length", "keep-alive"}


class AcmeFront:
    def __init__(self, pebble, decline_orders=0, retry_after="6", hold_processing_s=0.0, renewal_info=None,
                 refuse_replaces=False):
        self.pebble = pebble
        self.decline_orders = decline_orders  # how many newOrder requests get a 429
        self.retry_after = retry_after
        self.hold_processing_s = hold_processing_s
        self.new_orders = []  # (monotonic time, status answered) of every newOrder request
        self.renewal_info = renewal_info
        self.refuse_replaces = refuse_replaces
        self.order_payloads = []  # the JWS payload (a dict) of every newOrder request, in order
        self.renewal_info_requests = []  # (monotonic time, certID) of every renewalInfo request
        self.chains = []  # every certificate chain downloaded (PEM bytes), in order
        self.finalized_at = None
        self.lock = threading.Lock()
        self.port = free_port()
        self.directory = "https://127.0.0.1:%d/dir" % self.port
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                front.forward(self)

            def do_HEAD(self):
                front.forward(self)

            def do_POST(self):
                front.forward(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pebble.crt, pebble.key)  # the names gantry verifies with pebble's test CA
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, h, status, headers, body):
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def forward(self, h):
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        path = h.path
        if self.renewal_info and h.command == "GET" and path.startswith("/renewal-info/"):
            cert_id = path[len("/renewal-info/"):]
            with self.lock:
                self.renewal_info_requests.append((time.monotonic(), cert_id))
            status, headers, out = self.renewal_info(cert_id)
            self.answer(h, status, list(headers), out)
            return
        if self.renewal_info and h.command == "GET" and path == "/dir":
            status, headers, out = self.upstream(h.command, path, body, h.headers)
            directory = json.loads(out)
            directory["renewalInfo"] = "https://127.0.0.1:%d/renewal-info" % self.port
            self.answer(h, status, headers, json.dumps(directory).encode())
            return
        if h.command == "POST" and path.startswith("/order-plz"):
            payload = self.jws_payload(body)
            with self.lock:
                self.order_payloads.append(payload)
            if self.refuse_replaces and "replaces" in payload:
                problem = json.dumps({"type": "urn:ietf:params:acme:error:alreadyReplaced",
                                      "detail": "certificate %s already replaced" % payload["replaces"],
                                      "status": 409}).encode()
                self.answer(h, 409, [("Content-Type", "application/problem+json"),
                                     ("Replay-Nonce", self.fresh_nonce())], problem)
                return
            with self.lock:
                declined = len([s for _, s in self.new_orders if s == 429]) < self.decline_orders
                self.new_orders.append((time.monotonic(), 429 if declined else 0))
            if declined:  # a real rateLimited problem, as Let's Encrypt sends it
                problem = json.dumps({"type": "urn:ietf:params:acme:error:rateLimited",
                                      "detail": "too many new orders recently", "status": 429}).encode()
                self.answer(h, 429, [("Content-Type", "application/problem+json"), ("Retry-After", self.retry_after),
                                     ("Replay-Nonce", self.fresh_nonce())], problem)
                return
        if h.command == "POST" and path.startswith("/finalize-order/"):
            with self.lock:
                self.finalized_at = self.finalized_at or time.monotonic()
        status, headers, out = self.upstream(h.command, path, body, h.headers)
        if status == 200 and any(k.lower() == "content-type" and v.startswith("application/pem-certificate-chain")
                                 for k, v in headers):
            with self.lock:
                self.chains.append(out)
        if self.holding() and (path.startswith("/finalize-order/") or path.startswith("/my-order/")) and status == 200:
            order = json.loads(out)
            if order.get("status") in ("valid", "processing"):
                order["status"] = "processing"
                order.pop("certificate", None)
                out = json.dumps(order).encode()
        self.answer(h, status, headers, out)

    @staticmethod
    def jws_payload(body):
        """The payload of a flattened JWS (what the client asked for)."""
        b64 = json.loads(body)["payload"]
        return json.loads(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)) or b"{}")

    def holding(self):
        with self.lock:
            return self.finalized_at is not None and time.monotonic() - self.finalized_at < self.hold_processing_s

    def upstream(self, method, path, body, in_headers):
        ctx = ssl.create_default_context(cafile=self.pebble.ca)
        ctx.check_hostname = False
        c = http.client.HTTPSConnection("127.0.0.1", self.pebble.port, context=ctx, timeout=30)
        headers = {k: v for k, v in in_headers.items() if k.lower() not in HOP_BY_HOP}
        c.request(method, path, body=body if method == "POST" else None, headers=headers)
        r = c.getresponse()
        out = r.read()
        hdrs = [(k, v) for k, v in r.getheaders() if k.lower() not in HOP_BY_HOP]
        c.close()
        return r.status, hdrs, out

    def fresh_nonce(self):
        _, headers, _ = self.upstream("HEAD", "/nonce-plz", b"", {"Host": "127.0.0.1:%d" % self.port})
        return dict((k.lower(), v) for k, v in headers).get("replay-nonce", "")

    def stop(self, **kw):
        self.server.shutdown()
        self.server.server_close()
        return 0
