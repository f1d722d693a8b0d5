"""ACME DNS-01 (certificatesResolvers.<name>.acme.dnsChallenge) against
Debian's real pebble, whose DNS is pebble-challtestsrv: the exec provider
(a shell script calling challtestsrv's /set-txt and /clear-txt) and the
httpreq provider (a python HTTP server forwarding to it) publish the TXT
record; gantry looks it up at challtestsrv's DNS (dnsChallenge.resolvers)
before pebble validates. A normal name and a wildcard are issued and
served by SNI; a record that never appears fails cleanly, naming the
domain; an unknown provider is refused at start. A CNAME on
_acme-challenge is followed (the record is written at its end); the
zone's authoritative servers are asked (dns_zone.Zone serves the SOA and
NS records challtestsrv lacks, on port 53 of a loopback address: root);
resolvers may be IPv6."""
import base64
import hashlib
import http.server
import json
import os
import random
import re
import shutil
import stat
import threading
import time
import urllib.request

import pytest

from conftest import GANTRY_BIN, Process, free_port, run, service_yaml, wait_for, wait_port
from dns_zone import T_A, T_SOA, T_TXT, Zone
from test_acme import Pebble, api, served_by_sni

pytestmark = pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble is not installed (scripts/deps.sh test)")

EXEC_SCRIPT = r"""#!/bin/sh
# lego's exec protocol: present|cleanup <fqdn> <value>
echo "$*" >> "$DNS_LOG"
case "$1" in
present)
  [ -n "$DNS_NEVER" ] && exit 0
  # the record appears only after DNS_DELAY seconds: gantry must wait for it
  ( sleep "${DNS_DELAY:-0}"
    curl -s -X POST -d "{\"host\":\"$2\",\"value\":\"$3\"}" "http://127.0.0.1:$CTS_PORT/set-txt" ) >/dev/null 2>&1 &
  echo "presenting $2" ;;
cleanup)
  curl -sf -X POST -d "{\"host\":\"$2\"}" "http://127.0.0.1:$CTS_PORT/clear-txt" ;;
*) exit 2 ;;
esac
"""


class CheckedProcess(Process):
    """gantry: a clean exit with no sanitizer report, as conftest's Gantry."""

    def stop(self, sig=None, timeout=20):
        rc = super().stop(timeout=timeout)
        out = self.output()
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert marker not in out, "sanitizer report in gantry output:\n" + out[-6000:]
        assert rc == 0, "gantry exited with %r:\n%s" % (rc, out[-4000:])
        return rc

# EXEC_MODE=RAW: present|cleanup -- <domain> <token> <keyAuth>; the script makes the record itself (openssl's digest)
EXEC_RAW_SCRIPT = r"""#!/bin/sh
echo "$*" >> "$DNS_LOG"
[ "$2" = "--" ] || exit 3
host="_acme-challenge.$3."
value=$(printf %s "$5" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=')
case "$1" in
present) curl -sf -X POST -d "{\"host\":\"$host\",\"value\":\"$value\"}" "http://127.0.0.1:$CTS_PORT/set-txt" ;;
cleanup) curl -sf -X POST -d "{\"host\":\"$host\"}" "http://127.0.0.1:$CTS_PORT/clear-txt" ;;
esac
"""


def start_gantry(procs, tmp, pebble, up, dyn, dns_args, env_extra, check_ready=True):
    if not any(".dnsChallenge.resolvers=" in a for a in dns_args):
        dns_args = ["--certificatesResolvers.pebble.acme.dnsChallenge.resolvers=127.0.0.1:%d" % pebble.dns_port] + list(dns_args)
    # challtestsrv answers no SOA (NOTIMP): the authoritative check is only made by the tests that bring an authority
    if not any(".disableANSChecks=" in a for a in dns_args):
        dns_args = ["--certificatesResolvers.pebble.acme.dnsChallenge.propagation.disableANSChecks=true"] + list(dns_args)
    web, websecure, admin = pebble.web, pebble.websecure, free_port()
    args = [GANTRY_BIN, "--workers=2", "--log.level=DEBUG",
            "--entryPoints.web.address=127.0.0.1:%d" % web,
            "--entryPoints.websecure.address=127.0.0.1:%d" % websecure,
            "--admin.address=127.0.0.1:%d" % admin,
            "--providers.file.filename=" + os.path.join(str(tmp), "dynamic.yaml"),
            "--certificatesResolvers.pebble.acme.caServer=" + pebble.directory,
            "--certificatesResolvers.pebble.acme.email=ops@example.test",
            "--certificatesResolvers.pebble.acme.storage=" + os.path.join(str(tmp), "acme.json"),
            "--certificatesResolvers.pebble.acme.keyType=EC256"] + list(dns_args)
    with open(os.path.join(str(tmp), "dynamic.yaml"), "w") as f:
        f.write(dyn)
    env = dict(os.environ, LEGO_CA_CERTIFICATES=pebble.ca)
    env.update(env_extra)
    g = procs.add(CheckedProcess(args, "gantry", env=env))
    g.admin_port = admin
    if check_ready:
        wait_port(admin, timeout=10, proc=g)
    return g


