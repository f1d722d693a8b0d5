"""Server host names are resolved off the watcher thread (c-ares) and
re-resolved on their TTL: a changed record moves traffic without a
configuration change, a slow resolver delays no other change, and a name
that does not resolve makes its server unavailable (503) with the reason in
the log and the API. The resolver is a private one on loopback
(dns_peer.py), named by GANTRY_DNS_SERVERS."""
import socket
import threading
import time

from conftest import PYTHON, WHOAMI, Process, free_port, get, service_yaml, wait_for, wait_port, whoami_json
from dns_peer import DnsServer


def whoami_on(procs, host, port, name):
    p = procs.add(Process([PYTHON, WHOAMI, "--host", host, "--port", str(port), "--name", name], "whoami-" + name))
    wait_port(port, host=host)
    return p


def routes(services_by_host):
    y = "http:\n  routers:\n"
    for host, svc in services_by_host.items():
        y += "    r-%s:\n      rule: \"Host(`%s`)\"\n      service: %s\n" % (host.replace(".", "-"), host, svc)
    return y


def test_changed_record_followed_without_configuration_change(tmp_path, procs):
    dns = DnsServer(ttl=1)
    try:
        port = free_port()
        whoami_on(procs, "127.0.0.1", port, "old")
        whoami_on(procs, "127.0.0.2", port, "new")
        dns.set("app.dns.test", "127.0.0.1")
        conf = routes({"app.test": "app"}) + "  services:\n" + service_yaml("app", ["http://app.dns.test:%d" % port])
        g = procs.gantry(tmp_path, conf, env_extra={"GANTRY_DNS_SERVERS": dns.address})
        wait_for(lambda: get(g.port, "/", "app.test")[0] == 200, timeout=5, what="name resolved")
        assert whoami_json(g.port, "/", "app.test")["name"] == "old"
        applied = g.output().count("configuration applied")
        # the record changes; keep-alive connections to the old address end
        dns.set("app.dns.test", "127.0.0.2")
        t0 = time.time()
        wait_for(lambda: whoami_json(g.port, "/", "app.test")["name"] == "new", timeout=5, interval=0.05,
                 what="traffic on the new address")
        took = time.time() - t0
        assert took < 3.5, took  # TTL 1 s (+ the resolver's own round trip)
        for _ in range(20):
            assert whoami_json(g.port, "/", "app.test")["name"] == "new"
        g.wait_log(r"server http://app\.dns\.test:\d+: app\.dns\.test resolves to 127\.0\.0\.2 now")
        assert g.output().count("configuration applied") == applied  # no configuration change
        # asked again and again on the TTL, not once for the server's life
        asked = dns.asked("app.dns.test")
        wait_for(lambda: dns.asked("app.dns.test") >= asked + 2, timeout=5, what="re-resolution")
        # the record disappears: the last address keeps serving, the error is shown
        del dns.records["app.dns.test"]
        g.wait_log(r"cannot resolve 'app\.dns\.test'.*keeping its last address", timeout=5)
        assert whoami_json(g.port, "/", "app.test")["name"] == "new"
        svc = g.api("/api/http/services/app@file")
        assert "cannot resolve" in svc["loadBalancer"]["servers"][0]["dnsError"]
    finally:
        dns.stop()


def test_unresolvable_name_is_unavailable_with_reason(tmp_path, procs):
    dns = DnsServer(ttl=1)
    try:
        a = procs.whoami(name="a")
        conf = (routes({"gone.test": "gone", "ok.test": "ok"}) + "  services:\n"
                + service_yaml("gone", ["http://nowhere.dns.test:%d" % a.port]) + service_yaml("ok", [a.url]))
        g = procs.gantry(tmp_path, conf, env_extra={"GANTRY_DNS_SERVERS": dns.address})
        wait_for(lambda: get(g.port, "/", "ok.test")[0] == 200, what="literal IP server")
        g.wait_log(r"server http://nowhere\.dns\.test:\d+: cannot resolve 'nowhere\.dns\.test': .*unavailable \(retrying\)")
        assert get(g.port, "/", "gone.test")[0] == 503
        svc = g.api("/api/http/services/gone@file")
        assert svc["serverStatus"]["http://nowhere.dns.test:%d" % a.port] == "UNRESOLVED"
        assert "cannot resolve 'nowhere.dns.test'" in svc["loadBalancer"]["servers"][0]["dnsError"]
        # retried with backoff (1 s, 2 s, ...): the name appears and is used
        asked = dns.asked("nowhere.dns.test")
        wait_for(lambda: dns.asked("nowhere.dns.test") > asked, timeout=5, what="retry")
        dns.set("nowhere.dns.test", "127.0.0.1")
        wait_for(lambda: get(g.port, "/", "gone.test")[0] == 200, timeout=8, interval=0.1, what="name resolved later")
        svc = g.api("/api/http/services/gone@file")
        assert svc["serverStatus"]["http://nowhere.dns.test:%d" % a.port] == "UP"
        assert "dnsError" not in svc["loadBalancer"]["servers"][0]
    finally:
        dns.stop()


