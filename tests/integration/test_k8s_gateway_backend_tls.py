"""BackendTLSPolicy (gateway.networking.k8s.io/v1, the Gateway API v1.4.1
CRD shipped in manifests/gateway-api/, read with experimentalChannel)
against the API emulator with the real kubectl and a real TLS backend
(python3-h2 with a certificate from the real openssl CLI), named after the
conformance tests they mirror (kubernetes-sigs/gateway-api
conformance/tests/backendtlspolicy*.go). The fixtures are those of
test_k8s_gateway.py.
"""
import os

from conftest import get, wait_for
from h2_peers import H2Upstream
from test_k8s_gateway import GATEWAY, INFRA_NS, cluster, infra_route, emu, gantry  # noqa: F401 (fixtures)
from tls_certs import make_ca, make_cert

GW = "same-namespace"


def ca_configmap(cluster, name, ca_file):
    cluster.emu.apply({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": name, "namespace": INFRA_NS},
                       "data": {"ca.crt": open(ca_file).read()}})


def tls_upstream(tmp_path, crt, key):
    """The TLS backend infra-backend-v1 serving <crt>, the SNIs it is sent,
    and the certificate of another CA (in tmp_path/other) that did not sign it."""
    other = tmp_path / "other"
    other.mkdir()
    _, other_ca = make_ca(str(other))
    up = H2Upstream("infra-backend-v1", tls_files=(crt, key))
    snis = []
    up.ctx.sni_callback = lambda sock, name, ctx: snis.append(name)
    return up, snis, other_ca


def ca_configmaps(cluster, tmp_path, other_ca):
    """backend-tls-checks-certificate: the tests' CA; backend-tls-other-ca: <other_ca>."""
    ca_configmap(cluster, "backend-tls-checks-certificate", os.path.join(str(tmp_path), "ca.crt"))
    ca_configmap(cluster, "backend-tls-other-ca", str(other_ca))


def route(name, path, backend):
    return infra_route(name, path, backend, 443)


def policy(name, service, hostname, configmap):
    return """\
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: %s, namespace: %s}
spec:
  targetRefs: [{group: "", kind: Service, name: %s, sectionName: btls}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: %s}]
    hostname: %s
""" % (name, INFRA_NS, service, configmap, hostname)


def policy_condition(cluster, name, ctype):
    for a in cluster.status("BackendTLSPolicy", name, INFRA_NS).get("ancestors", []):
        if a.get("controllerName") == "gantry.io/gateway-controller" and a["ancestorRef"]["name"] == GW:
            for c in a.get("conditions", []):
                if c["type"] == ctype:
                    return c
    return None


def must_have(cluster, name, ctype, status, reason):
    c = wait_for(lambda: (policy_condition(cluster, name, ctype) or {}).get("reason") == reason
                 and policy_condition(cluster, name, ctype), timeout=10, what="%s %s %s" % (name, ctype, reason))
    assert c["status"] == status, c
    assert c["observedGeneration"] == cluster.emu.get("BackendTLSPolicy", INFRA_NS, name)["metadata"]["generation"], c
    return c


def test_BackendTLSPolicy(tmp_path, procs, cluster):
    """A backend that speaks only TLS, with a certificate for
    abc.example.com from a test CA: through a policy naming that CA (a
    ConfigMap's ca.crt) and hostname, gantry dials it with TLS, SNI
    abc.example.com, and verifies it (200); a policy whose hostname the
    certificate does not carry (host-mismatch), or whose CA did not sign
    it (cert-mismatch), makes the request fail (502), never falling back
    to plaintext. The policies are Accepted/ResolvedRefs for the Gateway."""
    crt, key = make_cert(str(tmp_path), "abc.example.com", ["abc.example.com"])
    up, snis, other_ca = tls_upstream(tmp_path, crt, key)
    try:
        for svc in ("infra-backend-v1", "infra-backend-v2", "infra-backend-v3"):
            cluster.service(svc, [("btls", 443, up.port, None)], INFRA_NS)
        ca_configmaps(cluster, tmp_path, other_ca)
        g = gantry(procs, tmp_path, cluster.emu, args=["--providers.kubernetesGateway.experimentalChannel=true"])
        cluster.apply("---\n".join([
            GATEWAY,
            route("backendtlspolicy", "/backendtlspolicy", "infra-backend-v1"),
            route("backendtlspolicy-host-mismatch", "/backendtlspolicy-host-mismatch", "infra-backend-v2"),
            route("backendtlspolicy-cert-mismatch", "/backendtlspolicy-cert-mismatch", "infra-backend-v3"),
            policy("normative-test-backendtlspolicy", "infra-backend-v1", "abc.example.com", "backend-tls-checks-certificate"),
            policy("backendtlspolicy-host-mismatch", "infra-backend-v2", "mismatch.example.com", "backend-tls-checks-certificate"),
            policy("backendtlspolicy-cert-mismatch", "infra-backend-v3", "abc.example.com", "backend-tls-other-ca")]))
        for p in ("normative-test-backendtlspolicy", "backendtlspolicy-host-mismatch", "backendtlspolicy-cert-mismatch"):
            must_have(cluster, p, "Accepted", "True", "Accepted")
            must_have(cluster, p, "ResolvedRefs", "True", "ResolvedRefs")
        wait_for(lambda: get(g.port, "/backendtlspolicy", "abc.example.com")[0] == 200, timeout=10, what="served over TLS")
        status, _, body = get(g.port, "/backendtlspolicy", "abc.example.com")
        assert status == 200 and b"infra-backend-v1" in body, (status, body)
        assert "abc.example.com" in snis, snis
        before = len(snis)
        assert get(g.port, "/backendtlspolicy-host-mismatch", "abc.example.com")[0] == 502
        assert "mismatch.example.com" in snis[before:], snis  # the policy's hostname is the SNI
        assert get(g.port, "/backendtlspolicy-cert-mismatch", "abc.example.com")[0] == 502
        assert up.h1_requests + up.streams >= 1
    finally:
        up.stop()