def make_pebble(procs, tmp):
    web, websecure = free_port(), free_port()
    p = procs.add(Pebble(tmp / "pebble", web, websecure))
    p.web, p.websecure = web, websecure
    return p


def exec_env(tmp, pebble, **extra):
    script = tmp / "dns-exec.sh"
    script.write_text(EXEC_SCRIPT)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    env = {"EXEC_PATH": str(script), "CTS_PORT": str(pebble.cts_mgmt), "DNS_LOG": str(tmp / "dns.log"),
           "EXEC_POLLING_INTERVAL": "1", "EXEC_SEQUENCE_INTERVAL": "1"}
    env.update(extra)
    return env


def dyn_one_router(up, host):
    """Router app for <host> on websecure, its certificate from pebble."""
    return ("http:\n  routers:\n"
            "    app:\n      rule: \"Host(`%s`)\"\n      service: s\n      entryPoints: [websecure]\n"
            "      tls:\n        certResolver: pebble\n"
            "  services:\n" % host) + service_yaml("s", [up.url])


def dyn_two_routers(up):
    return ("http:\n  routers:\n"
            "    app:\n      rule: \"Host(`app.test`)\"\n      service: s\n      entryPoints: [websecure]\n"
            "      tls:\n        certResolver: pebble\n"
            "    wild:\n      rule: \"Host(`a.wild.test`) || Host(`b.wild.test`)\"\n      service: s\n"
            "      entryPoints: [websecure]\n"
            "      tls:\n        certResolver: pebble\n        domains:\n"
            "          - main: \"wild.test\"\n            sans: [\"*.wild.test\"]\n"
            "  services:\n") + service_yaml("s", [up.url])


def issued(g, host):
    return lambda: ("certificate for %s issued" % host) in g.output()


def san_of(port, host):
    r = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", host], input=b"", check=False)
    x = run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-issuer"], input=r.stdout, check=False)
    return x.stdout.decode()


def test_exec_dns01_normal_and_wildcard_issued_and_served(tmp_path, procs):
    up = procs.whoami()
    pebble = make_pebble(procs, tmp_path)
    # the record appears a second after the script returns: the propagation check must wait for it
    g = start_gantry(procs, tmp_path, pebble, up, dyn_two_routers(up), ["--certificatesResolvers.pebble.acme.dnsChallenge.provider=exec"],
                     exec_env(tmp_path, pebble, DNS_DELAY="1"))
    wait_for(issued(g, "app.test"), timeout=60, what="app.test issued:\n" + g.output()[-3000:])
    wait_for(issued(g, "wild.test"), timeout=60, what="wild.test issued:\n" + g.output()[-3000:])
    root = pebble.root()
    wait_for(lambda: served_by_sni(pebble.websecure, "app.test", root), timeout=10, what="app.test served")
    # the wildcard serves any one-label subdomain, verified with pebble's root
    wait_for(lambda: served_by_sni(pebble.websecure, "a.wild.test", root), timeout=10, what="a.wild.test served")
    assert served_by_sni(pebble.websecure, "b.wild.test", root)
    info = san_of(pebble.websecure, "b.wild.test")
    assert "DNS:*.wild.test" in info and "DNS:wild.test" in info and "Pebble" in info, info
    out = g.output()
    # each record was looked up until it was there (it came a second late), then withdrawn
    waits = [int(m) for m in re.findall(r"TXT _acme-challenge\.[a-z.]+ is there after (\d+) ms", out)]
    assert len(waits) == 3 and min(waits) >= 500, out[-3000:]
    log = (tmp_path / "dns.log").read_text().splitlines()
    presents = [l for l in log if l.startswith("present ")]
    cleanups = [l for l in log if l.startswith("cleanup ")]
    assert sorted(l.split()[1] for l in presents) == ["_acme-challenge.app.test.", "_acme-challenge.wild.test.",
                                                      "_acme-challenge.wild.test."], log
    assert sorted(cleanups) == sorted("cleanup" + l[len("present"):] for l in presents), log
    # the value is base64url(SHA-256(keyAuthorization)): 43 characters, no padding
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", l.split()[2]) for l in presents), log
    assert "exec present: presenting _acme-challenge.app.test." in out  # the script's output is logged
    certs = json.loads((tmp_path / "acme.json").read_text())["pebble"]["Certificates"]
    assert sorted(c["domain"]["main"] for c in certs) == ["app.test", "wild.test"]