def test_slow_resolver_does_not_delay_other_changes(tmp_path, procs):
    dns = DnsServer(ttl=1)
    try:
        a, b = procs.whoami(name="a"), procs.whoami(name="b")
        dns.set("slow.dns.test", "127.0.0.1")
        dns.delay["slow.dns.test"] = 3.0
        base = routes({"a.test": "a"}) + "  services:\n" + service_yaml("a", [a.url])
        g = procs.gantry(tmp_path, base, env_extra={"GANTRY_DNS_SERVERS": dns.address})
        assert whoami_json(g.port, "/", "a.test")["name"] == "a"
        # a server whose name takes 3 s to resolve ...
        conf = (routes({"a.test": "a", "slow.test": "slow"}) + "  services:\n" + service_yaml("a", [a.url])
                + service_yaml("slow", ["http://slow.dns.test:%d" % b.port]))
        g.write(conf)
        wait_for(lambda: dns.asked("slow.dns.test") > 0, what="slow question asked")
        assert get(g.port, "/", "slow.test")[0] == 503  # known, not resolved yet
        # ... while another change (an IP literal) goes live in the usual time
        t0 = time.time()
        g.write(conf.replace("  services:\n", "    r-b:\n      rule: \"Host(`b.test`)\"\n      service: b\n  services:\n")
                + service_yaml("b", [b.url]))
        wait_for(lambda: get(g.port, "/", "b.test")[0] == 200, timeout=2, interval=0.002, what="literal change live")
        took = time.time() - t0
        assert took < 0.5, took
        assert get(g.port, "/", "slow.test")[0] == 503  # still waiting for its resolver
        # and the slow name is served once its answer comes
        wait_for(lambda: get(g.port, "/", "slow.test")[0] == 200, timeout=8, interval=0.05, what="slow name resolved")
        assert whoami_json(g.port, "/", "slow.test")["name"] == "b"
    finally:
        dns.stop()


def banner_server(ip, port, banner):
    """Accepts connections on ip:port, sends <banner> and closes."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen(16)

    def serve():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            c.sendall(banner)
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    return s


def read_banner(port):
    with socket.create_connection(("127.0.0.1", port), timeout=3) as c:
        try:
            return c.recv(100)
        except OSError:
            return b""


def test_tcp_server_name_followed(tmp_path, procs):
    dns = DnsServer(ttl=1)
    port = free_port()
    one, two = banner_server("127.0.0.1", port, b"one\n"), banner_server("127.0.0.2", port, b"two\n")
    try:
        dns.set("tcp.dns.test", "127.0.0.1")
        conf = ("tcp:\n  routers:\n    plain: {rule: \"HostSNI(`*`)\", service: banner, entryPoints: [tcpep]}\n"
                "  services:\n    banner: {loadBalancer: {servers: [{address: \"tcp.dns.test:%d\"}]}}\n" % port)
        g = procs.gantry(tmp_path, conf, entrypoints=("web", "tcpep"), env_extra={"GANTRY_DNS_SERVERS": dns.address})
        tcp_port = g.ports["tcpep"]
        wait_for(lambda: read_banner(tcp_port) == b"one\n", timeout=5, what="TCP server resolved")
        dns.set("tcp.dns.test", "127.0.0.2")
        wait_for(lambda: read_banner(tcp_port) == b"two\n", timeout=5, interval=0.05, what="TCP server's new address")
        assert g.output().count("configuration applied") == 1
    finally:
        one.close()
        two.close()
        dns.stop()


def test_first_readiness_waits_for_server_names(tmp_path, procs):
    dns = DnsServer(ttl=1)
    try:
        a = procs.whoami(name="a")
        dns.set("slow.dns.test", "127.0.0.1")
        dns.set("later.dns.test", "127.0.0.1")
        dns.delay["slow.dns.test"] = dns.delay["later.dns.test"] = 2.0
        conf = routes({"slow.test": "slow"}) + "  services:\n" + service_yaml("slow", ["http://slow.dns.test:%d" % a.port])
        g = procs.gantry(tmp_path, conf, env_extra={"GANTRY_DNS_SERVERS": dns.address})
        status, body = g.admin("/readyz")
        assert status == 503 and b"1 server host name not resolved yet" in body, (status, body)
        wait_for(lambda: g.admin("/readyz")[0] == 200, timeout=8, interval=0.05, what="ready once resolved")
        assert get(g.port, "/", "slow.test")[0] == 200
        # later, a change with a slow name does not take the replica out
        g.write(conf.replace("  services:\n", "    r-later:\n      rule: \"Host(`later.test`)\"\n      service: later\n"
                             "  services:\n") + service_yaml("later", ["http://later.dns.test:%d" % a.port]))
        wait_for(lambda: get(g.port, "/", "later.test")[0] == 503, what="later router live, its name pending")
        assert g.admin("/readyz")[0] == 200
        wait_for(lambda: get(g.port, "/", "later.test")[0] == 200, timeout=8, interval=0.05, what="later name resolved")
    finally:
        dns.stop()
