"""WebSocket through gantry, both directions, with python3-websockets as
client and server; wss through the TLS entry point; and what an HTTP/2
client is told (no RFC 8441: it must use HTTP/1.1)."""
import asyncio
import os
import ssl

import h2.config
import h2.connection
import h2.settings
import socket
import time
import websockets

from conftest import PYTHON, Process, free_port, service_yaml, wait_port
from tls_certs import make_cert


def start_echo(procs):
    port = free_port()
    procs.add(Process([PYTHON, os.path.join(os.path.dirname(__file__), "ws_echo.py"), str(port)], "ws-echo"))
    wait_port(port)
    return port


def config(port, cert=None):
    y = ("http:\n  routers:\n"
         "    ws:\n      rule: \"Host(`ws.test`)\"\n      service: ws\n"
         "    wss:\n      rule: \"Host(`ws.test`)\"\n      service: ws\n      tls: {}\n"
         "  services:\n" + service_yaml("ws", ["http://127.0.0.1:%d" % port]))
    if cert:
        y += "tls:\n  certificates:\n    - {certFile: %s, keyFile: %s}\n" % cert
    return y


async def exchange(uri, port, ssl_ctx=None):
    kw = {"host": "127.0.0.1", "port": port, "max_size": 8 * 1024 * 1024}
    if ssl_ctx:
        kw["ssl"] = ssl_ctx
        kw["server_hostname"] = "ws.test"
    async with websockets.connect(uri, **kw) as ws:
        for i in range(50):
            await ws.send("message %d" % i)
            assert await ws.recv() == "message %d" % i
        blob = os.urandom(1024 * 1024)
        await ws.send(blob)
        assert await ws.recv() == blob


def test_websocket_echo(tmp_path, procs):
    echo = start_echo(procs)
    g = procs.gantry(tmp_path, config(echo))
    asyncio.run(exchange("ws://ws.test:%d/chat" % g.port, g.port))


def test_websocket_survives_configuration_change(tmp_path, procs):
    echo = start_echo(procs)
    g = procs.gantry(tmp_path, config(echo))

    async def scenario():
        async with websockets.connect("ws://ws.test:%d/" % g.port, host="127.0.0.1", port=g.port) as ws:
            await ws.send("before")
            assert await ws.recv() == "before"
            g.write(config(echo) + "    other:\n      loadBalancer:\n        servers: [{url: \"http://127.0.0.1:1\"}]\n")
            g.wait_log(r"configuration applied.*2 services")
            await ws.send("after")
            assert await ws.recv() == "after"
    asyncio.run(scenario())


def test_wss_through_tls(tmp_path, procs):
    echo = start_echo(procs)
    cert = make_cert(str(tmp_path), "ws.test")
    g = procs.gantry(tmp_path, config(echo, cert))
    ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    asyncio.run(exchange("wss://ws.test:%d/" % g.port, g.port, ctx))


def test_http2_clients_get_websocket_over_http2(tmp_path, procs):
    """RFC 8441: SETTINGS_ENABLE_CONNECT_PROTOCOL is offered, and an
    extended CONNECT reaches the HTTP/1.1 echo upstream as a WebSocket
    handshake; the stream carries the frames both ways."""
    echo = start_echo(procs)
    g = procs.gantry(tmp_path, config(echo))
    s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, validate_outbound_headers=False))
    conn.initiate_connection()
    s.sendall(conn.data_to_send())
    settings = None
    while settings is None:
        for ev in conn.receive_data(s.recv(65535)):
            if ev.__class__.__name__ == "RemoteSettingsChanged":
                settings = ev.changed_settings
    s.sendall(conn.data_to_send())
    assert settings[0x8].new_value == 1
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":path", "/"),
                            (":authority", "ws.test"), ("sec-websocket-version", "13")])
    s.sendall(conn.data_to_send())
    payload, mask = b"over h2", b"\x01\x02\x03\x04"
    frame = bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    status, got, deadline = None, b"", time.time() + 5
    while payload not in got and time.time() < deadline:
        for ev in conn.receive_data(s.recv(65535)):
            if ev.__class__.__name__ == "ResponseReceived":
                status = dict(ev.headers)[b":status"]
                conn.send_data(sid, frame)
            elif ev.__class__.__name__ == "DataReceived":
                got += ev.data
                conn.acknowledge_received_data(len(ev.data), sid)
        s.sendall(conn.data_to_send())
    s.close()
    assert status == b"200"
    assert got == b"\x81" + bytes([len(payload)]) + payload  # the echo, unmasked from the server
