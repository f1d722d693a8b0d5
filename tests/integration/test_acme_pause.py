"""The CA's pause (429 rateLimited + Retry-After) outlives the process that
was told: it is kept in acme.json (a restart honours it) and in the
resolver's account Secret (the next issuer honours it after a failover),
and removed after the next order the CA takes. Pebble has no rate-limit
switch: acme_front.py declines the first newOrder in front of a real
pebble. Without the stored pause the restarted process or the new issuer
orders at once, seconds before the time the CA named."""
import calendar
import json
import os
import shutil
import signal
import socket
import time
import urllib.request

import pytest

from acme_front import AcmeFront
from conftest import free_port, wait_for
from test_acme import Pebble, api, fixed_ports_gantry, issued, served_by_sni
from test_acme_k8s import NS, PREFIX, Balancer, Replica, cert_secret, emu, holder, leader_of  # noqa: F401 (emu: fixture)
from test_acme_limits import Via

pytestmark = pytest.mark.skipif(shutil.which("pebble") is None or shutil.which("haproxy") is None,
                                reason="pebble or haproxy is not installed (scripts/deps.sh test)")

RETRY_AFTER = 10  # seconds: longer than a restart or a takeover (lease 2 s), short enough for the suite
PAUSE_PROBLEM = "the CA asked for no new request before"


def stored_time(value):
    return calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ"))


def declined_wall(front):
    """The wall-clock time of the declined newOrder (the front records the monotonic one)."""
    return time.time() - (time.monotonic() - front.new_orders[0][0])


def check_orders_waited(front):
    assert [s for _, s in front.new_orders] == [429, 0], front.new_orders  # the declined one, then one more
    waited = front.new_orders[1][0] - front.new_orders[0][0]
    # the stored time is in whole seconds (rounded down): up to 1 s earlier than asked
    assert waited >= RETRY_AFTER - 1.5, "ordered again %.1f s after the CA asked for %d s" % (waited, RETRY_AFTER)
    return waited


def acme_json(tmp_path):
    with open(os.path.join(str(tmp_path), "acme.json")) as f:
        return json.load(f)


def test_pause_kept_in_acme_json_across_a_restart(tmp_path, procs):
    """A single instance is told to wait, stops, starts again: it reads the
    pause from acme.json and orders nothing before the time; after the
    certificate is issued the field is gone and the file has Traefik's
    fields only."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    front = procs.add(AcmeFront(pebble, decline_orders=1, retry_after=str(RETRY_AFTER)))
    g = fixed_ports_gantry(procs, tmp_path, Via(pebble, front), up, web, websecure)
    wait_for(lambda: len(front.new_orders) >= 1, timeout=30, what="a newOrder:\n" + g.output()[-3000:])
    asked = declined_wall(front) + RETRY_AFTER

    def paused():
        return acme_json(tmp_path).get("pebble", {}).get("GantryRetryAfter")
    pause = wait_for(paused, timeout=5, what="the pause in acme.json")
    assert pause["caServer"] == front.directory, pause
    assert abs(stored_time(pause["notBefore"]) - asked) <= 2, (pause, asked)
    # beside Traefik's fields, which stay as they are
    res = acme_json(tmp_path)["pebble"]
    assert set(res) == {"Account", "Certificates", "GantryRetryAfter"}, res.keys()
    assert res["Account"]["Registration"]["uri"] and res["Account"]["PrivateKey"]
    g.stop()

    g2 = fixed_ports_gantry(procs, tmp_path, Via(pebble, front), up, web, websecure)
    wait_for(lambda: "(Retry-After, kept in %s)" % os.path.join(str(tmp_path), "acme.json") in g2.output(), timeout=10,
             what="the stored pause logged:\n" + g2.output()[-3000:])
    assert any(PAUSE_PROBLEM in p for p in api(g2, "/api/overview")["problems"])
    assert len(front.new_orders) == 1, "the restarted process ordered at once"
    wait_for(issued(g2, "app.test"), timeout=RETRY_AFTER + 30, what="issued:\n" + g2.output()[-3000:])
    print("second order %.1f s after the declined one (Retry-After: %d)" % (check_orders_waited(front), RETRY_AFTER))
    wait_for(lambda: paused() is None, timeout=5, what="the pause removed from acme.json")
    assert set(acme_json(tmp_path)["pebble"]) == {"Account", "Certificates"}
    wait_for(lambda: served_by_sni(websecure, "app.test", pebble.root()), timeout=10, what="served by SNI")


def test_stored_pause_of_another_ca_or_too_far_ahead(tmp_path, procs):
    """A pause stored for another caServer is ignored (the order goes at
    once); one a year ahead for this CA counts as 7 days (the API says
    when)."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    with open(os.path.join(str(tmp_path), "acme.json"), "w") as f:
        json.dump({"pebble": {"Certificates": [], "GantryRetryAfter": {
            "notBefore": "2099-01-01T00:00:00Z", "caServer": "https://acme-staging-v02.api.letsencrypt.org/directory"}}}, f)
    os.chmod(os.path.join(str(tmp_path), "acme.json"), 0o600)
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure)
    wait_for(issued(g, "app.test"), timeout=60, what="issued:\n" + g.output()[-3000:])
    assert "kept in" not in g.output()
    assert "GantryRetryAfter" not in acme_json(tmp_path)["pebble"]  # removed with the first certificate
    g.stop()

    res = acme_json(tmp_path)
    res["pebble"]["GantryRetryAfter"] = {"notBefore": "2099-01-01T00:00:00Z", "caServer": pebble.directory}
    res["pebble"]["Certificates"] = []
    with open(os.path.join(str(tmp_path), "acme.json"), "w") as f:
        json.dump(res, f)
    started = time.time()
    g2 = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure)
    wait_for(lambda: "kept in" in g2.output(), timeout=10, what="the stored pause logged:\n" + g2.output()[-3000:])
    p = [p for p in api(g2, "/api/overview")["problems"] if PAUSE_PROBLEM in p]
    assert p, api(g2, "/api/overview")["problems"]
    until = stored_time(p[0].split(PAUSE_PROBLEM + " ")[1].split(" ")[0])
    assert abs(until - (started + 7 * 86400)) <= 5, p[0]


