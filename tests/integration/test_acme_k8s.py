"""ACME with several replicas: storage "kubernetes://<ns>/<prefix>" (Gantry
only). Two gantry replicas against the Kubernetes API emulator and one
pebble, with haproxy (TCP, round robin, health-checked) in front of their
HTTP entry points as the load balancer pebble validates through, so the
HTTP-01 token must be answered by whichever replica the balancer picks.

Checked: exactly one replica (the holder of the Lease <prefix>-issuer)
orders; the certificate is in a kubernetes.io/tls Secret and both replicas
serve it (verified with pebble's root); the leader killed in the middle of
an order -> the other orders once more and completes it (two orders at
pebble in all); renewal goes through the leader and both replicas serve the
new certificate."""
import base64
import urllib.request
import os
import shutil
import signal
import socket
import time

import pytest

from conftest import GANTRY_BIN, Process, free_port, run, service_yaml, wait_for, wait_port
from k8s_emulator import Emulator
from test_acme import Pebble
from tls_certs import make_cert

pytestmark = pytest.mark.skipif(shutil.which("pebble") is None or shutil.which("haproxy") is None,
                                reason="pebble or haproxy is not installed (scripts/deps.sh test)")

NS, PREFIX = "acme-system", "gantry-acme"
LEASE = PREFIX + "-issuer"


@pytest.fixture
def emu(tmp_path):
    d = str(tmp_path / "apiserver")
    os.makedirs(d)
    cert, key = make_cert(d, "apiserver", ["localhost"], ips=["127.0.0.1"])
    e = Emulator(cert=cert, key=key, bookmark_interval=0.5).start()
    e.ca = d + "/ca.crt"
    yield e
    e.stop()


class Balancer(Process):
    """haproxy in TCP mode: round robin over <ports>, each server in while
    its replica's /readyz (on its admin port) says ready, as a Service's
    endpoints are the Ready pods."""

    def __init__(self, tmp, port, ports, admins):
        cfg = os.path.join(str(tmp), "haproxy.cfg")
        servers = "".join("  server r%d 127.0.0.1:%d check port %d inter 300ms fall 1 rise 1\n" % (i, p, a)
                          for i, (p, a) in enumerate(zip(ports, admins)))
        with open(cfg, "w") as f:
            f.write("defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n"
                    "  timeout check 2s\n"
                    "frontend fe\n  bind 127.0.0.1:%d\n  default_backend be\nbackend be\n  balance roundrobin\n"
                    "  option httpchk GET /readyz\n%s" % (port, servers))
        super().__init__(["haproxy", "-f", cfg, "-db"], "haproxy")
        wait_port(port, timeout=10)


