"""ACME Renewal Information (RFC 9773) against Debian's real pebble, which
has none of it: acme_front.py adds `renewalInfo` to pebble's directory,
answers renewalInfo/<certID> with the window each test chooses, and records
the renewalInfo requests and the newOrder payloads. The certificate
identifier is computed here, with python cryptography, from the certificate
gantry serves. A window soon renews inside it (long before a third of the
lifetime), a window past renews at once, a malformed answer keeps the
certificatesDuration schedule (and says so), and a CA refusing "replaces"
gets the order again without it."""
import base64
import calendar
import json
import shutil
import socket
import ssl
import time

import pytest
from cryptography import x509

from acme_front import AcmeFront
from conftest import SLOW, free_port, wait_for
from test_acme import Pebble, fixed_ports_gantry
from test_acme_k8s import Balancer, Replica, cert_secret, emu, leader_of  # noqa: F401 (emu: fixture)
from test_acme_limits import Via

pytestmark = pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble is not installed (scripts/deps.sh test)")

YEAR = 365 * 86400
ISSUED = "certificate for app.test issued"


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def ari_cert_id(cert):
    """RFC 9773 4.1: base64url(AKI keyIdentifier) "." base64url(the serial's DER content, sign octet kept)."""
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    n = cert.serial_number
    return b64url(aki) + "." + b64url(n.to_bytes(n.bit_length() // 8 + 1, "big"))


def not_after(cert):
    """notAfter as a Unix time (cryptography 38: a naive UTC datetime)."""
    return calendar.timegm(cert.not_valid_after.utctimetuple())


def served_cert(port, host="app.test"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5 * SLOW) as s:
        with ctx.wrap_socket(s, server_hostname=host) as t:
            return x509.load_der_x509_certificate(t.getpeercert(binary_form=True))


def acme_cert(port):
    """The ACME certificate once it is served (not gantry's default one), else None."""
    try:
        c = served_cert(port)
    except OSError:
        return None
    try:
        c.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return c if "pebble" in c.issuer.rfc4514_string().lower() else None


def window(start, end, explanation=None, retry_after="3600"):
    doc = {"suggestedWindow": {"start": rfc3339(start), "end": rfc3339(end)}}
    if explanation:
        doc["explanationURL"] = explanation
    return 200, [("Content-Type", "application/json"), ("Retry-After", retry_after)], json.dumps(doc).encode()


class Windows:
    """renewalInfo answers: <first(now)> for the first certificate asked
    about, a window a month ahead for any later one (no renewal)."""

    def __init__(self, first):
        self.first = first
        self.first_id = None
        self.asked = []  # (wall time, certID)

    def __call__(self, cert_id):
        now = time.time()
        self.asked.append((now, cert_id))
        if self.first_id is None:
            self.first_id = cert_id
        if cert_id == self.first_id:
            return self.first(now)
        return window(now + 30 * 86400, now + 31 * 86400)


def start(tmp_path, procs, answers, validity=YEAR, refuse_replaces=False):
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure, validity=validity))
    front = procs.add(AcmeFront(pebble, renewal_info=answers, refuse_replaces=refuse_replaces))
    g = fixed_ports_gantry(procs, tmp_path, Via(pebble, front), up, web, websecure)
    return front, g, websecure


def stop_clean(p):
    """Stops gantry (a Process): a clean exit, no sanitizer report (ASan builds check leaks then)."""
    rc = p.stop()
    out = p.output()
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert marker not in out, "sanitizer report:\n" + out[-6000:]
    assert rc == 0, "gantry exited with %r:\n%s" % (rc, out[-3000:])


def wall(front, mono):
    """The wall-clock time of a monotonic time the front recorded."""
    return time.time() - (time.monotonic() - mono)


def first_certificate(g, websecure, answers):
    """The first certificate as served, once gantry has asked the CA about it."""
    wait_for(lambda: ISSUED in g.output(), timeout=60, what="issued:\n" + g.output()[-3000:])
    cert = wait_for(lambda: acme_cert(websecure), timeout=10, what="the ACME certificate served")
    cert_id = ari_cert_id(cert)
    wait_for(lambda: answers.first_id is not None, timeout=10, what="a renewalInfo request:\n" + g.output()[-3000:])
    assert answers.first_id == cert_id, (answers.first_id, cert_id)
    return cert, cert_id


