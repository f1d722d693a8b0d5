"""Session resumption with the process's shared, rotated ticket keys:
openssl s_client -sess_out/-sess_in over many connections to a gantry with
two workers (TLS 1.2 and 1.3), every one resumed; `disableSessionTickets`
turns resumption off (as Traefik: Go has no session cache either); a
session made for a host with the default TLS option is not resumed on a
host whose option requires a client certificate."""
import json
import os
import re
import subprocess

from conftest import service_yaml, wait_for
from tls_certs import make_cert, make_client_cert


def s_client(port, name, sess_in=None, sess_out=None, *args):
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", name, "-ign_eof", *args]
    if sess_in:
        cmd += ["-sess_in", sess_in]
    if sess_out:
        cmd += ["-sess_out", sess_out]
    req = b"GET /?format=json HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % name.encode()
    r = subprocess.run(cmd, input=req, capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode(errors="replace")
    m = re.search(r"^(New|Reused), (TLSv1\.[23])", out, re.M)
    return (m.group(1) if m else None), (m.group(2) if m else None), out


def config(up, d, ca):
    certs = [make_cert(d, n) for n in ("res.test", "noticket.test", "mtls.test")]
    y = ("http:\n  routers:\n"
         "    res: {rule: \"Host(`res.test`)\", service: s, tls: {}}\n"
         "    noticket: {rule: \"Host(`noticket.test`)\", service: s, tls: {options: noticket}}\n"
         "    mtls: {rule: \"Host(`mtls.test`)\", service: s, tls: {options: mtls}}\n"
         "  services:\n" + service_yaml("s", [up.url]) +
         "tls:\n  options:\n"
         "    noticket: {disableSessionTickets: true}\n"
         "    mtls: {clientAuth: {caFiles: [\"%s\"], clientAuthType: RequireAndVerifyClientCert}}\n"
         "  certificates:\n" % ca)
    for crt, key in certs:
        y += "    - {certFile: %s, keyFile: %s}\n" % (crt, key)
    return y


def remote_addr(out):
    m = re.search(r"\{.*\"remote_addr\".*\}", out)
    return json.loads(m.group(0))["remote_addr"] if m else None


def test_resumed_across_connections_and_workers(tmp_path, procs):
    up = procs.whoami()
    d = str(tmp_path)
    ca = os.path.join(d, "ca.crt")
    g = procs.gantry(tmp_path, config(up, d, ca), workers=2)
    wait_for(lambda: s_client(g.port, "res.test")[0] == "New" and "CN = res.test" in s_client(g.port, "res.test")[2],
             what="res.test served")
    for version in ("-tls1_2", "-tls1_3"):
        sess = os.path.join(d, "sess%s.pem" % version)
        kind, proto, out = s_client(g.port, "res.test", None, sess, version)
        assert kind == "New" and os.path.getsize(sess) > 0, out
        if version == "-tls1_3":
            assert "Post-Handshake New Session Ticket arrived" in out, out
        else:
            assert "TLS session ticket:" in out, out
        upstream_conns = set()
        for i in range(30):
            kind, proto, out = s_client(g.port, "res.test", sess, sess, version)
            assert kind == "Reused" and proto == ("TLSv1.2" if version == "-tls1_2" else "TLSv1.3"), (i, out)
            assert "HTTP/1.1 200" in out, out
            upstream_conns.add(remote_addr(out))
        # each worker keeps its own upstream connections: more than one seen
        # means more than one worker answered resumed handshakes
        assert len(upstream_conns) >= 2, upstream_conns


def test_disable_session_tickets_means_no_resumption(tmp_path, procs):
    up = procs.whoami()
    d = str(tmp_path)
    ca = os.path.join(d, "ca.crt")
    g = procs.gantry(tmp_path, config(up, d, ca), workers=2)
    wait_for(lambda: "CN = noticket.test" in s_client(g.port, "noticket.test")[2], what="noticket.test served")
    for version in ("-tls1_2", "-tls1_3"):
        sess = os.path.join(d, "sess%s.pem" % version)
        kind, _, out = s_client(g.port, "noticket.test", None, sess, version)
        assert kind == "New", out
        assert "TLS session ticket:" not in out, out  # no ticket sent (TLS 1.2)
        assert "Post-Handshake New Session Ticket arrived" not in out, out  # nor TLS 1.3's
        if not os.path.exists(sess):
            continue  # nothing resumable: s_client had no session to write
        for _ in range(3):
            kind, _, out = s_client(g.port, "noticket.test", sess, sess, version)
            assert kind == "New" and "HTTP/1.1 200" in out, out


def test_session_not_resumed_under_a_stricter_option(tmp_path, procs):
    """A session made without a client certificate (default option) offered
    to the host that requires one: a full handshake, which then fails."""
    up = procs.whoami()
    d = str(tmp_path)
    ca = os.path.join(d, "ca.crt")
    ccrt, ckey = make_client_cert(d, "client")
    g = procs.gantry(tmp_path, config(up, d, ca), workers=2)
    wait_for(lambda: "CN = res.test" in s_client(g.port, "res.test")[2], what="res.test served")
    for version in ("-tls1_2", "-tls1_3"):
        sess = os.path.join(d, "sess%s.pem" % version)
        kind, _, out = s_client(g.port, "res.test", None, sess, version)
        assert kind == "New", out
        kind, _, out = s_client(g.port, "mtls.test", sess, None, version)
        assert kind != "Reused", out
        assert "HTTP/1.1 200" not in out, out
        # with a certificate the host works, and its own sessions resume
        sess2 = os.path.join(d, "mtls%s.pem" % version)
        kind, _, out = s_client(g.port, "mtls.test", None, sess2, version, "-cert", ccrt, "-key", ckey)
        assert kind == "New" and "HTTP/1.1 200" in out, out
        kind, _, out = s_client(g.port, "mtls.test", sess2, None, version)
        assert kind == "Reused" and "HTTP/1.1 200" in out, out