class Replica:
    def __init__(self, procs, tmp, name, emu, pebble, up, hosts=("app.test",), tls_alpn=False, ports=None):
        self.dir = tmp / name
        self.dir.mkdir()
        self.web, self.websecure, self.admin = ports or (free_port(), free_port(), free_port())
        dyn = self.dir / "dynamic.yaml"
        rule = " || ".join("Host(`%s`)" % h for h in hosts)
        dyn.write_text("http:\n  routers:\n"
                       "    app:\n      rule: \"%s\"\n      service: s\n      entryPoints: [websecure]\n"
                       "      tls:\n        certResolver: pebble\n"
                       "  services:\n" % rule + service_yaml("s", [up.url]))
        args = [GANTRY_BIN, "--workers=1", "--log.level=DEBUG",
                "--entryPoints.web.address=127.0.0.1:%d" % self.web,
                "--entryPoints.websecure.address=127.0.0.1:%d" % self.websecure,
                "--admin.address=127.0.0.1:%d" % self.admin,
                "--providers.file.filename=%s" % dyn,
                "--providers.kubernetesIngress=true",
                "--providers.kubernetesIngress.endpoint=" + emu.url,
                "--providers.kubernetesIngress.token=" + emu.token,
                "--providers.kubernetesIngress.certAuthFilePath=" + emu.ca,
                "--providers.kubernetesIngress.leaderElection.leaseDuration=2s",
                "--certificatesResolvers.pebble.acme.caServer=" + pebble.directory,
                "--certificatesResolvers.pebble.acme.email=ops@example.test",
                "--certificatesResolvers.pebble.acme.keyType=EC256",  # fast keys (the default is RSA4096)
                "--certificatesResolvers.pebble.acme.storage=kubernetes://%s/%s" % (NS, PREFIX),
                ("--certificatesResolvers.pebble.acme.tlsChallenge=true" if tls_alpn
                 else "--certificatesResolvers.pebble.acme.httpChallenge.entryPoint=web")]
        self.proc = procs.add(Process(args, "gantry-" + name,
                                      env=dict(os.environ, LEGO_CA_CERTIFICATES=pebble.ca, POD_NAME="gantry-" + name)))
        self.name = "gantry-" + name
        wait_port(self.web, timeout=10)
        wait_port(self.admin, timeout=10)

    def output(self):
        return self.proc.output()

    def serial(self, host="app.test", root=None):
        """The serial of the certificate served for <host>, verified by <root> when given; None when not verified."""
        cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.websecure, "-servername", host]
        if root:
            cmd += ["-CAfile", root, "-verify_return_error"]
        r = run(cmd, input=b"", check=False)
        if root and b"Verify return code: 0 (ok)" not in r.stdout:
            return None
        return run(["openssl", "x509", "-noout", "-serial"], input=r.stdout, check=False).stdout.strip() or None


def cluster(tmp_path, procs, emu, up, pebble_env=None, validity=None, tls_alpn=False):
    """pebble validating through the balancers (HTTP and TLS), and two replicas behind them."""
    # the ports are held while pebble picks its own, so that none is handed out twice
    held = [socket.socket() for _ in range(8)]
    for h in held:
        h.bind(("127.0.0.1", 0))
    lb, lb_tls, a_web, a_tls, a_admin, b_web, b_tls, b_admin = [h.getsockname()[1] for h in held]
    try:
        pebble = procs.add(Pebble(tmp_path / "pebble", lb, lb_tls, env=pebble_env, validity=validity))
    finally:
        for h in held:
            h.close()
    # the balancers first: the issuer may order as soon as it starts
    pa, pb = (a_web, a_tls, a_admin), (b_web, b_tls, b_admin)
    os.makedirs(str(tmp_path / "lb-tls"), exist_ok=True)
    pebble.lb_port = lb
    pebble.balancer = procs.add(Balancer(tmp_path, lb, [pa[0], pb[0]], [a_admin, b_admin]))
    procs.add(Balancer(tmp_path / "lb-tls", lb_tls, [pa[1], pb[1]], [a_admin, b_admin]))
    a = Replica(procs, tmp_path, "a", emu, pebble, up, tls_alpn=tls_alpn, ports=pa)
    b = Replica(procs, tmp_path, "b", emu, pebble, up, tls_alpn=tls_alpn, ports=pb)
    return pebble, a, b


def holder(emu):
    lease = emu.get("Lease", NS, LEASE)
    h = lease and lease["spec"].get("holderIdentity")
    return h or None


def leader_of(emu, *replicas):
    h = wait_for(lambda: holder(emu), timeout=15, what="an issuer lease holder")
    return next(r for r in replicas if h.startswith(r.name + "_"))


def orders(pebble):
    return pebble.proc.output().count("POST /order-plz")


def cert_secret(emu, host="app.test"):
    return emu.get("Secret", NS, "%s-pebble-%s" % (PREFIX, host))


