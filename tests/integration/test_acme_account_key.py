"""The ACME account key and Traefik's acme.json, against Debian's pebble.
Traefik makes RSA 4096 account keys and stores them as PKCS#1 DER in
base64 (x509.MarshalPKCS1PrivateKey), and reads nothing else back: a new
gantry account is made the same way, so acme.json moves both ways. An
account file as Traefik writes it (RSA, PKCS#1) and one with an EC P-256
key (SEC1, as gantry wrote before) are both read and used: the first run
registers that key, the next signs with the stored account URL alone, and
pebble, which verifies every request against the account's key, issues."""
import base64
import json
import os
import shutil
import subprocess

import pytest

from conftest import free_port, run, wait_for
from test_acme import Pebble, fixed_ports_gantry, issued, served_by_sni

pytestmark = pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble is not installed (scripts/deps.sh test)")


def der_of(doc):
    return base64.b64decode(doc["pebble"]["Account"]["PrivateKey"])


def public_pem(der, tmp):
    path = os.path.join(str(tmp), "k.der")
    with open(path, "wb") as f:
        f.write(der)
    return run(["openssl", "pkey", "-inform", "DER", "-in", path, "-pubout"]).stdout


def test_new_account_key_is_traefiks_rsa4096_pkcs1(tmp_path, procs):
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure)
    wait_for(issued(g, "app.test"), timeout=90, what="issued:\n" + g.output()[-3000:])
    assert "new RSA4096 account key for" in g.output()
    doc = json.loads((tmp_path / "acme.json").read_text())
    acct = doc["pebble"]["Account"]
    assert acct["Registration"]["uri"].startswith("https://127.0.0.1:%d/" % pebble.port)
    assert acct["KeyType"] == "4096"
    der = der_of(doc)
    path = tmp_path / "k.der"
    path.write_bytes(der)
    # PKCS#1 RSAPrivateKey: a SEQUENCE of INTEGERs (version, modulus, ...); PKCS#8 would have an AlgorithmIdentifier
    asn1 = run(["openssl", "asn1parse", "-inform", "DER", "-in", str(path)]).stdout.decode().splitlines()
    assert "SEQUENCE" in asn1[0] and all("d=1" in l and "INTEGER" in l for l in asn1[1:10]), asn1[:10]
    text = run(["openssl", "rsa", "-inform", "DER", "-in", str(path), "-noout", "-text"]).stdout.decode()
    assert "Private-Key: (4096 bit" in text, text[:200]
    assert oct(os.stat(tmp_path / "acme.json").st_mode & 0o777) == "0o600"


def make_key(kind, tmp):
    """A key as Traefik (RSA, PKCS#1 DER) or gantry before (EC P-256, SEC1 DER) stored it."""
    pem = os.path.join(str(tmp), "acct.pem")
    der = os.path.join(str(tmp), "acct.der")
    if kind == "rsa":  # Traefik's size is 4096; any size reads the same, 2048 is made faster
        run(["openssl", "genrsa", "-traditional", "-out", pem, "2048"])
        run(["openssl", "rsa", "-in", pem, "-outform", "DER", "-traditional", "-out", der])
    else:
        run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-outform", "DER", "-out", der])
    with open(der, "rb") as f:
        return f.read()


@pytest.mark.parametrize("kind,alg,key_type", [("rsa", "RS256", "4096"), ("ec", "ES256", "P256")])
def test_traefik_account_file_is_read_and_used(tmp_path, procs, kind, alg, key_type):
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    der = make_key(kind, tmp_path)
    store = tmp_path / "acme.json"
    # Traefik v3's acme.json before its first registration: the key, no Registration yet
    store.write_text(json.dumps({"pebble": {"Account": {"Email": "ops@example.test", "Registration": None,
                                                         "PrivateKey": base64.b64encode(der).decode(), "KeyType": key_type},
                                             "Certificates": None}}, indent=2))
    os.chmod(store, 0o600)
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure)
    wait_for(issued(g, "app.test"), timeout=60, what="issued:\n" + g.output()[-3000:])
    out = g.output()
    assert "reusing the stored account (URL to be found) (%s key)" % alg in out, out[-3000:]
    assert "account key for" not in out  # no new key was made
    doc = json.loads(store.read_text())
    uri = doc["pebble"]["Account"]["Registration"]["uri"]
    assert uri.startswith("https://127.0.0.1:%d/my-account/" % pebble.port)
    assert public_pem(der_of(doc), tmp_path) == public_pem(der, tmp_path)  # the account is that key's
    g.stop()

    # Traefik v3's acme.json of a registered account, without certificates:
    # the stored URL is used as is (no newAccount), with the stored key
    store.write_text(json.dumps({"pebble": {"Account": {
        "Email": "ops@example.test",
        "Registration": {"body": {"status": "valid", "contact": ["mailto:ops@example.test"]}, "uri": uri},
        "PrivateKey": base64.b64encode(der).decode()}, "Certificates": []}}, indent=2))
    os.chmod(store, 0o600)
    g2 = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure)
    wait_for(issued(g2, "app.test"), timeout=60, what="issued again:\n" + g2.output()[-3000:])
    out = g2.output()
    assert "reusing the stored account %s (%s key)" % (uri, alg) in out, out[-3000:]
    assert "acme: resolver pebble: account https://" not in out  # no newAccount round
    assert json.loads(store.read_text())["pebble"]["Account"]["Registration"]["uri"] == uri
    root = pebble.root()
    wait_for(lambda: served_by_sni(websecure, "app.test", root), timeout=10, what="served by SNI")
