"""Gateway API backend protocols against the API emulator with the real
kubectl and real peers, named after the conformance tests they mirror
(kubernetes-sigs/gateway-api conformance/tests/httproute-backend-protocol-*.go):
the Service port's appProtocol picks how gantry speaks to the backend
(kubernetes.io/h2c: HTTP/2 prior knowledge, kubernetes.io/ws: WebSocket
over HTTP/1.1), and an appProtocol gantry does not know makes the route's
ResolvedRefs False (UnsupportedProtocol) and its share answer 500. The
fixtures are those of test_k8s_gateway.py.
"""
import asyncio

import websockets

from conftest import SLOW, get, run, wait_for
from h2_peers import H2Upstream
from test_k8s_gateway import GATEWAY, INFRA_NS, cluster, infra_route, emu, gantry  # noqa: F401 (fixtures)
from test_ws_h2 import WsUpstream


def service(cluster, name, ports, ns=INFRA_NS):
    """Service <name> with <ports> [(name, port, appProtocol or None, the
    backend's real port)], one endpoint on 127.0.0.1."""
    cluster.service(name, [(pname, port, real, app) for pname, port, app, real in ports], ns)


def route(name, port, backend="infra-backend-v1", path="/"):
    return infra_route(name, path, backend, port)


def resolved(cluster, name):
    return cluster.route_condition(name, "ResolvedRefs", ns=INFRA_NS)


def h2c_get(g, path):
    """(status, body) of an HTTP/2 prior-knowledge request through gantry (curl)."""
    r = run(["curl", "-s", "--http2-prior-knowledge", "--max-time", "5", "-H", "Host: example.test",
             "http://127.0.0.1:%d%s" % (g.port, path), "-w", "\n%{http_code} %{http_version}"], check=False)
    body, _, tail = r.stdout.decode(errors="replace").rpartition("\n")
    return tail, body


def test_HTTPRouteBackendProtocolH2C(tmp_path, procs, cluster):
    """An h2c-only backend (python3-h2) behind a port with appProtocol
    kubernetes.io/h2c answers an HTTP/2 prior-knowledge client through
    gantry; the same backend behind a port without appProtocol is spoken
    to in HTTP/1.1, which it does not understand (502): the appProtocol
    is what made the first work."""
    up = H2Upstream("infra-backend-v1")
    try:
        service(cluster, "infra-backend-v1", [("second-port", 8081, "kubernetes.io/h2c", up.port),
                                              ("plain", 8080, None, up.port)])
        g = gantry(procs, tmp_path, cluster.emu)
        cluster.apply(GATEWAY + "---\n" + route("backend-protocol-h2c", 8081)
                      + "---\n" + route("backend-protocol-plain", 8080, path="/plain"))
        for r in ("backend-protocol-h2c", "backend-protocol-plain"):
            c = wait_for(lambda: resolved(cluster, r), what=r + " ResolvedRefs")
            assert c["status"] == "True", c
        wait_for(lambda: h2c_get(g, "/")[0] == "200 2", timeout=10, what="the h2c backend through gantry")
        assert h2c_get(g, "/")[1] == "h2 ok from infra-backend-v1"
        assert up.streams >= 1
        assert get(g.port, "/plain", "example.test")[0] == 502
    finally:
        up.stop()


def test_HTTPRouteBackendProtocolWebSocket(tmp_path, procs, cluster):
    """A WebSocket echo server (python3-websockets) behind a port with
    appProtocol kubernetes.io/ws: a client's WebSocket through gantry is
    upgraded at the backend and echoes messages."""
    ws = WsUpstream()
    try:
        service(cluster, "infra-backend-v1", [("third-port", 8082, "kubernetes.io/ws", ws.port)])
        g = gantry(procs, tmp_path, cluster.emu)
        cluster.apply(GATEWAY + "---\n" + route("backend-protocol-ws", 8082))
        c = wait_for(lambda: resolved(cluster, "backend-protocol-ws"), what="ResolvedRefs")
        assert c["status"] == "True", c
        wait_for(lambda: get(g.port, "/", "example.test")[0] == 200, what="the route live")

        async def talk():
            async with websockets.connect("ws://example.test:%d/ws" % g.port, host="127.0.0.1", port=g.port) as conn:
                for i in range(5):
                    await conn.send("message %d" % i)
                    assert await conn.recv() == "message %d" % i
        asyncio.run(asyncio.wait_for(talk(), 20 * SLOW))
        path, headers = ws.handshakes[-1]
        assert path == "/ws" and headers["upgrade"].lower() == "websocket", headers
    finally:
        ws.stop()


def test_HTTPRoute_unsupported_appProtocol_is_UnsupportedProtocol_and_500(tmp_path, procs, cluster):
    """Not a conformance test (the spec's reason): a port whose appProtocol
    gantry cannot speak resolves to nothing; the route is Accepted with
    ResolvedRefs False/UnsupportedProtocol and answers 500, and fixing the
    Service brings it back."""
    ws = WsUpstream()
    try:
        service(cluster, "infra-backend-v1", [("odd", 8083, "example.com/carrier-pigeon", ws.port)])
        g = gantry(procs, tmp_path, cluster.emu)
        cluster.apply(GATEWAY + "---\n" + route("backend-protocol-odd", 8083))
        c = wait_for(lambda: (resolved(cluster, "backend-protocol-odd") or {}).get("reason") == "UnsupportedProtocol"
                     and resolved(cluster, "backend-protocol-odd"), what="UnsupportedProtocol")
        assert c["status"] == "False" and "example.com/carrier-pigeon" in c["message"], c
        assert cluster.route_condition("backend-protocol-odd", "Accepted", ns=INFRA_NS)["status"] == "True"
        wait_for(lambda: get(g.port, "/", "example.test")[0] == 500, what="500 for the unsupported backend")
        service(cluster, "infra-backend-v1", [("odd", 8083, "http", ws.port)])
        wait_for(lambda: get(g.port, "/", "example.test")[0] == 200, what="served once the Service says http")
        wait_for(lambda: (resolved(cluster, "backend-protocol-odd") or {}).get("status") == "True", what="ResolvedRefs True")
    finally:
        ws.stop()