def test_window_soon_renews_inside_it_with_replaces(tmp_path, procs):
    """A one-year certificate (certificatesDuration's schedule: 30 days
    before its end) whose window opens seconds from now is renewed inside
    the window, and the order names it in "replaces"."""
    lead, span = 8 * SLOW, 6 * SLOW
    answers = Windows(lambda now: window(now + lead, now + lead + span, explanation="https://ca.test/why"))
    front, g, websecure = start(tmp_path, procs, answers)
    cert, cert_id = first_certificate(g, websecure, answers)
    asked_at = answers.asked[0][0]
    assert "replaces" not in front.order_payloads[0]  # a first order
    assert g.output().count(ISSUED) == 1, "renewed before the window"

    wait_for(lambda: g.output().count(ISSUED) == 2, timeout=lead + span + 30,
             what="renewed in the window:\n" + g.output()[-3000:])
    assert len(front.order_payloads) == 2, front.order_payloads
    assert front.order_payloads[1]["replaces"] == cert_id, front.order_payloads[1]
    assert front.order_payloads[1]["identifiers"] == [{"type": "dns", "value": "app.test"}]
    ordered = wall(front, front.new_orders[1][0])
    # the window is in whole seconds: its start is up to 1 s earlier than asked_at + lead
    assert ordered >= int(asked_at + lead) - 0.5, "ordered %.1f s before the window" % (int(asked_at + lead) - ordered)
    assert ordered < not_after(cert) - 300 * 86400  # long before the normal schedule
    out = g.output()
    assert "the CA's renewalInfo suggests renewing the certificate for app.test between" in out
    assert "the CA explains the renewal window of the certificate for app.test: https://ca.test/why" in out
    # the new certificate is served and asked about in turn (its window a month ahead: no third order)
    renewed = wait_for(lambda: (lambda c: c if c and ari_cert_id(c) != cert_id else None)(acme_cert(websecure)),
                       timeout=10, what="the renewed certificate served")
    wait_for(lambda: ari_cert_id(renewed) in [i for _, i in answers.asked], timeout=10,
             what="renewalInfo asked about the new certificate")
    time.sleep(1)
    assert len(front.order_payloads) == 2 and g.output().count(ISSUED) == 2
    stop_clean(g)


def downloaded_id(front, i):
    """The identifier of the <i>th certificate the CA handed out (its chain's first certificate)."""
    return ari_cert_id(x509.load_pem_x509_certificate(front.chains[i]))


def test_window_past_renews_at_once(tmp_path, procs):
    """The window is over: renewed as soon as the answer arrives, replacing
    the certificate issued first (its identifier computed here from the
    chain the CA handed out: the renewal may be served before this test
    looks)."""
    answers = Windows(lambda now: window(now - 7200, now - 3600))
    front, g, websecure = start(tmp_path, procs, answers)
    wait_for(lambda: g.output().count(ISSUED) == 2, timeout=60, what="renewed at once:\n" + g.output()[-3000:])
    first_id = downloaded_id(front, 0)
    assert answers.first_id == first_id
    assert "replaces" not in front.order_payloads[0]
    assert front.order_payloads[1]["replaces"] == first_id, front.order_payloads
    assert "renewal now" in g.output()
    renewed = wait_for(lambda: (lambda c: c if c and ari_cert_id(c) != first_id else None)(acme_cert(websecure)),
                       timeout=10, what="the renewed certificate served")
    assert ari_cert_id(renewed) == downloaded_id(front, 1)
    wait_for(lambda: ari_cert_id(renewed) in [i for _, i in answers.asked], timeout=10,
             what="renewalInfo asked about the new certificate")
    time.sleep(1)
    assert len(front.order_payloads) == 2, front.order_payloads  # its window is a month ahead
    stop_clean(g)


def test_malformed_answer_keeps_the_normal_schedule(tmp_path, procs):
    """A 21-second certificate: a third of it left (7 s) by the normal
    schedule. Every renewalInfo answer is malformed: said once per
    certificate in the log; the renewal comes on that schedule, not at once
    and not never."""
    def malformed(cert_id):
        return 200, [("Content-Type", "application/json")], b'{"suggestedWindow": {"start": "soon"}}'
    answers = Windows(lambda now: malformed(None))
    front, g, websecure = start(tmp_path, procs, answers, validity=21)
    cert, cert_id = first_certificate(g, websecure, answers)
    fallback = "renewalInfo for the certificate for app.test (%s): malformed answer" % cert_id
    wait_for(lambda: fallback in g.output(), timeout=10, what="the fallback logged:\n" + g.output()[-3000:])
    # a third of the certificate's own lifetime before its end (pebble's notBefore is a second early: 20 s)
    due = not_after(cert) - (not_after(cert) - calendar.timegm(cert.not_valid_before.utctimetuple())) // 3
    assert "the normal schedule applies (renewal from %s)" % rfc3339(due) in g.output(), g.output()[-3000:]
    wait_for(lambda: g.output().count(ISSUED) == 2, timeout=40, what="renewed on schedule:\n" + g.output()[-3000:])
    ordered = wall(front, front.new_orders[1][0])
    assert ordered >= due - 1.5, "renewed %.1f s before the normal schedule" % (due - ordered)
    assert front.order_payloads[1].get("replaces") == cert_id  # still the predecessor
    assert g.output().count(fallback) == 1
    stop_clean(g)