def test_one_issuer_both_replicas_serve(tmp_path, procs, emu):
    up = procs.whoami()
    pebble, a, b = cluster(tmp_path, procs, emu, up)
    t0 = time.time()
    leader = leader_of(emu, a, b)
    other = b if leader is a else a
    wait_for(lambda: cert_secret(emu) is not None, timeout=60,
             what="certificate Secret:\n" + leader.output()[-3000:])
    root = pebble.root()
    sa = wait_for(lambda: a.serial(root=root), interval=0.3, timeout=10, what="replica a serves the certificate")
    sb = wait_for(lambda: b.serial(root=root), interval=0.3, timeout=10, what="replica b serves the certificate")
    print("both replicas serve the issued certificate %.2f s after they started" % (time.time() - t0))
    assert sa == sb
    sec = cert_secret(emu)
    assert sec["type"] == "kubernetes.io/tls"
    assert sec["metadata"]["labels"]["gantry.io/acme-kind"] == "certificate"
    assert sec["metadata"]["annotations"]["gantry.io/acme-domains"] == "app.test"
    pem = base64.b64decode(sec["data"]["tls.crt"])
    assert run(["openssl", "x509", "-noout", "-serial"], input=pem).stdout.strip() == sa
    acct = emu.get("Secret", NS, PREFIX + "-pebble-account")
    assert acct and acct["metadata"]["annotations"]["gantry.io/acme-account-uri"].startswith(pebble.directory[:-4])
    # ready (in the balancer) only once the ACME storage is read: the Secrets' certificates and challenges
    for r in (a, b):
        metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % r.admin, timeout=10).read().decode()
        assert 'gantry_provider_synced{provider="acme-kubernetes"} 1' in metrics, metrics[-2000:]
    # exactly one replica ordered, once; the other only read the Secrets
    assert orders(pebble) == 1, pebble.proc.output()[-3000:]
    assert "ordering a certificate for app.test" in leader.output()
    assert "ordering a certificate" not in other.output()
    # the challenge Secret is gone once the order is done
    wait_for(lambda: not [k for (ns, n) in emu.objects["secrets"] if "-chall-" in n], timeout=10, what="challenge removed")


def test_leader_killed_mid_order_the_other_completes(tmp_path, procs, emu):
    """pebble waits up to 15 s before validating (PEBBLE_VA_NOSLEEP off):
    the leader is killed while its order waits; the other takes the Lease
    over after its duration (2 s), finds the order again from its Secret
    and completes it: one order at pebble in all."""
    up = procs.whoami()
    pebble, a, b = cluster(tmp_path, procs, emu, up, pebble_env={"PEBBLE_VA_NOSLEEP": "0"})
    leader = leader_of(emu, a, b)
    other = b if leader is a else a
    wait_for(lambda: "ordering a certificate for app.test" in leader.output(), timeout=30, what="an order started")
    wait_for(lambda: orders(pebble) == 1, timeout=10, what="the order at pebble")
    # the order's URL is stored (for a successor to take it up) before the challenge is answered
    wait_for(lambda: emu.get("Secret", NS, PREFIX + "-pebble-order-app.test"), timeout=10, what="order Secret")
    leader.proc.stop(sig=signal.SIGKILL)
    killed = time.time()
    assert cert_secret(emu) is None, "the order was already complete: no order in flight to take over"
    wait_for(lambda: holder(emu) and holder(emu).startswith(other.name + "_"), timeout=15, what="takeover")
    wait_for(lambda: cert_secret(emu) is not None, timeout=60, what="certificate Secret:\n" + other.output()[-3000:])
    root = pebble.root()
    wait_for(lambda: other.serial(root=root), timeout=10, what="the survivor serves the certificate")
    print("leader killed mid-order: certificate served by the survivor %.2f s later (lease 2 s, pebble's validation "
          "delay 0-15 s)" % (time.time() - killed))
    # the survivor took the order up: no second order
    assert "resuming the order" in other.output()
    # one order in all; a second only when the CA no longer let it be taken up (the one retry allowed)
    n = orders(pebble)
    assert n == 1 or (n == 2 and "could not be resumed" in other.output()), other.output()[-3000:]
    print("orders at pebble: %d" % n)
    wait_for(lambda: emu.get("Secret", NS, PREFIX + "-pebble-order-app.test") is None, timeout=10, what="order Secret gone")
    # the survivor signs with the account its predecessor stored: no second registration
    assert "reusing the stored account" in other.output()
    assert pebble.proc.output().count("POST /sign-me-up") == 1


