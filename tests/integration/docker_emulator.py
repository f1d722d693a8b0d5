"""An emulated Docker Engine API on loopback TCP, for what a real dockerd
cannot be made to do on demand (fail an inspect) or does too slowly here
(thousands of containers): /_ping, a streamed /events, /containers/json and
/containers/{id}/json. Containers are plain dicts in the inspect format;
start() adds one and sends its "start" event.
Gantry is pointed at it with --providers.docker.endpoint=tcp://127.0.0.1:<port>."""
import hashlib
import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = "1.41"


def container(name, ip, labels, port=None):
    cid = hashlib.sha256(name.encode()).hexdigest()
    return {
        "Id": cid, "Name": "/" + name,
        "Config": {"Labels": labels, "ExposedPorts": {"%d/tcp" % port: {}} if port else {}},
        "HostConfig": {"NetworkMode": "bridge"},
        "NetworkSettings": {"Networks": {"bridge": {"IPAddress": ip, "GlobalIPv6Address": ""}}},
        "State": {"Running": True, "Paused": False, "Restarting": False, "Status": "running"},
    }


class DockerEmulator:
    def __init__(self):
        self.containers = {}  # id -> inspect dict
        self.fail_inspects = {}  # id -> how many inspects answer 500 (-1: all)
        self.garble_inspects = {}  # id -> how many inspects answer 200 with a cut-off document
        self.inspects = {}  # id -> inspects asked
        self.inspect_delay = 0.0  # seconds each inspect takes (a busy daemon)
        self.in_flight = self.max_in_flight = 0  # inspects being answered, and the most at once
        self.lock = threading.Lock()
        self.streams = []  # one queue per open event stream
        emu = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, code, body, ctype="application/json"):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(code)
                self.send_header("Api-Version", API)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = self.path.split("?")[0]
                if path == "/_ping":
                    return self.reply(200, "OK", "text/plain")
                if path.startswith("/v%s/events" % API):
                    return self.events()
                if path == "/v%s/containers/json" % API:
                    with emu.lock:
                        items = [{"Id": c["Id"], "Names": [c["Name"]]} for c in emu.containers.values()]
                    return self.reply(200, json.dumps(items))
                if path.startswith("/v%s/containers/" % API) and path.endswith("/json"):
                    with emu.lock:
                        emu.in_flight += 1
                        emu.max_in_flight = max(emu.max_in_flight, emu.in_flight)
                    try:
                        time.sleep(emu.inspect_delay)
                        return self.inspect(path.split("/")[3])
                    finally:
                        with emu.lock:
                            emu.in_flight -= 1
                return self.reply(404, json.dumps({"message": "page not found"}))

            def inspect(self, cid):
                with emu.lock:
                    emu.inspects[cid] = emu.inspects.get(cid, 0) + 1
                    c = emu.containers.get(cid)
                    fail = emu.fail_inspects.get(cid, 0)
                    if fail > 0:
                        emu.fail_inspects[cid] = fail - 1
                    garble = emu.garble_inspects.get(cid, 0)
                    if garble > 0 and not fail:
                        emu.garble_inspects[cid] = garble - 1
                if fail:
                    return self.reply(500, json.dumps({"message": "emulated failure"}))
                if c is None:
                    return self.reply(404, json.dumps({"message": "No such container: " + cid}))
                doc = json.dumps(c)
                return self.reply(200, doc[:len(doc) // 2] if garble else doc)

            def events(self):
                q = queue.Queue()
                with emu.lock:
                    emu.streams.append(q)
                self.send_response(200)
                self.send_header("Api-Version", API)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.flush()
                try:
                    while True:
                        line = q.get()
                        if line is None:
                            break
                        data = (line + "\n").encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass
                finally:
                    with emu.lock:
                        if q in emu.streams:
                            emu.streams.remove(q)

        class Server(ThreadingHTTPServer):
            request_queue_size = 4096  # a thousand inspects at once

            def handle_error(self, request, client_address):
                pass  # gantry closing a connection at the end of a test

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, c, fail=0, garble=0):
        """Adds a container without an event (as if it ran before); its
        first <fail> inspects answer 500, the next <garble> a document cut
        in half (a daemon or proxy cutting the answer short)."""
        with self.lock:
            self.containers[c["Id"]] = c
            if fail:
                self.fail_inspects[c["Id"]] = fail
            if garble:
                self.garble_inspects[c["Id"]] = garble
        return c

    def event(self, cid, action):
        line = json.dumps({"Type": "container", "Action": action, "Actor": {"ID": cid, "Attributes": {}},
                           "time": int(time.time()), "timeNano": time.time_ns()})
        with self.lock:
            for q in self.streams:
                q.put(line)

    def start(self, c, fail=0, garble=0):
        self.add(c, fail, garble)
        self.event(c["Id"], "start")
        return c

    def stop(self):
        with self.lock:
            for q in self.streams:
                q.put(None)
        self.server.shutdown()
        self.server.server_close()