def test_exec_raw_mode(tmp_path, procs):
    up = procs.whoami()
    pebble = make_pebble(procs, tmp_path)
    dyn = dyn_one_router(up, "raw.test")
    env = exec_env(tmp_path, pebble, EXEC_MODE="RAW")
    (tmp_path / "dns-exec.sh").write_text(EXEC_RAW_SCRIPT)
    g = start_gantry(procs, tmp_path, pebble, up, dyn, ["--certificatesResolvers.pebble.acme.dnsChallenge.provider=exec"], env)
    wait_for(issued(g, "raw.test"), timeout=60, what="raw.test issued:\n" + g.output()[-3000:])
    log = (tmp_path / "dns.log").read_text().splitlines()
    assert [l.split()[:3] for l in log] == [["present", "--", "raw.test"], ["cleanup", "--", "raw.test"]], log
    token, keyauth = log[0].split()[3:5]
    assert keyauth.startswith(token + ".")  # token.thumbprint


class HttpReq:
    """lego's httpreq endpoint: /present and /cleanup with basic auth, forwarded to challtestsrv."""

    def __init__(self, cts_port, user="u", password="p"):
        self.calls = []
        outer = self
        want = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.headers.get("Authorization") != want:
                    self.send_response(401)
                    self.end_headers()
                    self.wfile.write(b"bad credentials")
                    return
                outer.calls.append((self.path, body, self.headers.get("Content-Type")))
                if self.path.endswith("/present"):
                    fqdn, value = body["fqdn"], body["value"]
                    req = {"host": fqdn, "value": value}
                    path = "/set-txt"
                else:
                    req, path = {"host": body["fqdn"]}, "/clear-txt"
                urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d%s" % (cts_port, path),
                                                              data=json.dumps(req).encode()), timeout=5).read()
                self.send_response(200)
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self, **kw):
        self.server.shutdown()
        self.server.server_close()
        return 0


def test_httpreq_dns01_with_basic_auth(tmp_path, procs):
    up = procs.whoami()
    pebble = make_pebble(procs, tmp_path)
    hr = procs.add(HttpReq(pebble.cts_mgmt))
    dyn = dyn_one_router(up, "api.test")
    g = start_gantry(procs, tmp_path, pebble, up, dyn,
                     ["--certificatesResolvers.pebble.acme.dnsChallenge.provider=httpreq",
                      "--certificatesResolvers.pebble.acme.dnsChallenge.propagation.requireAllRNS=true"],
                     {"HTTPREQ_ENDPOINT": "http://127.0.0.1:%d/dns/" % hr.port, "HTTPREQ_USERNAME": "u",
                      "HTTPREQ_PASSWORD": "p", "HTTPREQ_POLLING_INTERVAL": "1"})
    wait_for(issued(g, "api.test"), timeout=60, what="api.test issued:\n" + g.output()[-3000:])
    root = pebble.root()
    wait_for(lambda: served_by_sni(pebble.websecure, "api.test", root), timeout=10, what="api.test served")
    wait_for(lambda: len(hr.calls) == 2, timeout=10, what="cleanup called")
    (p1, b1, ct), (p2, b2, _) = hr.calls
    assert p1 == "/dns/present" and p2 == "/dns/cleanup" and ct == "application/json"
    assert b1 == b2 and b1["fqdn"] == "_acme-challenge.api.test." and re.fullmatch(r"[A-Za-z0-9_-]{43}", b1["value"])