def test_BackendTLSPolicyInvalidCACertificateRef_and_BackendTLSPolicyInvalidKind(tmp_path, procs, cluster):
    """A policy whose CA ConfigMap does not exist, or holds no certificate,
    or whose caCertificateRef has a kind gantry does not support: Accepted
    False (NoValidCACertificate), ResolvedRefs False
    (InvalidCACertificateRef / InvalidKind), and its backends answer 500
    without being dialed. Creating the missing ConfigMap makes the first
    one valid and served over TLS."""
    crt, key = make_cert(str(tmp_path), "abc.example.com", ["abc.example.com"])
    up = H2Upstream("infra-backend-v1", tls_files=(crt, key))
    dialed = []
    up.ctx.sni_callback = lambda sock, name, ctx: dialed.append(name)
    try:
        for svc in ("infra-backend-v1", "infra-backend-v2", "infra-backend-v3"):
            cluster.service(svc, [("btls", 443, up.port, None)], INFRA_NS)
        cluster.emu.apply({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "malformed", "namespace": INFRA_NS},
                           "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"}})
        g = gantry(procs, tmp_path, cluster.emu, args=["--providers.kubernetesGateway.experimentalChannel=true"])
        cluster.apply("---\n".join([
            GATEWAY,
            route("backendtlspolicy-nonexistent-ca-certificate-ref", "/backendtlspolicy-nonexistent-ca-certificate-ref",
                  "infra-backend-v1"),
            route("backendtlspolicy-malformed-ca-certificate-ref", "/backendtlspolicy-malformed-ca-certificate-ref",
                  "infra-backend-v2"),
            route("backendtlspolicy-invalid-kind", "/backendtlspolicy-invalid-kind", "infra-backend-v3"),
            policy("nonexistent-ca-certificate-ref", "infra-backend-v1", "abc.example.com", "nonexistent"),
            policy("malformed-ca-certificate-ref", "infra-backend-v2", "abc.example.com", "malformed"),
            policy("invalid-kind", "infra-backend-v3", "abc.example.com", "x").replace(
                '{group: "", kind: ConfigMap, name: x}', "{group: invalid.io, kind: InvalidKind, name: invalid-kind}")]))
        for p in ("nonexistent-ca-certificate-ref", "malformed-ca-certificate-ref"):
            must_have(cluster, p, "Accepted", "False", "NoValidCACertificate")
            must_have(cluster, p, "ResolvedRefs", "False", "InvalidCACertificateRef")
        must_have(cluster, "invalid-kind", "Accepted", "False", "NoValidCACertificate")
        must_have(cluster, "invalid-kind", "ResolvedRefs", "False", "InvalidKind")
        assert cluster.route_condition("backendtlspolicy-invalid-kind", "Accepted", ns=INFRA_NS)["status"] == "True"
        for path in ("/backendtlspolicy-nonexistent-ca-certificate-ref", "/backendtlspolicy-malformed-ca-certificate-ref",
                     "/backendtlspolicy-invalid-kind"):
            wait_for(lambda: get(g.port, path, "abc.example.com")[0] == 500, what="500 on " + path)
        assert dialed == [] and up.h1_requests == 0 and up.streams == 0  # never dialed, in TLS or plaintext
        ca_configmap(cluster, "nonexistent", os.path.join(str(tmp_path), "ca.crt"))
        wait_for(lambda: get(g.port, "/backendtlspolicy-nonexistent-ca-certificate-ref", "abc.example.com")[0] == 200,
                 timeout=10, what="served once the ConfigMap exists")
        must_have(cluster, "nonexistent-ca-certificate-ref", "Accepted", "True", "Accepted")
    finally:
        up.stop()


def san_policy(name, service, hostname, configmap, sans):
    entries = ", ".join("{type: URI, uri: \"%s\"}" % v[4:] if v.startswith("URI:") else "{type: Hostname, hostname: %s}" % v
                        for v in sans)
    return policy(name, service, hostname, configmap) + "    subjectAltNames: [%s]\n" % entries


