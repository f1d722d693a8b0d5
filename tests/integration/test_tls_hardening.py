"""TLS hardening: the default TLS 1.2 cipher suites (ECDHE with AES-GCM or
ChaCha20-Poly1305 only, for ECDSA and RSA certificates alike; sslscan and
openssl s_client as the peers), and 421 Misdirected Request for a host
whose certificate is not the one the connection was made with, over
HTTP/1.1 (curl) and HTTP/2 (python3-h2), with HTTP/2 connection
coalescing across the names of one certificate kept working."""
import os
import re
import socket
import ssl

import h2.config
import h2.connection
import h2.events

from conftest import SLOW, run, service_yaml, wait_for
from tls_certs import make_ca, make_cert

TLS13 = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
TLS12_ECDSA = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"}
TLS12_RSA = {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"}


def make_rsa_cert(d, name):
    """An RSA-2048 server certificate for <name> signed by the test CA
    (tls_certs makes P-256 ones)."""
    ca_key, ca_crt = make_ca(d)
    key, csr, crt, ext = (os.path.join(d, "%s.%s" % (name, e)) for e in ("key", "csr", "crt", "ext"))
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:%s\n" % name)
    run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name, "-keyout", key, "-out", csr])
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
         "-extfile", ext, "-out", crt])
    return crt, key


def config(up, certs):
    """Routers for hosts with certificates of their own (a.test; c1.test and
    c2.test on one certificate; names under *.wild.test; rsa.test) and for
    nocert.test, which has none."""
    routers = [("a", "Host(`a.test`)"), ("c", "Host(`c1.test`) || Host(`c2.test`)"),
               ("wild", "Host(`x.wild.test`) || Host(`y.wild.test`) || Host(`z.wild.test`)"), ("rsa", "Host(`rsa.test`)"),
               ("nocert", "Host(`nocert.test`)")]
    y = "http:\n  routers:\n"
    for name, rule in routers:
        y += "    %s:\n      rule: \"%s\"\n      service: s\n      tls: {}\n" % (name, rule)
    y += "  services:\n" + service_yaml("s", [up.url]) + "tls:\n  certificates:\n"
    for crt, key in certs:
        y += "    - certFile: %s\n      keyFile: %s\n" % (crt, key)
    return y


def start(tmp_path, procs):
    up = procs.whoami()
    d = str(tmp_path)
    certs = [make_cert(d, "a.test"), make_cert(d, "c.test", ["c1.test", "c2.test"]),
             make_cert(d, "wild.test", ["*.wild.test"]), make_rsa_cert(d, "rsa.test")]
    g = procs.gantry(tmp_path, config(up, certs))
    g.up, g.certs = up, certs  # for tests that rewrite the configuration
    # the file provider compiles after start: wait until a.test has its own certificate
    wait_for(lambda: "a.test" in s_client(g.port, ["-servername", "a.test"]), timeout=10, what="a.test's certificate")
    return g, d + "/ca.crt"


def s_client(port, args):
    r = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-brief"] + args, check=False,
            stdin=open(os.devnull, "rb"), timeout=30)
    return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


# ---- default cipher suites ----

def sslscan(port, sni=None):
    """{protocol: set of accepted suites} and the protocol lines of
    sslscan's report."""
    args = ["sslscan", "--no-colour", "--no-groups"] + (["--sni-name=" + sni] if sni else []) + ["127.0.0.1:%d" % port]
    out = run(args, timeout=120).stdout.decode(errors="replace")
    suites = {}
    for m in re.finditer(r"^(?:Preferred|Accepted)\s+(\S+)\s+\d+ bits\s+(\S+)", out, re.M):
        suites.setdefault(m.group(1), set()).add(m.group(2))
    protocols = dict(re.findall(r"^(SSLv2|SSLv3|TLSv1\.[0-3])\s+(enabled|disabled)", out, re.M))
    return suites, protocols, out


def test_sslscan_default_suites_are_ecdhe_aead_for_ecdsa_and_rsa(tmp_path, procs):
    g, _ = start(tmp_path, procs)
    for sni, tls12 in ((None, TLS12_ECDSA),        # no SNI name of ours: the default (P-256) certificate
                       ("a.test", TLS12_ECDSA),    # a configured P-256 certificate
                       ("rsa.test", TLS12_RSA)):   # a configured RSA certificate
        suites, protocols, out = sslscan(g.port, sni)
        assert suites == {"TLSv1.2": tls12, "TLSv1.3": TLS13}, (sni, out)
        assert protocols == {"SSLv2": "disabled", "SSLv3": "disabled", "TLSv1.0": "disabled", "TLSv1.1": "disabled",
                             "TLSv1.2": "enabled", "TLSv1.3": "enabled"}, (sni, out)
        assert "Session renegotiation not supported" in out