def test_record_never_seen_times_out_naming_the_domain(tmp_path, procs):
    up = procs.whoami()
    pebble = make_pebble(procs, tmp_path)
    dyn = dyn_one_router(up, "lost.test")
    g = start_gantry(procs, tmp_path, pebble, up, dyn, ["--certificatesResolvers.pebble.acme.dnsChallenge.provider=exec"],
                     exec_env(tmp_path, pebble, DNS_NEVER="1", EXEC_PROPAGATION_TIMEOUT="2"))

    def problem():
        return [p for p in api(g, "/api/overview")["problems"] if "lost.test" in p]
    wait_for(problem, timeout=30, what="propagation timeout reported:\n" + g.output()[-3000:])
    p = problem()[0]
    assert "DNS-01 for lost.test: the TXT record _acme-challenge.lost.test. did not propagate within " \
           "EXEC_PROPAGATION_TIMEOUT (2 s" in p, p
    # the CA was never told to validate, and the record is withdrawn all the same
    wait_for(lambda: any(l.startswith("cleanup _acme-challenge.lost.test.")
                         for l in (tmp_path / "dns.log").read_text().splitlines()), timeout=10, what="cleanup")
    assert "certificate for lost.test issued" not in g.output()
    assert g.alive()


def refused(tmp_path, args, env):
    e = dict(os.environ)
    e.update(env)
    r = run([GANTRY_BIN, "--entryPoints.web.address=127.0.0.1:%d" % free_port(),
             "--certificatesResolvers.le.acme.storage=" + str(tmp_path / "acme.json")] + args, check=False, env=e, timeout=15)
    out = (r.stdout + r.stderr).decode()
    assert r.returncode != 0 and "Sanitizer" not in out and "runtime error:" not in out, out
    return out


def test_unknown_provider_and_missing_env_refused_at_start(tmp_path):
    out = refused(tmp_path, ["--certificatesResolvers.le.acme.dnsChallenge.provider=cloudflare"], {})
    assert "certificatesResolvers.le.acme.dnsChallenge.provider: 'cloudflare' is not supported" in out, out
    assert "only exec and httpreq" in out
    env = {k: "" for k in ("EXEC_PATH", "EXEC_PATH_FILE")}
    out = refused(tmp_path, ["--certificatesResolvers.le.acme.dnsChallenge.provider=exec"], env)
    assert "certificatesResolvers.le.acme.dnsChallenge.provider exec: some credentials information are missing: EXEC_PATH" \
        in out, out
    out = refused(tmp_path, ["--certificatesResolvers.le.acme.dnsChallenge.provider=exec",
                             "--certificatesResolvers.le.acme.dnsChallenge.resolvers=dns.example:53"], {"EXEC_PATH": "/bin/true"})
    assert "dnsChallenge.resolvers: 'dns.example:53'" in out, out


def test_stop_during_propagation_check_is_prompt_and_cleans_up(tmp_path, procs):
    up = procs.whoami()
    pebble = make_pebble(procs, tmp_path)
    dyn = dyn_one_router(up, "slow.test")
    g = start_gantry(procs, tmp_path, pebble, up, dyn, ["--certificatesResolvers.pebble.acme.dnsChallenge.provider=exec"],
                     exec_env(tmp_path, pebble, DNS_NEVER="1", EXEC_PROPAGATION_TIMEOUT="600"))
    wait_for(lambda: "TXT _acme-challenge.slow.test. presented" in g.output(), timeout=30, what="presented")
    t0 = time.monotonic()
    assert g.stop() == 0
    assert time.monotonic() - t0 < 8, "stop waited for the propagation timeout"
    assert any(l.startswith("cleanup _acme-challenge.slow.test.") for l in (tmp_path / "dns.log").read_text().splitlines())


