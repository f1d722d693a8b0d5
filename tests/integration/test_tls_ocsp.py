"""OCSP stapling against a real responder: `openssl ocsp` started on
loopback with a test CA whose leaf names it in its Authority Information
Access; the staple checked with `openssl s_client -status` (TLS 1.2 and
1.3). Good, revoked, off unless `ocsp` is configured, responder down or
silent (no staple, handshake fine and fast), responderOverrides, and
refresh after a short-lived response (-nmin 1) with the staple dropped
once it expires while the responder is gone."""
import calendar
import os
import re
import socket
import subprocess
import time

from conftest import Process, free_port, service_yaml, wait_for


def ossl(*args, **kw):
    return subprocess.run(["openssl", *args], check=True, capture_output=True, **kw)


class Pki:
    """A CA, a delegated OCSP responder certificate (OCSPSigning), and a
    leaf for ocsp.test naming http://127.0.0.1:<port>/ as its responder."""

    def __init__(self, d, ocsp_url, name="ocsp.test"):
        self.d = d
        p = lambda n: os.path.join(d, n)
        self.ca_key, self.ca_crt = p("ca.key"), p("ca.crt")
        ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=ocsp test CA",
             "-days", "2", "-keyout", self.ca_key, "-out", self.ca_crt,
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")
        self.resp_crt, self.resp_key = self._issue("responder", "extendedKeyUsage=OCSPSigning\n")
        self.leaf_crt, self.leaf_key = self._issue(
            name, "subjectAltName=DNS:%s\nauthorityInfoAccess=OCSP;URI:%s\n" % (name, ocsp_url))
        self.chain = p("chain.crt")  # leaf then issuer, as a certFile should be
        with open(self.chain, "w") as f:
            f.write(open(self.leaf_crt).read() + open(self.ca_crt).read())
        out = ossl("x509", "-in", self.leaf_crt, "-noout", "-serial", "-subject", "-nameopt", "compat").stdout.decode()
        self.serial = re.search(r"serial=([0-9A-F]+)", out).group(1)
        self.subject = re.search(r"subject=\s*(.*)", out).group(1).strip()
        self.index = p("index.txt")
        self.set_status("V")

    def _issue(self, name, ext):
        p = lambda n: os.path.join(self.d, n)
        key, csr, crt, extf = p(name + ".key"), p(name + ".csr"), p(name + ".crt"), p(name + ".ext")
        with open(extf, "w") as f:
            f.write(ext)
        ossl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + name,
             "-keyout", key, "-out", csr)
        ossl("x509", "-req", "-in", csr, "-CA", self.ca_crt, "-CAkey", self.ca_key, "-CAcreateserial", "-days", "2",
             "-extfile", extf, "-out", crt)
        return crt, key

    def set_status(self, status):
        """V (valid) or R (revoked) in the responder's index.txt."""
        exp = time.strftime("%y%m%d%H%M%SZ", time.gmtime(time.time() + 2 * 86400))
        rev = time.strftime("%y%m%d%H%M%SZ", time.gmtime(time.time() - 3600)) + ",keyCompromise" if status == "R" else ""
        with open(self.index, "w") as f:
            f.write("%s\t%s\t%s\t%s\tunknown\t%s\n" % (status, exp, rev, self.serial, self.subject))


class Responder(Process):
    def __init__(self, pki, port, nmin=None):
        args = ["openssl", "ocsp", "-index", pki.index, "-port", str(port), "-rsigner", pki.resp_crt, "-rkey",
                pki.resp_key, "-CA", pki.ca_crt, "-ignore_err"]
        args += ["-nmin", str(nmin)] if nmin else ["-ndays", "1"]
        super().__init__(args, "ocsp")
        # not wait_port: openssl ocsp serves one connection at a time and
        # hangs on a probe that connects and closes without a request
        wait_for(lambda: "waiting for OCSP client connections" in self.output(), what="openssl ocsp listening")

    def stop(self, sig=15, timeout=5):
        return super().stop(sig, timeout)


