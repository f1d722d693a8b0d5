"""TLS options against real clients (openssl s_client, curl): version
bounds, cipher suites, curves, every client-auth type with and without a
certificate and with one from another CA, sniStrict, ALPN, session
tickets, the store's default certificate, 421 across options, and a router
naming an option that does not exist or cannot be applied (not served)."""
import os
import subprocess

from conftest import service_yaml, wait_for
from tls_certs import make_cert, make_client_cert


def s_client(port, sni, *args, cert=None, key=None):
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-brief"]
    cmd += ["-servername", sni] if sni else ["-noservername"]
    if cert:
        cmd += ["-cert", cert, "-key", key]
    cmd += list(args)
    r = subprocess.run(cmd, input=b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (sni or "x").encode(),
                       capture_output=True, timeout=20)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


def curl(port, host, ca, *args):
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "--cacert", ca,
                        "--resolve", "%s:%d:127.0.0.1" % (host, port), *args, "https://%s:%d/" % (host, port)],
                       capture_output=True, timeout=20)
    return r.stdout.decode()


def other_ca_client(d):
    """A client certificate from a CA gantry does not trust."""
    os.makedirs(d, exist_ok=True)
    return make_client_cert(d, "stranger")


def config(up, d, options, routers_extra="", stores=""):
    names = ["v13.test", "v12.test", "ciph.test", "mtls.test", "ifgiven.test", "anycert.test", "alpn.test", "plain.test",
             "noticket.test"]
    certs = [make_cert(d, n) for n in names]
    y = ("http:\n  routers:\n"
         "    v13: {rule: \"Host(`v13.test`)\", service: s, tls: {options: tls13}}\n"
         "    v12: {rule: \"Host(`v12.test`)\", service: s, tls: {options: max12}}\n"
         "    ciph: {rule: \"Host(`ciph.test`)\", service: s, tls: {options: onesuite}}\n"
         "    mtls: {rule: \"Host(`mtls.test`)\", service: s, tls: {options: mtls}}\n"
         "    ifgiven: {rule: \"Host(`ifgiven.test`)\", service: s, tls: {options: ifgiven}}\n"
         "    anycert: {rule: \"Host(`anycert.test`)\", service: s, tls: {options: anycert}}\n"
         "    alpn: {rule: \"Host(`alpn.test`)\", service: s, tls: {options: h1only}}\n"
         "    noticket: {rule: \"Host(`noticket.test`)\", service: s, tls: {options: noticket}}\n"
         "    plain: {rule: \"Host(`plain.test`)\", service: s, tls: {}}\n"
         "    missing: {rule: \"Host(`missing.test`)\", service: s, tls: {options: nosuch}}\n"
         "    broken: {rule: \"Host(`broken.test`)\", service: s, tls: {options: broken}}\n" + routers_extra +
         "  services:\n" + service_yaml("s", [up.url]) +
         "tls:\n  options:\n" + options + stores + "  certificates:\n")
    for crt, key in certs:
        y += "    - {certFile: %s, keyFile: %s}\n" % (crt, key)
    return y


def test_tls_options(tmp_path, procs):
    up = procs.whoami()
    d = str(tmp_path)
    ca = os.path.join(d, "ca.crt")
    ccrt, ckey = make_client_cert(d, "client")
    scrt, skey = other_ca_client(os.path.join(d, "other"))
    opts = ("    tls13: {minVersion: VersionTLS13}\n"
            "    max12: {maxVersion: VersionTLS12}\n"
            "    onesuite: {maxVersion: VersionTLS12, cipherSuites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384], curvePreferences: [CurveP384, CurveP256]}\n"
            "    mtls: {clientAuth: {caFiles: [\"%s\"], clientAuthType: RequireAndVerifyClientCert}}\n"
            "    ifgiven: {clientAuth: {caFiles: [\"%s\"], clientAuthType: VerifyClientCertIfGiven}}\n"
            "    anycert: {clientAuth: {clientAuthType: RequireAnyClientCert}}\n"
            "    h1only: {alpnProtocols: [http/1.1]}\n"
            "    noticket: {disableSessionTickets: true, maxVersion: VersionTLS12}\n"
            "    broken: {cipherSuites: [TLS_NOT_A_SUITE]}\n" % (ca, ca))
    g = procs.gantry(tmp_path, config(up, d, opts))
    wait_for(lambda: curl(g.port, "plain.test", ca).startswith("200"), what="TLS router live")
    # versions
    assert s_client(g.port, "v13.test", "-tls1_2")[0] != 0
    assert s_client(g.port, "v13.test", "-tls1_3")[0] == 0
    assert s_client(g.port, "v12.test", "-tls1_3")[0] != 0
    assert s_client(g.port, "v12.test", "-tls1_2")[0] == 0
    # a default-option host keeps TLS 1.3
    assert s_client(g.port, "plain.test", "-tls1_3")[0] == 0
    # cipher suites and curves
    assert s_client(g.port, "ciph.test", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")[0] != 0
    rc, out = s_client(g.port, "ciph.test", "-tls1_2")
    assert rc == 0 and "ECDHE-ECDSA-AES256-GCM-SHA384" in out, out
    assert s_client(g.port, "ciph.test", "-tls1_2", "-curves", "X25519")[0] != 0
    # client authentication
    assert not curl(g.port, "mtls.test", ca).startswith("200")
    assert curl(g.port, "mtls.test", ca, "--cert", ccrt, "--key", ckey).startswith("200")
    assert not curl(g.port, "mtls.test", ca, "--cert", scrt, "--key", skey).startswith("200")
    assert curl(g.port, "ifgiven.test", ca).startswith("200")
    assert curl(g.port, "ifgiven.test", ca, "--cert", ccrt, "--key", ckey).startswith("200")
    assert not curl(g.port, "ifgiven.test", ca, "--cert", scrt, "--key", skey).startswith("200")
    assert not curl(g.port, "anycert.test", ca).startswith("200")
    assert curl(g.port, "anycert.test", ca, "--cert", scrt, "--key", skey).startswith("200")
    # ALPN narrowed to HTTP/1.1; the default offers h2
    assert curl(g.port, "alpn.test", ca, "--http2") == "200 1.1"
    assert curl(g.port, "plain.test", ca, "--http2") == "200 2"
    # session tickets
    assert "TLS session ticket" not in subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % g.port, "-servername", "noticket.test", "-tls1_2"],
        input=b"", capture_output=True, timeout=20).stdout.decode()
    # 421: the mtls router's host reached over a connection made for another host's option
    assert curl(g.port, "plain.test", ca, "-H", "Host: mtls.test").startswith("421")
    # routers whose option does not exist or cannot be built are not served
    rs = {r["name"]: r for r in g.api("/api/http/routers")}
    assert rs["missing@file"]["status"] == "disabled" and "nosuch@file' does not exist" in " ".join(rs["missing@file"]["error"])
    assert rs["broken@file"]["status"] == "disabled"
    assert any("TLS_NOT_A_SUITE" in p for p in g.api("/api/overview")["problems"])