def test_require_all_rns_waits_for_every_resolver(tmp_path, procs):
    """requireAllRNS: a second resolver (another challtestsrv that never gets
    the record) keeps the order from going to the CA; the error names it."""
    up = procs.whoami()
    pebble = make_pebble(procs, tmp_path)
    dns2, mgmt2 = free_port(), free_port()
    procs.add(Process(["pebble-challtestsrv", "-dns01", "127.0.0.1:%d" % dns2, "-http01", "", "-https01", "",
                       "-tlsalpn01", "", "-management", "127.0.0.1:%d" % mgmt2], "challtestsrv2"))
    wait_port(mgmt2, timeout=10)
    dyn = dyn_one_router(up, "all.test")
    g = start_gantry(procs, tmp_path, pebble, up, dyn,
                     ["--certificatesResolvers.pebble.acme.dnsChallenge.provider=exec",
                      "--certificatesResolvers.pebble.acme.dnsChallenge.resolvers=127.0.0.1:%d,127.0.0.1:%d"
                      % (pebble.dns_port, dns2),
                      "--certificatesResolvers.pebble.acme.dnsChallenge.propagation.requireAllRNS=true"],
                     exec_env(tmp_path, pebble, EXEC_PROPAGATION_TIMEOUT="3"))

    def problem():
        return [p for p in api(g, "/api/overview")["problems"] if "all.test" in p]
    wait_for(problem, timeout=30, what="propagation timeout reported:\n" + g.output()[-3000:])
    p = problem()[0]
    # lego's wording, naming the resolver that lacks the record
    assert ("did not propagate within EXEC_PROPAGATION_TIMEOUT (3 s; last: recursive nameservers: NS 127.0.0.1:%d did not "
            "return the expected TXT record [fqdn: _acme-challenge.all.test." % dns2) in p, p
    assert "certificate for all.test issued" not in g.output()


def cts(pebble, path, body):
    """A call to challtestsrv's management API."""
    urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d%s" % (pebble.cts_mgmt, path),
                                                  data=json.dumps(body).encode()), timeout=5).read()


def test_cname_followed_record_written_at_its_target(tmp_path, procs):
    """_acme-challenge.cname.test is a CNAME (lego follows it at the
    resolvers): the exec script writes the record at the target, gantry
    checks it there, pebble follows the CNAME and validates, and the record
    at the target is cleaned up."""
    up = procs.whoami()
    pebble = make_pebble(procs, tmp_path)
    cts(pebble, "/set-cname", {"host": "_acme-challenge.cname.test.", "target": "cname.delegated.test."})
    g = start_gantry(procs, tmp_path, pebble, up, dyn_one_router(up, "cname.test"),
                     ["--certificatesResolvers.pebble.acme.dnsChallenge.provider=exec"], exec_env(tmp_path, pebble))
    wait_for(issued(g, "cname.test"), timeout=60, what="cname.test issued")
    wait_for(lambda: sum(1 for l in (tmp_path / "dns.log").read_text().splitlines() if l.startswith("cleanup ")) == 1,
             timeout=10, what="cleanup")
    log = (tmp_path / "dns.log").read_text().splitlines()
    assert [l.split()[:2] for l in log] == [["present", "cname.delegated.test."], ["cleanup", "cname.delegated.test."]], log
    out = g.output()
    assert "_acme-challenge.cname.test. is a CNAME: the record goes to cname.delegated.test." in out, out[-3000:]
    assert re.search(r"TXT cname\.delegated\.test\. is there after \d+ ms", out), out[-3000:]
    assert g.alive()


def test_cname_chain_followed_to_its_end(tmp_path, procs):
    """A chain of two CNAMEs is followed to its end (lego: up to 50 links);
    (challtestsrv resolves only one link for pebble, so no issuance here)."""
    up = procs.whoami()
    pebble = make_pebble(procs, tmp_path)
    cts(pebble, "/set-cname", {"host": "_acme-challenge.chain.test.", "target": "hop.delegated.test."})
    cts(pebble, "/set-cname", {"host": "hop.delegated.test.", "target": "end.delegated.test."})
    g = start_gantry(procs, tmp_path, pebble, up, dyn_one_router(up, "chain.test"),
                     ["--certificatesResolvers.pebble.acme.dnsChallenge.provider=exec"], exec_env(tmp_path, pebble))
    wait_for(lambda: "TXT end.delegated.test. is there after" in g.output(), timeout=30, what="checked at the end")
    out = g.output()
    assert "found CNAME entry for _acme-challenge.chain.test.: hop.delegated.test." in out, out[-3000:]
    assert "found CNAME entry for hop.delegated.test.: end.delegated.test." in out, out[-3000:]
    assert (tmp_path / "dns.log").read_text().split()[:2] == ["present", "end.delegated.test."]