def dynamic(up, pki, name="ocsp.test"):
    return ("http:\n  routers:\n"
            "    r: {rule: \"Host(`%s`)\", service: s, tls: {}}\n"
            "  services:\n%s"
            "tls:\n  certificates:\n    - {certFile: %s, keyFile: %s}\n" % (name, service_yaml("s", [up.url]), pki.chain,
                                                                            pki.leaf_key))


def status(port, *args, name="ocsp.test"):
    """openssl s_client -status: (exit code, output, seconds)."""
    t0 = time.monotonic()
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", name, "-status", *args],
                       input=b"", capture_output=True, timeout=30)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace"), time.monotonic() - t0


def stapled(out):
    m = re.search(r"Cert Status: (\w+)", out)
    return m.group(1) if m and "OCSP Response Status: successful" in out else None


def this_update(out):
    return re.search(r"This Update: (.*)", out).group(1).strip()


def test_good_response_stapled_tls12_and_tls13(tmp_path, procs):
    up = procs.whoami()
    port = free_port()
    pki = Pki(str(tmp_path), "http://127.0.0.1:%d/" % port)
    procs.add(Responder(pki, port))
    g = procs.gantry(tmp_path, dynamic(up, pki), args=["--ocsp=true"])
    g.wait_log(r"OCSP: certificate ocsp.test: good response from http://127.0.0.1:%d/ stapled" % port, timeout=15)
    for v in ("-tls1_2", "-tls1_3"):
        rc, out, _ = status(g.port, v, "-CAfile", pki.ca_crt)
        assert rc == 0 and stapled(out) == "good", out
        assert "Verify return code: 0 (ok)" in out
    # signed by the delegated responder, not the CA itself
    rc, out, _ = status(g.port, "-tls1_3")
    assert re.search(r"Responder Id: CN = responder", out), out
    # a client that does not ask gets none
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % g.port, "-servername", "ocsp.test"],
                       input=b"", capture_output=True, timeout=30)
    assert r.returncode == 0 and b"OCSP response" not in r.stdout


def test_off_unless_configured(tmp_path, procs):
    up = procs.whoami()
    port = free_port()
    pki = Pki(str(tmp_path), "http://127.0.0.1:%d/" % port)
    ocsp = procs.add(Responder(pki, port))
    g = procs.gantry(tmp_path, dynamic(up, pki))
    wait_for(lambda: status(g.port)[0] == 0 and "CN = ocsp.test" in status(g.port)[1], what="certificate served")
    time.sleep(1)
    rc, out, _ = status(g.port)
    assert rc == 0 and "OCSP response: no response sent" in out, out
    assert "OCSP" not in g.output()
    assert "Response" not in ocsp.output()  # the responder was never asked


def test_revoked_response_stapled_and_logged(tmp_path, procs):
    up = procs.whoami()
    port = free_port()
    pki = Pki(str(tmp_path), "http://127.0.0.1:%d/" % port)
    pki.set_status("R")
    procs.add(Responder(pki, port))
    g = procs.gantry(tmp_path, dynamic(up, pki), args=["--ocsp=true"])
    g.wait_log(r"ERROR.*OCSP: certificate ocsp.test is REVOKED", timeout=15)
    wait_for(lambda: any("ocsp: certificate ocsp.test is revoked" in p for p in g.api("/api/overview")["problems"]),
             what="revocation in /api/overview")
    rc, out, _ = status(g.port, "-tls1_2")
    assert rc == 0 and stapled(out) == "revoked", out
    assert "Revocation Reason: keyCompromise" in out


