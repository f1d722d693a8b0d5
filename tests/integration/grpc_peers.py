"""Real gRPC peers for the tests (python3-grpcio, stubs made at test time with
grpc_tools.protoc from grpc/echo.proto), and the proxies a gRPC test can run
through: Gantry, or nginx (grpc_pass) / HAProxy (proto h2) / nothing ("direct")
as stand-ins that validate the test itself. GANTRY_TEST_STANDIN picks one.

As a script, this file is the server: `grpc_peers.py --port N --name NAME
[--tls CERT KEY]`. It answers all four RPC kinds, echoes the request metadata,
sends initial and trailing metadata, names itself in every reply (balancing),
sleeps on demand (deadlines) and records calls the client cancelled, which a
test reads with the Stats RPC asked directly, not through the proxy; with
--max-age-ms it sends GOAWAY on every connection that old.
"""
import argparse
import importlib
import os
import signal
import sys
import textwrap
import threading
import time

# grpcio's fork handlers fight the test's subprocess.Popen (gantry, nginx)
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "grpc")
MAX_MESSAGE = 32 * 1024 * 1024  # 16 MiB messages and their framing fit
SERVER_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)]
AUTHORITY = "grpc.test"

_stubs = None


def stubs(out_dir=None):
    """(echo_pb2, echo_pb2_grpc), generated once per process into <out_dir>
    (the run directory in tests) with grpc_tools.protoc."""
    global _stubs
    if _stubs is None:
        from grpc_tools import protoc
        if out_dir is None:
            import tempfile
            out_dir = tempfile.mkdtemp(prefix="grpc-stubs.")
        os.makedirs(out_dir, exist_ok=True)
        if not os.path.exists(os.path.join(out_dir, "echo_pb2_grpc.py")):
            rc = protoc.main(["protoc", "-I" + PROTO_DIR, "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
                              os.path.join(PROTO_DIR, "echo.proto")])
            if rc != 0:
                raise RuntimeError("grpc_tools.protoc failed: %d" % rc)
        sys.path.insert(0, out_dir)
        _stubs = (importlib.import_module("echo_pb2"), importlib.import_module("echo_pb2_grpc"))
    return _stubs


# ---------------------------------------------------------------- the server

def serve(port, name, tls=None, stub_dir=None, max_age_ms=0):
    import grpc
    from concurrent import futures
    pb, pb_grpc = stubs(stub_dir)
    lock = threading.Lock()
    stats = {"calls": 0, "cancelled": [], "deadline": [], "timeouts": []}

    def begin(context, tag):
        with lock:
            stats["calls"] += 1
            left = context.time_remaining()
            if left is not None and left < 1e6:
                stats["timeouts"].append("%s=%d" % (tag, int(left * 1000)))
        md = dict((k, v) for k, v in context.invocation_metadata() if not k.endswith("-bin"))
        context.send_initial_metadata((("x-initial", name), ("x-echo-initial", md.get("x-echo", ""))))
        context.set_trailing_metadata((("x-trailer", name), ("x-echo-trailer", md.get("x-echo", ""))))
        return md

    def record_end(context, tag):
        """Called when the call went inactive before we answered: was it the
        deadline or the client (RST_STREAM CANCEL from the proxy)?"""
        left = context.time_remaining()
        with lock:
            if left is not None and left <= 0.05:
                stats["deadline"].append(tag)
            else:
                stats["cancelled"].append(tag)

    def nap(context, ms, tag):
        """Sleeps <ms>, returning False as soon as the call is no longer active."""
        end = time.monotonic() + ms / 1000.0
        while time.monotonic() < end:
            if not context.is_active():
                record_end(context, tag)
                return False
            time.sleep(0.005)
        return True

    def reply(req, md, index=0, received=0):
        payload = b"\x5a" * req.reply_size if req.reply_size else req.payload
        return pb.EchoReply(message=req.message, payload=payload, server=name, metadata=md, index=index,
                            received_bytes=received)

    def maybe_fail(req, context):
        if req.fail_code:
            context.abort(grpc.StatusCode(_code(req.fail_code)), "failed as asked: " + req.message)

    class Echo(pb_grpc.EchoServicer):
        def Unary(self, req, context):
            md = begin(context, req.tag)
            if req.sleep_ms and not nap(context, req.sleep_ms, req.tag):
                return pb.EchoReply()
            maybe_fail(req, context)
            return reply(req, md)

        def ServerStream(self, req, context):
            md = begin(context, req.tag)
            maybe_fail(req, context)
            # a cancel that lands while the runtime sends a message closes the
            # generator at its yield (no nap sees it): the end callback does
            state = {"recorded": False, "finished": False}

            def on_end():
                if not state["finished"] and not state["recorded"]:
                    record_end(context, req.tag)

            context.add_callback(on_end)
            for i in range(req.count):
                if req.sleep_ms and not nap(context, req.sleep_ms, req.tag):
                    state["recorded"] = True
                    return
                yield reply(req, md, i)
            state["finished"] = True

        def ClientStream(self, it, context):
            md = begin(context, "client-stream")
            n, size, last = 0, 0, None
            for req in it:
                n += 1
                size += len(req.payload)
                last = req
            out = reply(last or pb.EchoRequest(), md, n, size)
            out.message = ",".join([out.message, str(n)])
            return out

        def Bidi(self, it, context):
            md = begin(context, "bidi")
            for i, req in enumerate(it):
                if req.sleep_ms and not nap(context, req.sleep_ms, req.tag):
                    return
                maybe_fail(req, context)
                yield reply(req, md, i)

        def Stats(self, req, context):
            with lock:
                out = pb.StatsReply(server=name, calls=stats["calls"], cancelled=stats["cancelled"],
                                    deadline_exceeded=stats["deadline"], timeouts=stats["timeouts"])
                if req.reset:
                    stats.update(calls=0, cancelled=[], deadline=[], timeouts=[])
            return out

    # streams enough that a multiplexing proxy needs no second connection (the 10,000-call test)
    options = SERVER_OPTIONS + [("grpc.max_concurrent_streams", 1000)]
    if max_age_ms:  # GOAWAY every connection after this long (then a grace period for its streams)
        options += [("grpc.max_connection_age_ms", max_age_ms), ("grpc.max_connection_age_grace_ms", 10000)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64), options=options)
    pb_grpc.add_EchoServicer_to_server(Echo(), server)
    addr = "127.0.0.1:%d" % port
    if tls:
        with open(tls[0], "rb") as c, open(tls[1], "rb") as k:
            server.add_secure_port(addr, grpc.ssl_server_credentials([(k.read(), c.read())]))
    else:
        server.add_insecure_port(addr)
    server.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    stop.wait()
    server.stop(0.5).wait()