def test_BackendTLSPolicySANValidation(tmp_path, procs, cluster):
    """subjectAltNames: the backend's certificate must carry one of them
    (then validation.hostname is only the SNI). A backend whose certificate
    names abc.example.com, other.example.com and a SPIFFE URI: a policy
    listing a Hostname or a URI it carries is served over TLS (200), even
    though neither is the policy's hostname; one listing only names it
    lacks fails (502), as does one whose CA did not sign it."""
    crt, key = make_cert(str(tmp_path), "abc.example.com", ["abc.example.com", "other.example.com"],
                         uris=["spiffe://cluster.local/ns/infra/sa/backend"])
    up, snis, other_ca = tls_upstream(tmp_path, crt, key)
    cases = {  # route/policy name: (subjectAltNames, CA configmap, expected status)
        "san-hostname": (["nope.example.com", "other.example.com"], "backend-tls-checks-certificate", 200),
        "san-uri": (["URI:spiffe://cluster.local/ns/infra/sa/backend"], "backend-tls-checks-certificate", 200),
        "san-mismatch": (["nope.example.com", "URI:spiffe://cluster.local/ns/infra/sa/other"], "backend-tls-checks-certificate", 502),
        "san-wrong-ca": (["other.example.com"], "backend-tls-other-ca", 502),
    }
    try:
        docs = [GATEWAY]
        for name, (sans, cm, _) in cases.items():
            cluster.service("svc-" + name, [("btls", 443, up.port, None)], INFRA_NS)
            docs.append(route(name, "/" + name, "svc-" + name))
            docs.append(san_policy(name, "svc-" + name, "abc.example.com", cm, sans))
        ca_configmaps(cluster, tmp_path, other_ca)
        g = gantry(procs, tmp_path, cluster.emu, args=["--providers.kubernetesGateway.experimentalChannel=true"])
        cluster.apply("---\n".join(docs))
        for name in cases:
            must_have(cluster, name, "Accepted", "True", "Accepted")
        wait_for(lambda: get(g.port, "/san-hostname", "abc.example.com")[0] == 200, timeout=10, what="served over TLS")
        for name, (_, _, want) in cases.items():
            status, _, body = get(g.port, "/" + name, "abc.example.com")
            assert status == want, (name, status, body[:300])
        assert snis and set(snis) == {"abc.example.com"}, snis  # validation.hostname stays the SNI
    finally:
        up.stop()


def test_BackendTLSPolicy_ca_from_a_tls_secret(tmp_path, procs, cluster):
    """caCertificateRefs of kind Secret (Traefik reads them too): the
    ca.crt of a kubernetes.io/tls Secret, as cert-manager leaves it next to
    tls.crt/tls.key, verifies the backend; an Opaque Secret is not read
    (gantry watches TLS Secrets only) and refuses the policy, with the
    reason in its status, never plaintext."""
    import base64
    crt, key = make_cert(str(tmp_path), "abc.example.com", ["abc.example.com"])
    up, snis, _ = tls_upstream(tmp_path, crt, key)
    b64 = lambda path: base64.b64encode(open(path, "rb").read()).decode()  # noqa: E731
    try:
        for svc in ("infra-backend-v1", "infra-backend-v2"):
            cluster.service(svc, [("btls", 443, up.port, None)], INFRA_NS)
        ca = os.path.join(str(tmp_path), "ca.crt")
        cluster.emu.apply({"kind": "Secret", "apiVersion": "v1", "type": "kubernetes.io/tls",
                           "metadata": {"name": "issuer-ca", "namespace": INFRA_NS},
                           "data": {"tls.crt": b64(crt), "tls.key": b64(key), "ca.crt": b64(ca)}})
        cluster.emu.apply({"kind": "Secret", "apiVersion": "v1", "type": "Opaque",
                           "metadata": {"name": "opaque-ca", "namespace": INFRA_NS}, "data": {"ca.crt": b64(ca)}})
        g = gantry(procs, tmp_path, cluster.emu, args=["--providers.kubernetesGateway.experimentalChannel=true"])
        cluster.apply("---\n".join([
            GATEWAY,
            route("by-secret", "/by-secret", "infra-backend-v1"),
            route("by-opaque", "/by-opaque", "infra-backend-v2"),
            policy("by-secret", "infra-backend-v1", "abc.example.com", "issuer-ca").replace("kind: ConfigMap", "kind: Secret"),
            policy("by-opaque", "infra-backend-v2", "abc.example.com", "opaque-ca").replace("kind: ConfigMap", "kind: Secret")]))
        must_have(cluster, "by-secret", "ResolvedRefs", "True", "ResolvedRefs")
        wait_for(lambda: get(g.port, "/by-secret", "abc.example.com")[0] == 200, timeout=10, what="served over TLS")
        assert "abc.example.com" in snis, snis
        c = must_have(cluster, "by-opaque", "ResolvedRefs", "False", "InvalidCACertificateRef")
        assert "Secret %s/opaque-ca does not exist (gantry reads Secrets of type kubernetes.io/tls)" % INFRA_NS in c["message"], c
        assert get(g.port, "/by-opaque", "abc.example.com")[0] == 500
    finally:
        up.stop()