def test_responder_down_or_silent_no_staple_handshake_fine(tmp_path, procs):
    up = procs.whoami()
    down = free_port()  # nobody listens
    pki = Pki(str(tmp_path), "http://127.0.0.1:%d/" % down)
    g = procs.gantry(tmp_path, dynamic(up, pki), args=["--ocsp=true"])
    g.wait_log(r"ERROR.*OCSP: certificate ocsp.test: http://127.0.0.1:%d/: .*no staple; next try in 10 s" % down,
               timeout=15)
    rc, out, _ = status(g.port, "-CAfile", pki.ca_crt)
    assert rc == 0 and "OCSP response: no response sent" in out and "Verify return code: 0 (ok)" in out, out
    # the error is in the API too
    wait_for(lambda: any(p.startswith("ocsp: certificate ocsp.test: http://127.0.0.1:%d/: " % down)
                         for p in g.api("/api/overview")["problems"]), what="the OCSP problem in /api/overview")

    # a responder that accepts and never answers: handshakes do not wait for it
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    d2 = os.path.join(str(tmp_path), "silent")
    os.makedirs(d2)
    pki2 = Pki(d2, "http://127.0.0.1:%d/" % silent.getsockname()[1])
    g.write(dynamic(up, pki2))
    g.wait_log(r"OCSP: certificate ocsp.test: asking http://127.0.0.1:%d/" % silent.getsockname()[1], timeout=10)
    conn, _ = silent.accept()  # the request is in flight, unanswered
    for _ in range(5):
        rc, out, secs = status(g.port, "-CAfile", pki2.ca_crt)
        assert rc == 0 and "OCSP response: no response sent" in out and "Verify return code: 0 (ok)" in out, out
        assert secs < 2, secs
    # the stuck request ends with curl's timeout (10 s) and an error in the log
    g.wait_log(r"ERROR.*OCSP: certificate ocsp.test: http://127.0.0.1:%d/: Timeout" % silent.getsockname()[1],
               timeout=20)
    conn.close()
    silent.close()


def test_responder_overrides(tmp_path, procs):
    up = procs.whoami()
    port = free_port()
    named = "http://ocsp.invalid/"  # what the certificate says: unresolvable
    pki = Pki(str(tmp_path), named)
    procs.add(Responder(pki, port))
    # the CLI cannot carry a URL as a key (dots): the file form
    static = os.path.join(str(tmp_path), "static.yaml")
    with open(static, "w") as f:
        f.write("ocsp:\n  responderOverrides:\n    \"%s\": \"http://127.0.0.1:%d/\"\n" % (named, port))
    g = procs.gantry(tmp_path, dynamic(up, pki), args=["--configFile=" + static])
    g.wait_log(r"responder %s overridden by http://127.0.0.1:%d/" % (named, port), timeout=10)
    g.wait_log(r"OCSP: certificate ocsp.test: good response from http://127.0.0.1:%d/ stapled" % port, timeout=15)
    rc, out, _ = status(g.port)
    assert rc == 0 and stapled(out) == "good", out


def test_refresh_before_expiry_and_expired_staple_dropped(tmp_path, procs):
    """-nmin 1: responses valid one minute, refreshed half way (30 s); with
    the responder gone, the last staple is dropped at its nextUpdate."""
    up = procs.whoami()
    port = free_port()
    pki = Pki(str(tmp_path), "http://127.0.0.1:%d/" % port)
    ocsp = procs.add(Responder(pki, port, nmin=1))
    g = procs.gantry(tmp_path, dynamic(up, pki), args=["--ocsp=true"])
    g.wait_log(r"good response from .* stapled \(nextUpdate [^)]*\); next fetch in (2\d|30) s", timeout=15)
    rc, out, _ = status(g.port)
    first = this_update(out)
    assert stapled(out) == "good", out
    # the refresh, about 30 s later, replaces the staple
    wait_for(lambda: stapled(status(g.port)[1]) == "good" and this_update(status(g.port)[1]) != first, timeout=45,
             interval=1, what="a newer staple")
    rc, out, _ = status(g.port)
    second = this_update(out)
    next_update = calendar.timegm(time.strptime(re.search(r"Next Update: (.*)", out).group(1).strip(),
                                                "%b %d %H:%M:%S %Y GMT"))
    ocsp.stop()
    g.wait_log(r"ERROR.*OCSP: certificate ocsp.test: .*the previous response stays stapled until", timeout=45)
    # still stapled until nextUpdate, then gone: the handshake goes on without it
    if time.time() < next_update - 2:
        assert stapled(status(g.port)[1]) == "good"
    wait_for(lambda: "OCSP response: no response sent" in status(g.port)[1], timeout=max(5, next_update - time.time() + 5),
             interval=1, what="the expired staple dropped")
    assert time.time() >= next_update - 1, "dropped before its nextUpdate"
    rc, out, _ = status(g.port, "-CAfile", pki.ca_crt)
    assert rc == 0 and "Verify return code: 0 (ok)" in out
    assert second != first