def _code(n):
    import grpc
    for c in grpc.StatusCode:
        if c.value[0] == n:
            return c.value
    raise ValueError(n)


# ---------------------------------------------------------------- test side

def channel(port, tls_ca=None, authority=AUTHORITY, options=()):
    """One client channel (one HTTP/2 connection) to 127.0.0.1:<port>, h2c or
    TLS (verified against <tls_ca>, for the name <authority>)."""
    import grpc
    opts = list(SERVER_OPTIONS) + list(options)
    # no retries or transparent reconnect games: one connection, what we see is what the proxy did
    opts += [("grpc.enable_retries", 0), ("grpc.use_local_subchannel_pool", 1)]
    target = "127.0.0.1:%d" % port
    if tls_ca:
        with open(tls_ca, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        opts.append(("grpc.ssl_target_name_override", authority))
        return grpc.secure_channel(target, creds, options=opts)
    opts.append(("grpc.default_authority", authority))
    return grpc.insecure_channel(target, options=opts)


class EchoServer:
    """A grpc_peers.py server process (h2c, or TLS with <cert>)."""

    def __init__(self, procs_or_none, name, tls=None, stub_dir=None, max_age_ms=0):
        from conftest import Process, free_port, wait_port
        self.port = free_port()
        self.name = name
        self.tls = tls
        args = ["/usr/bin/python3", os.path.abspath(__file__), "--port", str(self.port), "--name", name]
        if stub_dir:
            args += ["--stubs", stub_dir]
        if tls:
            args += ["--tls", tls[0], tls[1]]
        if max_age_ms:
            args += ["--max-age-ms", str(max_age_ms)]
        self.proc = Process(args, "grpc-" + name)
        if procs_or_none is not None:
            procs_or_none.add(self.proc)
        wait_port(self.port, timeout=15)

    @property
    def scheme_url(self):
        return ("https://127.0.0.1:%d" if self.tls else "h2c://127.0.0.1:%d") % self.port

    def stats(self, ca=None, reset=False):
        """Asked straight to the server, not through the proxy."""
        import grpc
        pb, pb_grpc = stubs()
        ch = channel(self.port, ca if self.tls else None)
        try:
            return pb_grpc.EchoStub(ch).Stats(pb.StatsRequest(reset=reset), timeout=10)
        except grpc.RpcError as e:
            raise AssertionError("Stats from %s: %s" % (self.name, e))
        finally:
            ch.close()


# ---------------------------------------------------------------- proxies

PROXY = os.environ.get("GANTRY_TEST_STANDIN") or "gantry"


class Front:
    """Where a client reaches the servers: .h2c_port (cleartext, prior
    knowledge) and .tls_port (TLS, ALPN h2, certificate for grpc.test)."""
    kind = "?"
    h2c_port = tls_port = None
    process = None


def start_front(kind, tmp_path, procs, servers, cert, ca, extra_services=""):
    """Starts the proxy <kind> (gantry, nginx, haproxy, direct) in front of
    <servers> (all h2c or all TLS), balancing round-robin across them."""
    from conftest import Process, free_port, wait_port
    f = Front()
    f.kind = kind
    d = str(tmp_path)
    back_tls = bool(servers[0].tls)
    if kind == "direct":
        f.h2c_port = None if back_tls else servers[0].port
        f.tls_port = servers[0].port if back_tls else None
        return f
    if kind == "gantry":
        svc = "".join("          - url: \"%s\"\n" % s.scheme_url for s in servers)
        dyn = textwrap.dedent("""\
            http:
              routers:
                grpc:
                  rule: "Host(`grpc.test`)"
                  service: echo
                grpc-tls:
                  rule: "Host(`grpc.test`)"
                  service: echo
                  tls: {}
              services:
                echo:
                  loadBalancer:
            """) + ("        serversTransport: back\n" if back_tls else "") + "        servers:\n" + svc + extra_services
        if back_tls:
            dyn += "  serversTransports:\n    back:\n      rootCAs: [\"%s\"]\n      serverName: grpc.test\n" % ca
        dyn += "tls:\n  certificates:\n    - certFile: %s\n      keyFile: %s\n" % cert
        g = procs.gantry(tmp_path, dyn)
        f.h2c_port = f.tls_port = g.port
        f.process = g
        return f
    f.h2c_port, f.tls_port = free_port(), free_port()
    if kind == "nginx":
        nd = os.path.join(d, "nginx-grpc")
        os.makedirs(nd, exist_ok=True)
        ups = "".join("server 127.0.0.1:%d; " % s.port for s in servers)
        back = ("grpc_pass grpcs://echo; grpc_ssl_trusted_certificate %s; grpc_ssl_verify on; grpc_ssl_name grpc.test; "
                "grpc_ssl_server_name on;" % ca) if back_tls else "grpc_pass grpc://echo;"
        conf = os.path.join(nd, "nginx.conf")
        with open(conf, "w") as fh:
            fh.write("worker_processes 1; daemon off; pid %s/nginx.pid; error_log %s/error.log info;\n"
                     "events { worker_connections 1024; }\n"
                     "http { access_log off; client_body_temp_path %s; keepalive_requests 1000000;\n"
                     "  upstream echo { %s keepalive 16; }\n"
                     "  server { listen 127.0.0.1:%d http2; listen 127.0.0.1:%d ssl http2;\n"
                     "    ssl_certificate %s; ssl_certificate_key %s; client_max_body_size 0;\n"
                     "    grpc_read_timeout 60s; grpc_send_timeout 60s; http2_max_concurrent_streams 1000;\n"
                     "    location / { %s error_page 502 503 = /grpc-unavailable; }\n"
                     # nginx's documented way to answer gRPC errors as a gRPC status
                     "    location = /grpc-unavailable { internal; default_type application/grpc;\n"
                     "      add_header grpc-status 14 always; add_header grpc-message unavailable always; return 200 \"\"; }\n"
                     "  } }\n"
                     % (nd, nd, nd, ups, f.h2c_port, f.tls_port, cert[0], cert[1], back))
        f.process = procs.add(Process(["nginx", "-e", os.path.join(nd, "error.log"), "-p", nd, "-c", conf], "nginx"))
    elif kind == "haproxy":
        pem = os.path.join(d, "haproxy-front.pem")
        with open(pem, "w") as out:
            out.write(open(cert[0]).read() + open(cert[1]).read())
        srv = "".join("  server s%d 127.0.0.1:%d %s\n" % (i, s.port, ("ssl verify required ca-file %s sni str(grpc.test) "
                                                                     "alpn h2" % ca) if back_tls else "proto h2")
                      for i, s in enumerate(servers))
        cfg = os.path.join(d, "haproxy.cfg")
        with open(cfg, "w") as fh:
            fh.write("defaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n"
                     "frontend fe\n  bind 127.0.0.1:%d proto h2\n  bind 127.0.0.1:%d ssl crt %s alpn h2\n"
                     "  default_backend be\nbackend be\n  balance roundrobin\n  http-reuse always\n%s" % (f.h2c_port, f.tls_port, pem, srv))
        f.process = procs.add(Process(["haproxy", "-f", cfg, "-db"], "haproxy"))
    else:
        import pytest
        pytest.skip("GANTRY_TEST_STANDIN=%s: not a stand-in for gRPC" % kind)
    wait_port(f.h2c_port, timeout=10)
    wait_port(f.tls_port, timeout=10)
    return f


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--stubs")
    ap.add_argument("--max-age-ms", type=int, default=0)
    a = ap.parse_args()
    sys.path.insert(0, HERE)
    serve(a.port, a.name, a.tls, a.stubs, a.max_age_ms)
