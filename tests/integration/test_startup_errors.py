"""Start-up errors: a message that says what is wrong once, naming the entry
point or key (a message formatted into itself came out garbled: "entry
point web: entry point web: ddress"); a UDP entry point starts beside the
others (test_udp.py routes it) and a bad UDP address is named as well."""
import subprocess

from conftest import GANTRY_BIN, SLOW, free_port, get, service_yaml


def gantry(*args, timeout=10):
    return subprocess.run([GANTRY_BIN, "--admin.address=", *args], capture_output=True, timeout=timeout * SLOW, text=True)


def test_invalid_address_names_entry_point_once():
    r = gantry("--entryPoints.web.address=:99999")
    assert r.returncode == 1, r.stderr
    assert "entry point web: invalid port in address ':99999'" in r.stderr, r.stderr
    assert "entry point web: entry point web" not in r.stderr, r.stderr
    r = gantry("--entryPoints.web.address=[::1:8080")
    assert r.returncode == 1, r.stderr
    assert "entry point web: invalid address '[::1:8080' (expected [v6]:port)" in r.stderr, r.stderr


def test_invalid_docker_default_rule_said_once():
    r = gantry("--entryPoints.web.address=127.0.0.1:%d" % free_port(), "--providers.docker.endpoint=unix:///nonexistent.sock",
               "--providers.docker.defaultRule=Host(`{{ .Bogus }}`)")
    assert r.returncode == 1, r.stderr
    assert "providers.docker.defaultRule: unsupported template action" in r.stderr, r.stderr
    assert "defaultRule: providers.docker.defaultRule" not in r.stderr, r.stderr


def test_udp_entry_point_starts_beside_the_others(tmp_path, procs):
    up = procs.whoami()
    udp_port = free_port()
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`udp.test`)\", service: s}\n"
                               "  services:\n" + service_yaml("s", [up.url]),
                     args=["--entryPoints.dns.address=127.0.0.1:%d/udp" % udp_port])
    g.wait_log(r"entry point dns listening on 127\.0\.0\.1:%d/udp \(port %d, udp\.timeout 3000 ms\)" % (udp_port, udp_port))
    status, _, body = get(g.port, host="udp.test")
    assert status == 200 and b"whoami" in body
    names = [ep.get("name") for ep in g.api("/api/entrypoints")]
    assert names == ["web", "dns"], names  # UDP entry points are listed as Traefik does (address with /udp)


def test_bad_udp_address_names_entry_point():
    r = gantry("--entryPoints.dns.address=:99999/udp")
    assert r.returncode == 1, r.stderr
    assert "entry point dns: invalid port in address ':99999'" in r.stderr, r.stderr
    r = gantry("--entryPoints.dns.address=:53/udp", "--entryPoints.dns.udp.timeout=soon")
    assert r.returncode == 2, r.stderr
    assert "entryPoints.dns.udp.timeout" in r.stderr, r.stderr


def test_junk_port_refused_everywhere(tmp_path, procs):
    """One host:port parser (common/hostport.c): ':80abc' is refused the same
    way as an entry point, the admin address, a server url and a TCP
    server address, each message naming the address and what is wrong."""
    r = gantry("--entryPoints.web.address=:80abc")
    assert r.returncode == 1, r.stderr
    assert "entry point web: invalid port in address ':80abc' (port '80abc' is not a number)" in r.stderr, r.stderr
    r = gantry("--entryPoints.web.address=::1:8080")
    assert r.returncode == 1, r.stderr
    assert "entry point web: invalid address '::1:8080' (an IPv6 address needs brackets: [v6]:port)" in r.stderr, r.stderr
    r = subprocess.run([GANTRY_BIN, "--entryPoints.web.address=127.0.0.1:%d" % free_port(), "--admin.address=127.0.0.1:80abc"],
                       capture_output=True, timeout=10 * SLOW, text=True)
    assert r.returncode == 1, r.stderr
    assert "admin.address: invalid port in address '127.0.0.1:80abc' (port '80abc' is not a number)" in r.stderr, r.stderr

    up = procs.whoami()
    g = procs.gantry(tmp_path, "http:\n  routers:\n    r: {rule: \"Host(`ok.test`)\", service: s}\n"
                               "  services:\n" + service_yaml("s", [up.url]))
    assert get(g.port, host="ok.test")[0] == 200
    g.write("http:\n  routers:\n    r: {rule: \"Host(`ok.test`)\", service: s}\n"
            "  services:\n" + service_yaml("s", [up.url]) + service_yaml("b", ["http://127.0.0.1:80abc"]))
    g.wait_log(r"service 'b': invalid server url 'http://127\.0\.0\.1:80abc': port '80abc' is not a number")
    g.write("http:\n  routers:\n    r: {rule: \"Host(`ok.test`)\", service: s}\n"
            "  services:\n" + service_yaml("s", [up.url]) +
            "tcp:\n  services:\n    t:\n      loadBalancer:\n        servers: [{address: \"127.0.0.1:80abc\"}]\n")
    g.wait_log(r"invalid port in address '127\.0\.0\.1:80abc' \(port '80abc' is not a number\)")
    assert get(g.port, host="ok.test")[0] == 200