def test_s_client_cbc_and_static_rsa_refused_on_tls12(tmp_path, procs):
    g, ca = start(tmp_path, procs)
    refused = [("rsa.test", "AES128-GCM-SHA256"),          # static RSA key exchange, even with GCM
               ("rsa.test", "AES256-SHA"),                  # static RSA, CBC, SHA-1
               ("rsa.test", "ECDHE-RSA-AES128-SHA"),        # ECDHE but CBC with SHA-1
               ("rsa.test", "ECDHE-RSA-AES256-SHA384"),     # ECDHE but CBC
               ("a.test", "ECDHE-ECDSA-AES128-SHA"),
               ("a.test", "ECDHE-ECDSA-AES128-SHA256"),
               ("rsa.test", "DHE-RSA-AES128-GCM-SHA256")]   # finite-field DHE: not offered either
    for sni, cipher in refused:
        out = s_client(g.port, ["-servername", sni, "-tls1_2", "-cipher", cipher + ":@SECLEVEL=0"])
        # libh2o closes a failed handshake without flushing OpenSSL's alert,
        # so the client sees either the alert or the end of the stream
        assert "Ciphersuite" not in out and re.search("handshake failure|unexpected eof", out), (sni, cipher, out)
    for sni, cipher in (("rsa.test", "ECDHE-RSA-AES128-GCM-SHA256"), ("rsa.test", "ECDHE-RSA-CHACHA20-POLY1305"),
                        ("a.test", "ECDHE-ECDSA-AES256-GCM-SHA384")):
        out = s_client(g.port, ["-servername", sni, "-tls1_2", "-cipher", cipher, "-CAfile", ca, "-verify_return_error"])
        assert "Ciphersuite: " + cipher in out and "Verification: OK" in out, (sni, cipher, out)
    # both kinds of certificate serve requests over TLS 1.2 and 1.3
    for host in ("a.test", "rsa.test"):
        for version in ("--tlsv1.2 --tls-max 1.2", "--tlsv1.3"):
            r = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca] + version.split() +
                    ["--resolve", "%s:%d:127.0.0.1" % (host, g.port), "https://%s:%d/" % (host, g.port)])
            assert r.stdout == b"200", (host, version)


# ---- 421 Misdirected Request ----