def test_cname_support_disabled_by_lego_variable(tmp_path, procs):
    """LEGO_DISABLE_CNAME_SUPPORT=true: the record is written at
    _acme-challenge.<domain> even though it is a CNAME (lego's switch)."""
    up = procs.whoami()
    pebble = make_pebble(procs, tmp_path)
    cts(pebble, "/set-cname", {"host": "_acme-challenge.nocname.test.", "target": "elsewhere.test."})
    g = start_gantry(procs, tmp_path, pebble, up, dyn_one_router(up, "nocname.test"),
                     ["--certificatesResolvers.pebble.acme.dnsChallenge.provider=exec"],
                     exec_env(tmp_path, pebble, LEGO_DISABLE_CNAME_SUPPORT="true", EXEC_PROPAGATION_TIMEOUT="2"))
    wait_for(lambda: (tmp_path / "dns.log").exists() and (tmp_path / "dns.log").read_text().startswith("present "),
             timeout=30, what="present called:\n" + g.output()[-3000:])
    assert (tmp_path / "dns.log").read_text().split()[1] == "_acme-challenge.nocname.test."
    assert "found CNAME entry" not in g.output()


def loopback_53(procs, zone, cts_dns, txt="relay"):
    """An authoritative server of <zone> on port 53 of a loopback address of its own (binding 53 takes root)."""
    host = "127.53.%d.%d" % (random.randint(0, 255), random.randint(1, 254))
    try:
        return host, procs.add(Zone(host, 53, zone, {}, cts_dns, txt))
    except OSError as e:
        pytest.skip("cannot bind %s:53: %s" % (host, e))


def ans_setup(procs, tmp_path, pebble, second_has_record):
    """ans.test. served by ns1 (glue) and ns2 (no glue: its A record asked at the resolver); the resolver
    (dnsChallenge.resolvers) knows the zone's SOA and NS; every TXT answer comes from challtestsrv, except
    ns2's when <second_has_record> is false."""
    ip1, ns1 = loopback_53(procs, "ans.test.", pebble.dns_port)
    ip2, ns2 = loopback_53(procs, "ans.test.", pebble.dns_port, "relay" if second_has_record else "none")
    rec = procs.add(Zone("127.0.0.1", free_port(), "ans.test.",
                         {"ns1.ans.test.": (ip1, True), "ns2.ans.test.": (ip2, False)}, pebble.dns_port))
    return rec, (ip1, ns1), (ip2, ns2)


def test_authoritative_nameservers_asked_without_recursion(tmp_path, procs):
    """disableANSChecks false (the default): the zone is found by its SOA at
    the resolver, its nameservers by NS (glue, else their A record), and each
    is asked for the record without recursion before the CA validates."""
    up = procs.whoami()
    pebble = make_pebble(procs, tmp_path)
    rec, (ip1, ns1), (ip2, ns2) = ans_setup(procs, tmp_path, pebble, True)
    g = start_gantry(procs, tmp_path, pebble, up, dyn_one_router(up, "www.ans.test"),
                     ["--certificatesResolvers.pebble.acme.dnsChallenge.provider=exec",
                      "--certificatesResolvers.pebble.acme.dnsChallenge.resolvers=127.0.0.1:%d" % rec.port,
                      "--certificatesResolvers.pebble.acme.dnsChallenge.propagation.disableANSChecks=false"],
                     exec_env(tmp_path, pebble))
    wait_for(issued(g, "www.ans.test"), timeout=60, what="www.ans.test issued")
    out = g.output()
    assert ("TXT _acme-challenge.www.ans.test.: asking the authoritative nameservers of zone ans.test.: "
            "ns1.ans.test. (%s:53), ns2.ans.test. (%s:53)" % (ip1, ip2)) in out, out[-3000:]
    fqdn = "_acme-challenge.www.ans.test."
    assert (fqdn, T_TXT, False) in ns1.questions and (fqdn, T_TXT, False) in ns2.questions
    soa = [q[0] for q in rec.asked(T_SOA)]
    assert soa[:3] == [fqdn, "www.ans.test.", "ans.test."], soa
    assert ("ns2.ans.test.", T_A, True) in rec.questions and ("ns1.ans.test.", T_A, True) not in rec.questions


