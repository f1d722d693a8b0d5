"""Certificate files reloaded when they change (controller/cert_watch.c):
rewritten in place, replaced by an atomic rename, swapped Kubernetes-style
(a "..data" symlink to a timestamped directory), and broken then fixed
(the last good certificate keeps serving, with the error in the log and
the API). New handshakes get the new certificate (its serial, read with
openssl s_client); a keep-alive connection opened before the swap keeps
being served (no 421) on the certificate it was made with. The store's
default certificate, clientAuth.caFiles and serversTransports rootCAs are
reloaded too."""
import http.client
import os
import shutil
import socket
import ssl
import subprocess

from conftest import service_yaml, wait_for
from tls_certs import make_cert, make_client_cert


def serial(port, sni):
    """The serial of the certificate a new handshake with <sni> gets ("" when none)."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port]
    cmd += ["-servername", sni] if sni else ["-noservername"]
    hs = subprocess.run(cmd, input=b"", capture_output=True, timeout=20)
    x = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=hs.stdout, capture_output=True, timeout=20)
    return x.stdout.decode().strip().removeprefix("serial=")


def file_serial(crt):
    return subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", crt], capture_output=True,
                          check=True).stdout.decode().strip().removeprefix("serial=")


def version(d, name, tag):
    """A fresh certificate for <name> in its own directory (its own serial)."""
    sub = os.path.join(d, tag)
    os.makedirs(sub, exist_ok=True)
    return make_cert(sub, name)


def copy_into(src_crt, src_key, crt, key):
    """Rewrites the files in place (same inode), as `cp` does."""
    for s, t in ((src_crt, crt), (src_key, key)):
        with open(s, "rb") as f:
            data = f.read()
        with open(t, "wb") as f:
            f.write(data)


def rename_into(src_crt, src_key, crt, key):
    for s, t in ((src_crt, crt), (src_key, key)):
        shutil.copyfile(s, t + ".tmp")
        os.rename(t + ".tmp", t)


def dynamic(up, crt, key, extra=""):
    return ("http:\n  routers:\n"
            "    app: {rule: \"Host(`app.test`)\", service: s, tls: {}}\n"
            "  services:\n" + service_yaml("s", [up.url]) +
            "tls:\n  certificates:\n    - {certFile: %s, keyFile: %s}\n" % (crt, key) + extra)


class KeepAlive:
    """One HTTPS connection kept open across requests."""

    def __init__(self, port, host):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock = ctx.wrap_socket(raw, server_hostname=host)
        self.host = host

    def get(self):
        self.sock.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % self.host.encode())
        r = http.client.HTTPResponse(self.sock)
        r.begin()
        r.read()
        assert not r.will_close, "the server closed the keep-alive connection"
        return r.status

    def peer_serial(self):
        der = self.sock.getpeercert(binary_form=True)
        x = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], input=der, capture_output=True)
        return x.stdout.decode().strip().removeprefix("serial=")

    def close(self):
        self.sock.close()


def check_swap(g, port, old, new_serial, replace):
    ka = KeepAlive(port, "app.test")
    assert ka.get() == 200 and ka.peer_serial() == old
    replace()
    wait_for(lambda: serial(port, "app.test") == new_serial, timeout=10, what="new certificate served")
    # the connection made before the swap: same socket, old certificate, still served
    assert ka.get() == 200
    assert ka.peer_serial() == old
    ka.close()


def test_replace_in_place(tmp_path, procs):
    up = procs.whoami()
    d = str(tmp_path)
    live = os.path.join(d, "live")
    os.makedirs(live)
    crt, key = os.path.join(live, "tls.crt"), os.path.join(live, "tls.key")
    c1, k1 = version(d, "app.test", "v1")
    c2, k2 = version(d, "app.test", "v2")
    copy_into(c1, k1, crt, key)
    g = procs.gantry(tmp_path, dynamic(up, crt, key))
    wait_for(lambda: serial(g.port, "app.test") == file_serial(c1), what="first certificate")
    check_swap(g, g.port, file_serial(c1), file_serial(c2), lambda: copy_into(c2, k2, crt, key))
    g.wait_log(r"certificates: .*tls\.(crt|key) changed")


def test_atomic_rename(tmp_path, procs):
    up = procs.whoami()
    d = str(tmp_path)
    live = os.path.join(d, "live")
    os.makedirs(live)
    crt, key = os.path.join(live, "tls.crt"), os.path.join(live, "tls.key")
    c1, k1 = version(d, "app.test", "v1")
    c2, k2 = version(d, "app.test", "v2")
    c3, k3 = version(d, "app.test", "v3")
    rename_into(c1, k1, crt, key)
    g = procs.gantry(tmp_path, dynamic(up, crt, key))
    wait_for(lambda: serial(g.port, "app.test") == file_serial(c1), what="first certificate")
    check_swap(g, g.port, file_serial(c1), file_serial(c2), lambda: rename_into(c2, k2, crt, key))
    # and once more: the watch survives a replacement
    rename_into(c3, k3, crt, key)
    wait_for(lambda: serial(g.port, "app.test") == file_serial(c3), timeout=10, what="third certificate")


def k8s_secret_dir(live, crt, key, stamp):
    """What the kubelet does for a Secret volume: files in a timestamped
    directory, "..data" pointing at it, and tls.crt -> ..data/tls.crt; an
    update writes a new directory and renames a new "..data" over the old."""
    ts = os.path.join(live, "..2026_12_03_%s" % stamp)
    os.makedirs(ts)
    shutil.copyfile(crt, os.path.join(ts, "tls.crt"))
    shutil.copyfile(key, os.path.join(ts, "tls.key"))
    data = os.path.join(live, "..data")
    old = os.path.realpath(data) if os.path.islink(data) else None
    os.symlink(os.path.basename(ts), os.path.join(live, "..data_tmp"))
    os.rename(os.path.join(live, "..data_tmp"), data)
    for f in ("tls.crt", "tls.key"):
        if not os.path.islink(os.path.join(live, f)):
            os.symlink(os.path.join("..data", f), os.path.join(live, f))
    if old:
        shutil.rmtree(old)


def test_kubernetes_data_symlink_swap(tmp_path, procs):
    up = procs.whoami()
    d = str(tmp_path)
    live = os.path.join(d, "secret")
    os.makedirs(live)
    c1, k1 = version(d, "app.test", "v1")
    c2, k2 = version(d, "app.test", "v2")
    c3, k3 = version(d, "app.test", "v3")
    k8s_secret_dir(live, c1, k1, "a")
    crt, key = os.path.join(live, "tls.crt"), os.path.join(live, "tls.key")
    g = procs.gantry(tmp_path, dynamic(up, crt, key))
    wait_for(lambda: serial(g.port, "app.test") == file_serial(c1), what="first certificate")
    check_swap(g, g.port, file_serial(c1), file_serial(c2), lambda: k8s_secret_dir(live, c2, k2, "b"))
    k8s_secret_dir(live, c3, k3, "c")
    wait_for(lambda: serial(g.port, "app.test") == file_serial(c3), timeout=10, what="third certificate")


def problems(g):
    return " ".join(g.api("/api/overview")["problems"])


def test_broken_file_keeps_last_good_then_fixed(tmp_path, procs):
    up = procs.whoami()
    d = str(tmp_path)
    live = os.path.join(d, "live")
    os.makedirs(live)
    crt, key = os.path.join(live, "tls.crt"), os.path.join(live, "tls.key")
    c1, k1 = version(d, "app.test", "v1")
    c2, k2 = version(d, "app.test", "v2")
    c3, k3 = version(d, "app.test", "v3")
    rename_into(c1, k1, crt, key)
    g = procs.gantry(tmp_path, dynamic(up, crt, key))
    s1 = file_serial(c1)
    wait_for(lambda: serial(g.port, "app.test") == s1, what="first certificate")
    # bad PEM
    with open(crt + ".tmp", "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    os.rename(crt + ".tmp", crt)
    wait_for(lambda: "not a PEM certificate" in problems(g), timeout=10, what="the error in the API")
    assert "last good certificate keeps serving" in problems(g)
    g.wait_log(r"tls certificate: .*not a PEM certificate")
    assert serial(g.port, "app.test") == s1
    # a certificate with another certificate's key
    rename_into(c2, k3, crt, key)
    wait_for(lambda: "does not match" in problems(g), timeout=10, what="key mismatch in the API")
    assert serial(g.port, "app.test") == s1
    # fixed
    rename_into(c2, k2, crt, key)
    wait_for(lambda: serial(g.port, "app.test") == file_serial(c2), timeout=10, what="fixed certificate served")
    wait_for(lambda: "tls certificate" not in problems(g), timeout=10, what="the error gone")
    # a file that disappears is an error too; the last good one serves
    os.unlink(key)
    wait_for(lambda: "tls certificate" in problems(g), timeout=10, what="missing key reported")
    assert serial(g.port, "app.test") == file_serial(c2)


def test_default_certificate_and_client_ca_reload(tmp_path, procs):
    """tls.stores.default.defaultCertificate and clientAuth.caFiles are watched too."""
    up = procs.whoami()
    d = str(tmp_path)
    live = os.path.join(d, "live")
    os.makedirs(live)
    dcrt, dkey = os.path.join(live, "default.crt"), os.path.join(live, "default.key")
    c1, k1 = version(d, "fallback.test", "v1")
    c2, k2 = version(d, "fallback.test", "v2")
    rename_into(c1, k1, dcrt, dkey)
    app_crt, app_key = make_cert(d, "app.test")
    # two client CAs: the option trusts whichever ca file is in live/clients.pem
    ca_a = os.path.join(d, "ca_a")
    ca_b = os.path.join(d, "ca_b")
    os.makedirs(ca_a)
    os.makedirs(ca_b)
    cli_a = make_client_cert(ca_a, "client")
    cli_b = make_client_cert(ca_b, "client")
    cas = os.path.join(live, "clients.pem")
    shutil.copyfile(os.path.join(ca_a, "ca.crt"), cas)
    extra = ("  stores:\n    default:\n      defaultCertificate: {certFile: %s, keyFile: %s}\n"
             "  options:\n    default:\n      clientAuth: {caFiles: [\"%s\"], clientAuthType: RequireAndVerifyClientCert}\n"
             % (dcrt, dkey, cas))
    g = procs.gantry(tmp_path, dynamic(up, app_crt, app_key, extra))
    wait_for(lambda: serial(g.port, None) == file_serial(c1), what="default certificate")

    def curl(cert):
        r = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--cert", cert[0], "--key", cert[1],
                            "--resolve", "app.test:%d:127.0.0.1" % g.port, "https://app.test:%d/" % g.port],
                           capture_output=True, timeout=20)
        return r.stdout.decode()

    wait_for(lambda: curl(cli_a) == "200", what="client of CA a accepted")
    assert curl(cli_b) != "200"
    rename_into(c2, k2, dcrt, dkey)
    wait_for(lambda: serial(g.port, None) == file_serial(c2), timeout=10, what="new default certificate")
    shutil.copyfile(os.path.join(ca_b, "ca.crt"), cas + ".tmp")
    os.rename(cas + ".tmp", cas)
    wait_for(lambda: curl(cli_b) == "200", timeout=10, what="client of CA b accepted after the CA file changed")
    assert curl(cli_a) != "200"


def test_servers_transport_root_ca_reload(tmp_path, procs):
    """serversTransports rootCAs are watched too: the upstream's CA appears
    in the file, and the upstream is reached without a configuration change."""
    from conftest import get
    from test_servers_transport import TLSUpstream
    d = str(tmp_path)
    os.makedirs(os.path.join(d, "upstream_ca"))
    up = TLSUpstream(os.path.join(d, "upstream_ca"))
    other = os.path.join(d, "other_ca")
    os.makedirs(other)
    make_cert(other, "unused.test")
    live = os.path.join(d, "live")
    os.makedirs(live)
    roots = os.path.join(live, "roots.pem")
    shutil.copyfile(os.path.join(other, "ca.crt"), roots)
    try:
        dyn = ("http:\n  routers:\n"
               "    r: {rule: \"Host(`up.test`)\", service: s}\n"
               "  serversTransports:\n"
               "    t: {rootCAs: [\"%s\"], serverName: backend.internal}\n"
               "  services:\n"
               "    s: {loadBalancer: {servers: [{url: \"%s\"}], serversTransport: t}}\n" % (roots, up.url))
        g = procs.gantry(tmp_path, dyn)
        wait_for(lambda: get(g.port, "/", "up.test")[0] == 502, what="route live, upstream not trusted")
        shutil.copyfile(os.path.join(d, "upstream_ca", "ca.crt"), roots + ".tmp")
        os.rename(roots + ".tmp", roots)
        wait_for(lambda: get(g.port, "/", "up.test")[0] == 200, timeout=10, what="upstream trusted after the CA file changed")
    finally:
        up.stop()
