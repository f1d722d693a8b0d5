"""Traefik v3's certificate options of an ACME resolver against Debian's
pebble: keyType's default (RSA4096, Traefik's SetDefaults), the CSR's
disableCommonName and emailAddresses (pebble 2.4 checks the CSR's DNS names
against the order and accepts the email SANs; what the CSR carries is
checked by tests/unit/controller/acme_crypto.c), and profile refused with
an error naming it (pebble 2.4 advertises no profiles, and gantry does not
send one)."""
import base64
import json
import shutil

import pytest

from conftest import GANTRY_BIN, free_port, run, wait_for
from test_acme import Pebble, fixed_ports_gantry, issued, served_by_sni

needs_pebble = pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble is not installed (scripts/deps.sh test)")

OPT = "--certificatesResolvers.pebble.acme."


def key_bits(pem):
    """The key's type and size, as openssl prints them ("Private-Key: (4096 bit, 2 primes)")."""
    r = run(["openssl", "pkey", "-noout", "-text"], input=pem, check=False)
    return (r.stdout + r.stderr).decode().splitlines()[0]


def served_key(port, host, root):
    r = run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", host, "-CAfile", root,
             "-verify_return_error"], input=b"", check=False)
    cert = run(["openssl", "x509", "-noout", "-text"], input=r.stdout, check=False).stdout.decode()
    return cert


@needs_pebble
def test_default_key_type_is_rsa4096_and_the_csr_options_are_accepted(tmp_path, procs):
    """No keyType: the certificate's key is RSA 4096 bits. disableCommonName
    and emailAddresses change the CSR; pebble still issues (its CSR check
    passes) and the certificate is served."""
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, key_type=None,
                           extra=[OPT + "disableCommonName=true", OPT + "emailAddresses=ops@example.test,sec@example.test"])
    wait_for(issued(g, "app.test"), timeout=90, what="certificate issued:\n" + g.output()[-3000:])
    root = pebble.root()
    wait_for(lambda: served_by_sni(websecure, "app.test", root), timeout=10, what="served by SNI")
    doc = json.loads((tmp_path / "acme.json").read_text())
    cert = doc["pebble"]["Certificates"][0]
    assert "4096 bit" in key_bits(base64.b64decode(cert["key"])), key_bits(base64.b64decode(cert["key"]))
    text = served_key(websecure, "app.test", root)
    assert "rsaEncryption" in text and "Public-Key: (4096 bit)" in text, text
    assert "DNS:app.test" in text, text


@needs_pebble
def test_explicit_key_type_is_applied(tmp_path, procs):
    up = procs.whoami()
    web, websecure = free_port(), free_port()
    pebble = procs.add(Pebble(tmp_path / "pebble", web, websecure))
    g = fixed_ports_gantry(procs, tmp_path, pebble, up, web, websecure, key_type="EC384")
    wait_for(issued(g, "app.test"), timeout=60, what="certificate issued:\n" + g.output()[-3000:])
    root = pebble.root()
    wait_for(lambda: served_by_sni(websecure, "app.test", root), timeout=10, what="served by SNI")
    text = served_key(websecure, "app.test", root)
    assert "id-ecPublicKey" in text and "Public-Key: (384 bit)" in text, text


def test_profile_is_refused_naming_the_option(tmp_path):
    r = run([GANTRY_BIN, "--entryPoints.web.address=127.0.0.1:%d" % free_port(),
             "--certificatesResolvers.r.acme.httpChallenge.entryPoint=web",
             "--certificatesResolvers.r.acme.storage=" + str(tmp_path / "acme.json"),
             "--certificatesResolvers.r.acme.profile=tlsserver"], check=False, timeout=20)
    assert r.returncode != 0
    out = (r.stdout + r.stderr).decode()
    assert "certificatesResolvers.r.acme.profile" in out and "profiles are not supported by gantry" in out, out