def test_sni_strict_and_store_default_certificate(tmp_path, procs):
    up = procs.whoami()
    d = str(tmp_path)
    ca = os.path.join(d, "ca.crt")
    dcrt, dkey = make_cert(d, "fallback.test")
    stores = "  stores:\n    default:\n      defaultCertificate: {certFile: %s, keyFile: %s}\n" % (dcrt, dkey)
    g = procs.gantry(tmp_path, config(up, d, "    tls13: {minVersion: VersionTLS13}\n    max12: {}\n    onesuite: {}\n"
                                          "    mtls: {}\n    ifgiven: {}\n    anycert: {}\n    h1only: {}\n    noticket: {}\n"
                                          "    broken: {}\n", stores=stores))
    wait_for(lambda: curl(g.port, "plain.test", ca).startswith("200"), what="TLS router live")
    # no SNI, or an unknown name: the store's default certificate instead of the generated one
    rc, out = s_client(g.port, None)
    assert "fallback.test" in out, out
    assert "fallback.test" in s_client(g.port, "unknown.test")[1]
    # sniStrict on the default option: no SNI or an unknown name fails the handshake
    g.write(open(g.dynamic_path).read().replace("    broken: {}\n", "    broken: {}\n    default: {sniStrict: true}\n"))
    wait_for(lambda: s_client(g.port, None)[0] != 0, what="sniStrict applied")
    assert s_client(g.port, "unknown.test")[0] != 0
    assert s_client(g.port, "plain.test")[0] == 0


def cert_requested(port, sni):
    """Whether the server sent a CertificateRequest (s_client -msg traces the handshake messages)."""
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", sni, "-msg"],
                         input=b"", capture_output=True, timeout=20).stdout.decode(errors="replace")
    assert ", Finished" in out, out  # the handshake completed
    return ", CertificateRequest" in out


def test_request_and_no_client_cert_and_inline_ca(tmp_path, procs):
    """The two client-auth types test_tls_options leaves out, and caFiles
    given inline: RequestClientCert asks for a certificate and checks none
    (no certificate, or one from another CA: 200); NoClientCert asks for
    none; a CA given as PEM text verifies as the file does."""
    import json
    up = procs.whoami()
    d = str(tmp_path)
    ca = os.path.join(d, "ca.crt")
    ccrt, ckey = make_client_cert(d, "client")
    scrt, skey = other_ca_client(os.path.join(d, "other"))
    inline = json.dumps(open(ca).read())  # a YAML double-quoted string with the PEM's newlines
    opts = ("    tls13: {}\n    max12: {}\n    onesuite: {}\n    noticket: {}\n    broken: {}\n    h1only: {}\n"
            "    mtls: {clientAuth: {caFiles: [%s], clientAuthType: RequireAndVerifyClientCert}}\n"
            "    ifgiven: {clientAuth: {clientAuthType: RequestClientCert}}\n"
            "    anycert: {clientAuth: {clientAuthType: NoClientCert}}\n" % inline)
    g = procs.gantry(tmp_path, config(up, d, opts))
    wait_for(lambda: curl(g.port, "plain.test", ca).startswith("200"), what="TLS router live")
    # inline caFiles: our client passes, none or a stranger's does not
    assert curl(g.port, "mtls.test", ca, "--cert", ccrt, "--key", ckey).startswith("200")
    assert not curl(g.port, "mtls.test", ca).startswith("200")
    assert not curl(g.port, "mtls.test", ca, "--cert", scrt, "--key", skey).startswith("200")
    # RequestClientCert: asked for, never checked
    assert cert_requested(g.port, "ifgiven.test")
    assert curl(g.port, "ifgiven.test", ca).startswith("200")
    assert curl(g.port, "ifgiven.test", ca, "--cert", scrt, "--key", skey).startswith("200")
    # NoClientCert: not asked for (as the default option)
    assert not cert_requested(g.port, "anycert.test")
    assert not cert_requested(g.port, "plain.test")
    assert curl(g.port, "anycert.test", ca, "--cert", scrt, "--key", skey).startswith("200")