def test_restarted_replicas_serve_the_stored_certificate_and_order_nothing(tmp_path, procs, emu):
    up = procs.whoami()
    pebble, a, b = cluster(tmp_path, procs, emu, up)
    wait_for(lambda: cert_secret(emu) is not None, timeout=60, what="certificate Secret")
    root = pebble.root()
    first = wait_for(lambda: a.serial(root=root), interval=0.3, timeout=10, what="served by a")
    a.proc.stop()
    b.proc.stop()
    # a stale write must not clobber: a replace with an old resourceVersion is refused by the API server
    sec = cert_secret(emu)
    stale = dict(sec, metadata=dict(sec["metadata"], resourceVersion="1"))
    r = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", emu.ca, "-X", "PUT",
             "-H", "Authorization: Bearer " + emu.token, "-H", "Content-Type: application/json",
             "--data-binary", __import__("json").dumps(stale),
             "%s/api/v1/namespaces/%s/secrets/%s" % (emu.url, NS, sec["metadata"]["name"])])
    assert r.stdout == b"409"
    c = Replica(procs, tmp_path, "c", emu, pebble, up)
    d = Replica(procs, tmp_path, "d", emu, pebble, up)
    assert wait_for(lambda: c.serial(root=root), interval=0.3, timeout=10, what="served by c") == first
    assert wait_for(lambda: d.serial(root=root), interval=0.3, timeout=10, what="served by d") == first
    leader_of(emu, c, d)
    __import__("time").sleep(1)
    assert orders(pebble) == 1
    assert "ordering" not in c.output() + d.output()


def test_renewal_through_the_leader_reaches_both(tmp_path, procs, emu):
    """30-second certificates: the leader renews a third of the lifetime
    before the end and both replicas serve the new one."""
    up = procs.whoami()
    pebble, a, b = cluster(tmp_path, procs, emu, up, validity=30)
    leader = leader_of(emu, a, b)
    other = b if leader is a else a
    wait_for(lambda: cert_secret(emu) is not None, timeout=60, what="certificate Secret")
    root = pebble.root()
    first = wait_for(lambda: a.serial(root=root), timeout=10, what="served by a")
    wait_for(lambda: b.serial(root=root) == first, timeout=10, what="served by b")
    # from now on the balancer sends the CA to the replica that does not issue:
    # the renewal's token is answered from the challenge Secret only
    pebble.balancer.stop()
    os.makedirs(str(tmp_path / "lb-other"))
    procs.add(Balancer(tmp_path / "lb-other", pebble.lb_port, [other.web], [other.admin]))
    wait_for(lambda: "renewing the certificate for app.test" in leader.output(), timeout=40, what="renewal")
    wait_for(lambda: a.serial(root=root) not in (None, first), timeout=20, what="a serves the renewed certificate")
    wait_for(lambda: b.serial(root=root) not in (None, first), timeout=10, what="b serves the renewed certificate")
    assert a.serial(root=root) == b.serial(root=root)
    assert "renewing" not in other.output() and "ordering" not in other.output()
    assert "failure" not in leader.output()  # the non-issuer answered the renewal's challenge the first time


def test_tls_alpn01_through_the_balancer(tmp_path, procs, emu):
    """tlsChallenge: the challenge certificate is made by every replica from
    the challenge Secret, so the CA's acme-tls/1 handshake succeeds on
    whichever replica the balancer picks."""
    up = procs.whoami()
    pebble, a, b = cluster(tmp_path, procs, emu, up, tls_alpn=True)
    leader = leader_of(emu, a, b)
    wait_for(lambda: cert_secret(emu) is not None, timeout=60, what="certificate Secret")
    root = pebble.root()
    assert wait_for(lambda: a.serial(root=root), interval=0.3, timeout=10, what="a serves") == \
        wait_for(lambda: b.serial(root=root), interval=0.3, timeout=10, what="b serves")
    assert orders(pebble) == 1 and "ordering a certificate for app.test" in leader.output()