def test_authoritative_nameserver_without_the_record_fails_naming_it(tmp_path, procs):
    up = procs.whoami()
    pebble = make_pebble(procs, tmp_path)
    rec, _, (ip2, ns2) = ans_setup(procs, tmp_path, pebble, False)
    g = start_gantry(procs, tmp_path, pebble, up, dyn_one_router(up, "bad.ans.test"),
                     ["--certificatesResolvers.pebble.acme.dnsChallenge.provider=exec",
                      "--certificatesResolvers.pebble.acme.dnsChallenge.resolvers=127.0.0.1:%d" % rec.port,
                      "--certificatesResolvers.pebble.acme.dnsChallenge.propagation.disableANSChecks=false"],
                     exec_env(tmp_path, pebble, EXEC_PROPAGATION_TIMEOUT="3"))

    def problem():
        return [p for p in api(g, "/api/overview")["problems"] if "bad.ans.test" in p]
    wait_for(problem, timeout=30, what="propagation timeout reported:\n" + g.output()[-3000:])
    p = problem()[0]
    assert ("did not propagate within EXEC_PROPAGATION_TIMEOUT (3 s; last: authoritative nameservers: NS ns2.ans.test. "
            "(%s:53) did not return the expected TXT record [fqdn: _acme-challenge.bad.ans.test., value: " % ip2) in p, p
    assert "certificate for bad.ans.test issued" not in g.output()
    assert g.alive()


def test_disable_ans_checks_asks_no_authoritative_nameserver(tmp_path, procs):
    up = procs.whoami()
    pebble = make_pebble(procs, tmp_path)
    rec, (_, ns1), (_, ns2) = ans_setup(procs, tmp_path, pebble, False)
    g = start_gantry(procs, tmp_path, pebble, up, dyn_one_router(up, "skip.ans.test"),
                     ["--certificatesResolvers.pebble.acme.dnsChallenge.provider=exec",
                      "--certificatesResolvers.pebble.acme.dnsChallenge.resolvers=127.0.0.1:%d" % rec.port,
                      "--certificatesResolvers.pebble.acme.dnsChallenge.propagation.disableANSChecks=true"],
                     exec_env(tmp_path, pebble))
    wait_for(issued(g, "skip.ans.test"), timeout=60, what="skip.ans.test issued")
    assert ns1.questions == [] and ns2.questions == [] and rec.asked(T_SOA) == []
    assert "authoritative" not in g.output()


def test_ipv6_resolver(tmp_path, procs):
    """dnsChallenge.resolvers takes IPv6 addresses ("[::1]:port"): with
    requireAllRNS the IPv6 resolver and the IPv4 one are both asked."""
    up = procs.whoami()
    pebble = make_pebble(procs, tmp_path)
    v6 = procs.add(Zone("::1", free_port(), "v6.test.", {}, pebble.dns_port))
    g = start_gantry(procs, tmp_path, pebble, up, dyn_one_router(up, "v6.test"),
                     ["--certificatesResolvers.pebble.acme.dnsChallenge.provider=exec",
                      "--certificatesResolvers.pebble.acme.dnsChallenge.resolvers=[::1]:%d,127.0.0.1:%d"
                      % (v6.port, pebble.dns_port),
                      "--certificatesResolvers.pebble.acme.dnsChallenge.propagation.requireAllRNS=true"],
                     exec_env(tmp_path, pebble))
    wait_for(issued(g, "v6.test"), timeout=60, what="v6.test issued")
    assert ("_acme-challenge.v6.test.", T_TXT, True) in v6.questions, v6.questions


def test_malformed_resolvers_refused_at_start(tmp_path):
    for bad in ("[::1", "[::1]:0", "1.2.3.4:", "[fe80::1]x"):
        out = refused(tmp_path, ["--certificatesResolvers.le.acme.dnsChallenge.provider=exec",
                                 "--certificatesResolvers.le.acme.dnsChallenge.resolvers=" + bad], {"EXEC_PATH": "/bin/true"})
        assert "certificatesResolvers.le.acme.dnsChallenge.resolvers: '%s'" % bad in out, out