def test_refused_replaces_orders_again_without_it(tmp_path, procs):
    answers = Windows(lambda now: window(now - 7200, now - 3600))
    front, g, websecure = start(tmp_path, procs, answers, refuse_replaces=True)
    wait_for(lambda: g.output().count(ISSUED) == 2, timeout=60, what="renewed:\n" + g.output()[-3000:])
    cert_id = downloaded_id(front, 0)
    assert answers.first_id == cert_id
    payloads = front.order_payloads
    assert len(payloads) == 3, payloads
    assert "replaces" not in payloads[0]
    assert payloads[1]["replaces"] == cert_id
    assert "replaces" not in payloads[2] and payloads[2]["identifiers"] == payloads[1]["identifiers"]
    assert "ordering again without \"replaces\"" in g.output()
    renewed = wait_for(lambda: (lambda c: c if c and ari_cert_id(c) != cert_id else None)(acme_cert(websecure)),
                       timeout=10, what="the new certificate served")
    assert ari_cert_id(renewed) == downloaded_id(front, 1)
    stop_clean(g)


def test_kubernetes_storage_only_the_issuer_asks_and_renews(tmp_path, procs, emu):
    """Two replicas sharing Secrets: the Lease holder alone asks renewalInfo
    and renews (with "replaces"); the renewed certificate reaches its Secret
    and both replicas serve it."""
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (scripts/deps.sh test)")
    up = procs.whoami()
    held = [socket.socket() for _ in range(8)]
    for h in held:
        h.bind(("127.0.0.1", 0))
    lb, lb_tls, a_web, a_tls, a_admin, b_web, b_tls, b_admin = [h.getsockname()[1] for h in held]
    try:
        pebble = procs.add(Pebble(tmp_path / "pebble", lb, lb_tls, validity=YEAR))
    finally:
        for h in held:
            h.close()
    answers = Windows(lambda now: window(now - 7200, now - 3600))
    front = procs.add(AcmeFront(pebble, renewal_info=answers))
    procs.add(Balancer(tmp_path, lb, [a_web, b_web], [a_admin, b_admin]))
    a = Replica(procs, tmp_path, "a", emu, Via(pebble, front), up, ports=(a_web, a_tls, a_admin))
    b = Replica(procs, tmp_path, "b", emu, Via(pebble, front), up, ports=(b_web, b_tls, b_admin))
    leader = leader_of(emu, a, b)
    other = b if leader is a else a
    wait_for(lambda: len(front.chains) >= 2 and len(answers.asked) >= 2, timeout=90,
             what="issued, renewed and asked about:\n" + leader.output()[-3000:])
    first_id, second_id = downloaded_id(front, 0), downloaded_id(front, 1)
    assert [i for _, i in answers.asked][:2] == [first_id, second_id], answers.asked
    assert "replaces" not in front.order_payloads[0]
    assert front.order_payloads[1]["replaces"] == first_id, front.order_payloads

    def secret_id():
        sec = cert_secret(emu)
        pem = base64.b64decode(sec["data"]["tls.crt"]) if sec else None
        return pem and ari_cert_id(x509.load_pem_x509_certificate(pem))
    wait_for(lambda: secret_id() == second_id, timeout=10, what="the renewed certificate in its Secret")
    for r in (a, b):
        wait_for(lambda: (lambda c: c and ari_cert_id(c) == second_id)(acme_cert(r.websecure)), timeout=10,
                 what="replica %s serves the renewed certificate" % r.name)
    assert "asking the CA's renewalInfo" in leader.output()
    assert "asking the CA's renewalInfo" not in other.output()
    assert len(front.order_payloads) == 2, front.order_payloads
    stop_clean(other.proc)
    stop_clean(leader.proc)
