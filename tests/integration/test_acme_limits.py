"""A CA's limits against pebble behind a loopback HTTPS front
(acme_front.py; pebble has no rate-limit or slow-issuance switch): a
429 rateLimited with Retry-After pauses every order of the resolver, not
only the certificate that got it; certificateTimeout bounds the wait for a
finalized order (too short: the order fails naming the option; Traefik's
30 s default: the same slow CA issues); tlsChallenge.delay."""
import shutil
import time

import pytest

from acme_front import AcmeFront
from conftest import free_port, service_yaml, wait_for
from test_acme import Pebble, api, fixed_ports_gantry, issued, served_by_sni

pytestmark = pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble is not installed (scripts/deps.sh test)")

OPT = "--certificatesResolvers.pebble.acme."


class Via:
    """pebble as gantry sees it: the front's directory, the same CA files"""

    def __init__(self, pebble, front):
        self.directory, self.ca = front.directory, pebble.ca


def two_routers(up):
    return ("http:\n  routers:\n"
            "    a:\n      rule: \"Host(`a.test`)\"\n      service: s\n      entryPoints: [websecure]\n"
            "      tls:\n        certResolver: pebble\n"
            "    b:\n      rule: \"Host(`b.test`)\"\n      service: s\n      entryPoints: [websecure]\n"
            "      tls:\n        certResolver: pebble\n"
            "  services:\n") + service_yaml("s", [up.url])


def problems(g):
    return api(g, "/api/overview")["problems"]


def test_retry_after_pauses_every_order_of_the_resolver(tmp_path, procs):
    """The first newOrder (for a.test or b.test) gets 429 rateLimited with
    Retry-After: 6. The other certificate has no backoff of its own, yet no
    newOrder reaches the CA for 6 s; then both are issued."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    front = procs.add(AcmeFront(pebble, decline_orders=1, retry_after="6"))
    g = fixed_ports_gantry(procs, tmp_path, Via(pebble, front), up, web, websecure, dyn=two_routers(up))
    wait_for(lambda: len(front.new_orders) >= 1, timeout=30, what="a newOrder:\n" + g.output()[-3000:])
    declined_at = front.new_orders[0][0]
    assert front.new_orders[0][1] == 429
    wait_for(lambda: any("the CA asked for no new request before" in p for p in problems(g)), timeout=5,
             what="the pause in the API")
    p = [p for p in problems(g) if "the CA asked for no new request before" in p][0]
    assert p.startswith("acme: resolver pebble:") and "every order of this resolver waits" in p, p
    wait_for(issued(g, "a.test"), timeout=60, what="a.test issued:\n" + g.output()[-3000:])
    wait_for(issued(g, "b.test"), timeout=60, what="b.test issued:\n" + g.output()[-3000:])
    later = [t for t, s in front.new_orders[1:]]
    assert len(later) == 2, front.new_orders  # one each, none while paused
    assert min(later) - declined_at >= 5.5, [t - declined_at for t in later]
    assert "every order of this resolver waits until then" in g.output()
    root = pebble.root()
    for host in ("a.test", "b.test"):
        wait_for(lambda: served_by_sni(websecure, host, root), timeout=10, what="served by SNI " + host)


def test_certificate_timeout_bounds_a_slow_issuance(tmp_path, procs):
    """The front keeps the finalized order "processing" for 5 s.
    certificateTimeout=1s: the order fails, naming the option; Traefik's
    default (30 s): the same slow CA's certificate is waited for and served."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    front = procs.add(AcmeFront(pebble, hold_processing_s=5))
    g = fixed_ports_gantry(procs, tmp_path, Via(pebble, front), up, web, websecure, extra=[OPT + "certificateTimeout=1s"])

    def failed():
        return [p for p in problems(g) if p.startswith("acme: resolver pebble: certificate for app.test")]
    wait_for(failed, timeout=30, what="the order failed:\n" + g.output()[-3000:])
    assert "did not issue the certificate within certificateTimeout (1000 ms" in failed()[0], failed()
    assert front.holding()  # it failed while the CA was still processing
    assert "certificate for app.test issued" not in g.output()
    g.stop()

    front.finalized_at = None
    g2 = fixed_ports_gantry(procs, tmp_path, Via(pebble, front), up, web, websecure)
    wait_for(lambda: front.finalized_at is not None, timeout=30, what="finalized:\n" + g2.output()[-3000:])
    wait_for(issued(g2, "app.test"), timeout=30, what="issued:\n" + g2.output()[-3000:])
    assert time.monotonic() - front.finalized_at >= 4.5
    root = pebble.root()
    wait_for(lambda: served_by_sni(websecure, "app.test", root), timeout=10, what="served by SNI")


def test_tls_challenge_delay(tmp_path, procs):
    """tlsChallenge.delay: the CA is told to validate the TLS-ALPN-01
    challenge 3 s after its certificate is published."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, challenge_ep=None,
                           extra=[OPT + "tlsChallenge.delay=3s"])
    wait_for(lambda: "(tlsChallenge.delay)" in g.output(), timeout=30, what="delay logged:\n" + g.output()[-3000:])
    published = time.monotonic()
    assert "validates it in 3000 ms (tlsChallenge.delay)" in g.output()
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    assert time.monotonic() - published >= 2.5
    root = pebble.root()
    wait_for(lambda: served_by_sni(websecure, "app.test", root), timeout=10, what="served by SNI")