def curl_status(port, ca, sni, host):
    """The status of GET / with TLS SNI <sni> (None: connect to the IP
    literal, so no SNI) and Host <host>; the certificate is verified
    against <ca> unless <ca> is None."""
    verify = ["--cacert", ca] if ca else ["-k"]
    if sni is None:
        url, extra = "https://127.0.0.1:%d/" % port, ["-k"]
    else:
        url, extra = "https://%s:%d/" % (sni, port), verify + ["--resolve", "%s:%d:127.0.0.1" % (sni, port)]
    r = run(["curl", "-s", "--http1.1", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: " + host] + extra + [url])
    return int(r.stdout)


def test_http1_host_with_another_certificate_is_421(tmp_path, procs):
    g, ca = start(tmp_path, procs)
    p = g.port
    # the right certificate, in any spelling of the host
    for host in ("a.test", "A.Test", "a.test:%d" % p, "a.test."):
        assert curl_status(p, ca, "a.test", host) == 200, host
    # a.test on a connection made for another name, with no SNI (IP literal), or on another certificate
    assert curl_status(p, ca, "c1.test", "a.test") == 421
    assert curl_status(p, ca, "rsa.test", "a.test") == 421
    assert curl_status(p, ca, "x.wild.test", "a.test") == 421
    assert curl_status(p, ca, None, "a.test") == 421
    assert curl_status(p, ca, None, "x.wild.test") == 421
    assert curl_status(p, ca, "a.test", "c2.test") == 421
    # names of one certificate share connections
    assert curl_status(p, ca, "c1.test", "c2.test") == 200
    assert curl_status(p, ca, "x.wild.test", "y.wild.test") == 200
    # hosts without a certificate of their own are served on the default one, or any other
    assert curl_status(p, ca, None, "nocert.test") == 200
    assert curl_status(p, ca, "a.test", "nocert.test") == 200
    assert curl_status(p, None, "unknown.test", "nocert.test") == 200  # the default certificate
    # a wildcard covers one label only: two labels have no certificate here, so no 421 (and no route)
    assert curl_status(p, ca, None, "a.b.wild.test") == 404
    # the 421 body, and the connection stays open for the names it serves
    first = ["--cacert", ca, "--resolve", "c1.test:%d:127.0.0.1" % p, "https://c1.test:%d/" % p]
    r = run(["curl", "-s", "--http1.1", "-H", "Host: a.test", "-w", "%{http_code}\n"] + first +
            ["--next", "--http1.1", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}"] + first)
    assert r.stdout.decode() == "misdirected request\n421\n200 0"
    # cleartext HTTP has no certificate: never 421 (the tls routers are not there)
    r = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: a.test", "http://127.0.0.1:%d/" % p])
    assert r.stdout == b"404"


class H2TLS:
    """A python3-h2 client on one TLS connection (ALPN h2)."""

    def __init__(self, port, ca, sni):
        ctx = ssl.create_default_context(cafile=ca)
        ctx.set_alpn_protocols(["h2"])
        if sni is None:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
        self.sock = ctx.wrap_socket(raw, server_hostname=sni)  # None: no SNI extension
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def get(self, authority):
        """:status of GET / for <authority> on this connection."""
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", "GET"), (":path", "/"), (":scheme", "https"), (":authority", authority)],
                               end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        status = None
        while True:
            data = self.sock.recv(65536)
            assert data, "connection closed"
            for e in self.conn.receive_data(data):
                if getattr(e, "stream_id", None) != sid:
                    continue
                if isinstance(e, h2.events.ResponseReceived):
                    status = int(dict(e.headers)[b":status"])
                elif isinstance(e, h2.events.DataReceived):
                    self.conn.acknowledge_received_data(e.flow_controlled_length, sid)
                elif isinstance(e, h2.events.StreamReset):
                    raise AssertionError("stream %d reset" % sid)
                elif isinstance(e, h2.events.StreamEnded):
                    self.sock.sendall(self.conn.data_to_send())
                    return status
            self.sock.sendall(self.conn.data_to_send())

    def close(self):
        self.sock.close()


def test_http2_coalescing_on_one_certificate_and_421_for_another(tmp_path, procs):
    g, ca = start(tmp_path, procs)
    # a browser that opened a connection for c1.test reuses it for c2.test (same certificate)
    c = H2TLS(g.port, ca, "c1.test")
    assert c.get("c1.test") == 200
    assert c.get("c2.test") == 200
    assert c.get("a.test") == 421        # its own certificate is another one
    assert c.get("rsa.test") == 421
    assert c.get("nocert.test") == 200   # no certificate of its own
    assert c.get("c2.test:%d" % g.port) == 200  # the connection survived the 421s
    c.close()
    # a wildcard certificate coalesces the names it covers
    c = H2TLS(g.port, ca, "x.wild.test")
    assert [c.get(h) for h in ("x.wild.test", "y.wild.test", "z.wild.test", "a.test")] == [200, 200, 200, 421]
    c.close()
    # no SNI: the default certificate covers no configured name
    c = H2TLS(g.port, ca, None)
    assert [c.get(h) for h in ("a.test", "c1.test", "nocert.test")] == [421, 421, 200]
    c.close()



def test_http2_exact_certificate_beats_wildcard_and_replaced_certificate(tmp_path, procs):
    g, ca = start(tmp_path, procs)
    d = str(tmp_path)
    old_a = H2TLS(g.port, ca, "a.test")
    old_c = H2TLS(g.port, ca, "c1.test")
    assert old_a.get("a.test") == 200 and old_c.get("c2.test") == 200
    # a.test's certificate replaced, and x.wild.test given an exact one of its own
    a2 = make_cert(d, "a2.test", ["a.test"])
    g.write(config(g.up, [a2] + g.certs[1:] + [make_cert(d, "x.wild.test")]))  # the other files unchanged
    wait_for(lambda: "CN = a2.test" in s_client(g.port, ["-servername", "a.test"]), timeout=10, what="a.test's new certificate")
    # the connection made with the old certificate: 421 for a.test; a new one is served
    assert old_a.get("a.test") == 421
    new_a = H2TLS(g.port, ca, "a.test")
    assert new_a.get("a.test") == 200
    new_a.close()
    # unchanged certificates are the same ones: connections made before the change keep coalescing
    assert old_c.get("c2.test") == 200 and old_c.get("c1.test") == 200
    # the exact certificate is x.wild.test's, even on a connection whose wildcard covers it
    w = H2TLS(g.port, ca, "y.wild.test")
    assert [w.get(h) for h in ("y.wild.test", "z.wild.test", "x.wild.test")] == [200, 200, 421]
    x = H2TLS(g.port, ca, "x.wild.test")
    assert x.get("x.wild.test") == 200
    for c in (old_a, old_c, w, x):
        c.close()


# ---- a strict option set (docs/security.md shows sslscan and testssl.sh output for it) ----

STRICT_OPTIONS = """  options:
    default:
      minVersion: VersionTLS13
      curvePreferences: [X25519, CurveP256]
    strict12mtls:
      minVersion: VersionTLS12
      maxVersion: VersionTLS12
      cipherSuites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]
      curvePreferences: [X25519, CurveP256]
      clientAuth: {caFiles: ["%s"], clientAuthType: RequireAndVerifyClientCert}
"""


def start_strict(tmp_path, procs):
    """a.test on the default option (TLS 1.3 only); m.test on TLS 1.2 only,
    two ECDSA suites, X25519/P-256, client certificates required."""
    from tls_certs import make_client_cert
    up = procs.whoami()
    d = str(tmp_path)
    a, m = make_cert(d, "a.test"), make_cert(d, "m.test")
    client = make_client_cert(d, "client")
    y = ("http:\n  routers:\n"
         "    a: {rule: \"Host(`a.test`)\", service: s, tls: {}}\n"
         "    m: {rule: \"Host(`m.test`)\", service: s, tls: {options: strict12mtls}}\n"
         "  services:\n" + service_yaml("s", [up.url]) +
         "tls:\n" + STRICT_OPTIONS % (d + "/ca.crt") + "  certificates:\n")
    for crt, key in (a, m):
        y += "    - {certFile: %s, keyFile: %s}\n" % (crt, key)
    g = procs.gantry(tmp_path, y)
    wait_for(lambda: "a.test" in s_client(g.port, ["-servername", "a.test"]), timeout=10, what="a.test's certificate")
    return g, client


def sslscan_groups(out):
    return {(p, g) for p, g in re.findall(r"^(TLSv1\.[23])\s+\d+ bits\s+(\S+)", out, re.M)}


def test_sslscan_strict_option_set(tmp_path, procs):
    g, (ccrt, ckey) = start_strict(tmp_path, procs)
    # TLS 1.3 only: nothing older, OpenSSL's three TLS 1.3 suites, two groups
    args = ["sslscan", "--no-colour", "--sni-name=a.test", "127.0.0.1:%d" % g.port]
    out = run(args, timeout=180).stdout.decode(errors="replace")
    suites = {}
    for mm in re.finditer(r"^(?:Preferred|Accepted)\s+(\S+)\s+\d+ bits\s+(\S+)", out, re.M):
        suites.setdefault(mm.group(1), set()).add(mm.group(2))
    assert suites == {"TLSv1.3": TLS13}, out
    assert dict(re.findall(r"^(SSLv2|SSLv3|TLSv1\.[0-3])\s+(enabled|disabled)", out, re.M)) == {
        "SSLv2": "disabled", "SSLv3": "disabled", "TLSv1.0": "disabled", "TLSv1.1": "disabled",
        "TLSv1.2": "disabled", "TLSv1.3": "enabled"}, out
    assert sslscan_groups(out) == {("TLSv1.3", "x25519"), ("TLSv1.3", "secp256r1")}, out
    # TLS 1.2 only, two suites, with a client certificate (sslscan presents one)
    args = ["sslscan", "--no-colour", "--sni-name=m.test", "--certs=" + ccrt, "--pk=" + ckey, "127.0.0.1:%d" % g.port]
    out = run(args, timeout=180).stdout.decode(errors="replace")
    suites = {}
    for mm in re.finditer(r"^(?:Preferred|Accepted)\s+(\S+)\s+\d+ bits\s+(\S+)", out, re.M):
        suites.setdefault(mm.group(1), set()).add(mm.group(2))
    assert suites == {"TLSv1.2": {"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"}}, out
    # sslscan 2.0.7 probes only NIST curves for TLS 1.2 (its suite lines show X25519 in use)
    assert sslscan_groups(out) == {("TLSv1.2", "secp256r1")} and "Curve 25519" in out, out
    # ... and without one, nothing at all is accepted
    args = ["sslscan", "--no-colour", "--no-groups", "--sni-name=m.test", "127.0.0.1:%d" % g.port]
    out = run(args, timeout=180, check=False).stdout.decode(errors="replace")
    assert not re.search(r"^(?:Preferred|Accepted)\s", out, re.M), out
