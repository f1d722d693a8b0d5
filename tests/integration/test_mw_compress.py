"""compress against a real upstream (whoami): gzip decoded by curl
--compressed, brotli and zstd by Python's decoders (python3-brotli,
python3-zstandard), negotiation with q-values and the encodings order, the
cases that must not be compressed, and a stream whose pieces arrive
compressed as they are produced."""
import gzip
import hashlib
import http.client
import subprocess
import time

import brotli
import zstandard

from conftest import SLOW, get, service_yaml, wait_for


def config(app):
    return ("http:\n  routers:\n"
            "    r: {rule: \"Host(`c.test`)\", service: app, middlewares: [gz]}\n"
            "    z: {rule: \"Host(`z.test`)\", service: app, middlewares: [zfirst]}\n"
            "    x: {rule: \"Host(`x.test`)\", service: app, middlewares: [notext]}\n"
            "  middlewares:\n"
            "    gz: {compress: {}}\n"
            "    zfirst: {compress: {encodings: [zstd, br, gzip], minResponseBodyBytes: 10, defaultEncoding: gzip}}\n"
            "    notext: {compress: {excludedContentTypes: [\"text/plain\"]}}\n"
            "  services:\n" + service_yaml("app", [app.url]))


def raw(port, path, host, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
    conn.request("GET", path, headers=dict({"Host": host}, **headers))
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def test_gzip_brotli_zstd_decode_to_the_original(tmp_path, procs):
    app = procs.whoami()
    g = procs.gantry(tmp_path, config(app))
    wait_for(lambda: get(g.port, "/", "c.test")[0] == 200, what="route live")
    plain = raw(g.port, "/bytes/200000", "c.test", {})[2]  # identity (http.client's default): not compressed
    assert hashlib.sha256(plain).hexdigest() == raw(g.port, "/bytes/200000", "c.test", {})[1]["x-body-sha256"]
    # gzip by curl --compressed
    out = subprocess.run(["curl", "-s", "--compressed", "-D", "-", "-H", "Host: c.test",
                          "http://127.0.0.1:%d/bytes/200000" % g.port], capture_output=True, timeout=30).stdout
    head, body = out.split(b"\r\n\r\n", 1)
    assert b"content-encoding: gzip" in head.lower() and b"vary: accept-encoding" in head.lower()
    assert body == plain
    # brotli and zstd by Python's decoders; q-values and the configured order decide
    s, h, b = raw(g.port, "/bytes/200000", "c.test", {"Accept-Encoding": "br;q=1, gzip;q=0.5"})
    assert h["content-encoding"] == "br" and "content-length" not in h and brotli.decompress(b) == plain
    s, h, b = raw(g.port, "/bytes/200000", "z.test", {"Accept-Encoding": "gzip, br, zstd"})
    assert h["content-encoding"] == "zstd" and zstandard.ZstdDecompressor().decompressobj().decompress(b) == plain
    s, h, b = raw(g.port, "/bytes/200000", "c.test", {"Accept-Encoding": "gzip, br, zstd"})
    assert h["content-encoding"] == "gzip" and gzip.decompress(b) == plain  # default order: gzip first
    # defaultEncoding: for a wildcard, and for no Accept-Encoding at all
    assert raw(g.port, "/bytes/2000", "z.test", {"Accept-Encoding": "*"})[1]["content-encoding"] == "gzip"
    out = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null", "-H", "Host: z.test",  # curl sends no Accept-Encoding
                          "http://127.0.0.1:%d/bytes/2000" % g.port], capture_output=True, timeout=30).stdout
    assert b"content-encoding: gzip" in out.lower()
    assert len(b) < len(plain)


def test_what_is_not_compressed(tmp_path, procs):
    app = procs.whoami()
    g = procs.gantry(tmp_path, config(app))
    wait_for(lambda: get(g.port, "/", "c.test")[0] == 200, what="route live")
    ae = {"Accept-Encoding": "gzip"}
    assert "content-encoding" not in raw(g.port, "/bytes/100", "c.test", ae)[1]  # under 1024 bytes
    assert "content-encoding" not in raw(g.port, "/bytes/5000", "c.test", {"Accept-Encoding": ""})[1]
    assert "content-encoding" not in raw(g.port, "/bytes/5000", "c.test", {"Accept-Encoding": "identity"})[1]
    assert "content-encoding" not in raw(g.port, "/status/204", "c.test", ae)[1]
    # an excluded type passes as is
    s, h, b = raw(g.port, "/?pad=" + "x" * 3000, "x.test", ae)
    assert s == 200 and "content-encoding" not in h


def test_stream_pieces_arrive_as_produced(tmp_path, procs):
    app = procs.whoami()
    g = procs.gantry(tmp_path, config(app))
    wait_for(lambda: get(g.port, "/", "c.test")[0] == 200, what="route live")
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=10 * SLOW)
    conn.request("GET", "/stream?n=4&delay=0.4", headers={"Host": "c.test", "Accept-Encoding": "gzip"})
    r = conn.getresponse()
    assert r.getheader("content-encoding") == "gzip"
    d = __import__("zlib").decompressobj(31)
    t0 = time.time()
    first = b""
    while b"chunk 0" not in first:  # the first piece decodes long before the stream ends (1.2 s)
        first += d.decompress(r.read1(65536))
    assert time.time() - t0 < 0.35, time.time() - t0
    rest = first + d.decompress(r.read()) + d.flush()
    assert rest.count(b"chunk") == 4