def paused_cluster(tmp_path, procs, emu, up):
    """pebble (behind the front that declines the first newOrder) validating
    through haproxy, and two replicas behind it."""
    held = [socket.socket() for _ in range(8)]
    for h in held:
        h.bind(("127.0.0.1", 0))
    lb, lb_tls, a_web, a_tls, a_admin, b_web, b_tls, b_admin = [h.getsockname()[1] for h in held]
    try:
        pebble = procs.add(Pebble(tmp_path / "pebble", lb, lb_tls))
    finally:
        for h in held:
            h.close()
    front = procs.add(AcmeFront(pebble, decline_orders=1, retry_after=str(RETRY_AFTER)))
    procs.add(Balancer(tmp_path, lb, [a_web, b_web], [a_admin, b_admin]))
    via = Via(pebble, front)
    a = Replica(procs, tmp_path, "a", emu, via, up, ports=(a_web, a_tls, a_admin))
    b = Replica(procs, tmp_path, "b", emu, via, up, ports=(b_web, b_tls, b_admin))
    return pebble, front, a, b


def account_annotations(emu):
    acct = emu.get("Secret", NS, PREFIX + "-pebble-account")
    return (acct or {}).get("metadata", {}).get("annotations", {})


def replica_problems(r):
    with urllib.request.urlopen("http://127.0.0.1:%d/api/overview" % r.admin, timeout=10) as f:
        return json.loads(f.read())["problems"]


def test_pause_survives_a_change_of_issuer(tmp_path, procs, emu):
    """The issuer is told to wait and is killed; the other replica takes the
    Lease over within seconds, reads the pause from the account Secret and
    orders nothing before the time; then it issues and removes the pause."""
    up = procs.whoami()
    pebble, front, a, b = paused_cluster(tmp_path, procs, emu, up)
    leader = leader_of(emu, a, b)
    other = b if leader is a else a
    wait_for(lambda: len(front.new_orders) >= 1, timeout=30, what="a newOrder:\n" + leader.output()[-3000:])
    asked = declined_wall(front) + RETRY_AFTER
    ann = wait_for(lambda: "gantry.io/acme-retry-after" in account_annotations(emu) and account_annotations(emu),
                   timeout=5, what="the pause in the account Secret:\n" + leader.output()[-3000:])
    assert ann["gantry.io/acme-retry-after-ca"] == front.directory, ann
    assert abs(stored_time(ann["gantry.io/acme-retry-after"]) - asked) <= 2, (ann, asked)
    assert ann["gantry.io/acme-account-uri"], ann  # the account is still there
    # the replica that does not issue shows it too
    wait_for(lambda: any(PAUSE_PROBLEM in p for p in replica_problems(other)), timeout=5, what="the pause in b's API")

    leader.proc.stop(sig=signal.SIGKILL)
    wait_for(lambda: (holder(emu) or "").startswith(other.name + "_"), timeout=15, what="takeover")
    wait_for(lambda: "Retry-After, kept in the account Secret" in other.output(), timeout=5,
             what="the new issuer logs the pause:\n" + other.output()[-3000:])
    took_over = time.monotonic() - front.new_orders[0][0]
    assert took_over < RETRY_AFTER - 2, "took over too late (%.1f s) to show anything" % took_over
    assert len(front.new_orders) == 1, "the new issuer ordered at once"
    wait_for(lambda: cert_secret(emu) is not None, timeout=RETRY_AFTER + 30,
             what="certificate Secret:\n" + other.output()[-3000:])
    waited = check_orders_waited(front)
    print("took over %.1f s after the CA's 429; ordered %.1f s after it (Retry-After: %d)" % (took_over, waited,
                                                                                           RETRY_AFTER))
    wait_for(lambda: "gantry.io/acme-retry-after" not in account_annotations(emu), timeout=10,
             what="the pause removed from the account Secret")
    assert account_annotations(emu)["gantry.io/acme-account-uri"]
    wait_for(lambda: other.serial(root=pebble.root()), timeout=10, what="the new issuer serves the certificate")
