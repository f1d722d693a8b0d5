"""`gantry migrate ingress-nginx`: the migration report for real-world
ingress-nginx Ingresses, from manifests (--file, YAML and JSON) and from a
cluster (the API-server emulator, written with the real kubectl, read
through KUBECONFIG as the provider does): per Ingress served or not, per
annotation honoured / differs / refused / ignored, counts, and the exit
status (1 when an Ingress would not be served)."""
import json
import os
import re
import shutil
import subprocess
import textwrap

import pytest

from conftest import GANTRY_BIN
from k8s_emulator import Emulator, kubeconfig
from tls_certs import make_cert

MANIFESTS = textwrap.dedent("""\
    apiVersion: networking.k8s.io/v1
    kind: IngressClass
    metadata: {name: nginx}
    spec: {controller: k8s.io/ingress-nginx}
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: shop
      namespace: web
      annotations:
        cert-manager.io/cluster-issuer: letsencrypt
        nginx.ingress.kubernetes.io/ssl-redirect: "true"
        nginx.ingress.kubernetes.io/proxy-body-size: 8m
        nginx.ingress.kubernetes.io/rewrite-target: /$2
        nginx.ingress.kubernetes.io/use-regex: "true"
        nginx.ingress.kubernetes.io/enable-cors: "true"
        nginx.ingress.kubernetes.io/limit-rps: "20"
        nginx.ingress.kubernetes.io/proxy-buffer-size: 16k
    spec:
      ingressClassName: nginx
      tls: [{hosts: [shop.example.com], secretName: shop-tls}]
      rules:
      - host: shop.example.com
        http:
          paths:
          - {path: /api(/|$)(.*), pathType: ImplementationSpecific, backend: {service: {name: api, port: {number: 80}}}}
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: dash
      namespace: web
      annotations:
        nginx.ingress.kubernetes.io/auth-url: "http://oauth2-proxy.auth.svc.cluster.local/oauth2/auth"
        nginx.ingress.kubernetes.io/auth-signin: "https://auth.example.com/oauth2/start?rd=$escaped_request_uri"
        nginx.ingress.kubernetes.io/whitelist-source-range: "10.0.0.0/8, 192.168.0.0/16"
        nginx.ingress.kubernetes.io/affinity: cookie
    spec:
      ingressClassName: nginx
      rules:
      - host: dash.example.com
        http:
          paths:
          - {path: /, pathType: Prefix, backend: {service: {name: dash, port: {name: http}}}}
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: legacy
      namespace: web
      annotations:
        kubernetes.io/ingress.class: nginx
        nginx.ingress.kubernetes.io/configuration-snippet: |
          more_set_headers "X-Frame-Options: DENY";
    spec:
      rules:
      - host: legacy.example.com
        http:
          paths:
          - {path: /, pathType: Prefix, backend: {service: {name: legacy, port: {number: 8080}}}}
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: mtls
      namespace: web
      annotations:
        nginx.ingress.kubernetes.io/auth-tls-verify-client: "on"
        nginx.ingress.kubernetes.io/auth-tls-secret: web/ca
    spec:
      ingressClassName: nginx
      rules:
      - host: mtls.example.com
        http:
          paths:
          - {path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: shop-canary
      namespace: web
      annotations:
        nginx.ingress.kubernetes.io/canary: "true"
        nginx.ingress.kubernetes.io/canary-weight: "10"
    spec:
      ingressClassName: nginx
      rules:
      - host: shop.example.com
        http:
          paths:
          - {path: /api(/|$)(.*), pathType: ImplementationSpecific, backend: {service: {name: api-v2, port: {number: 80}}}}
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: mine
      namespace: web
    spec:
      ingressClassName: traefik
      rules:
      - host: other.example.com
        http:
          paths:
          - {path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}
    """)


def migrate(*args, env=None):
    r = subprocess.run([GANTRY_BIN, "migrate", "ingress-nginx"] + list(args), capture_output=True, timeout=60,
                       env=dict(os.environ, **(env or {})))
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def verdicts(report):
    """{"ns/name": (headline, {annotation: (verdict, why)})}"""
    out, cur = {}, None
    for line in report.splitlines():
        m = re.match(r"^(\S+/\S+): (.*)$", line)
        if m:
            cur = m.group(1)
            out[cur] = (m.group(2), {})
            continue
        m = re.match(r"^  (honoured|differs|refused|ignored|problem)\s+(\S+?)(?::\s*(.*))?$", line)
        if m and cur:
            out[cur][1][m.group(2)] = (m.group(1), m.group(3) or "")
    return out


def check_report(report):
    v = verdicts(report)
    P = "nginx.ingress.kubernetes.io/"
    shop, anns = v["web/shop"]
    assert shop == "served"
    assert anns[P + "ssl-redirect"][0] == "differs" and "308" in anns[P + "ssl-redirect"][1]
    assert anns[P + "proxy-body-size"][0] == "honoured"
    assert anns[P + "rewrite-target"][0] == "honoured"
    assert anns[P + "use-regex"][0] == "differs"
    assert anns[P + "enable-cors"][0] == "honoured"
    assert anns[P + "limit-rps"][0] == "differs" and "429" in anns[P + "limit-rps"][1]
    assert anns[P + "proxy-buffer-size"][0] == "ignored" and "Event" in anns[P + "proxy-buffer-size"][1]
    assert "cert-manager.io/cluster-issuer" not in anns  # only ingress-nginx's annotations are judged
    dash, anns = v["web/dash"]
    assert dash == "served"
    assert anns[P + "auth-url"][0] == "differs"
    assert anns[P + "auth-signin"][0] == "honoured", anns[P + "auth-signin"]
    assert anns[P + "whitelist-source-range"][0] == "honoured"
    assert anns[P + "affinity"][0] == "differs"
    legacy, anns = v["web/legacy"]
    assert legacy.startswith("NOT SERVED") and "never executed" in legacy
    assert anns[P + "configuration-snippet"][0] == "refused"
    mtls, anns = v["web/mtls"]
    assert mtls.startswith("NOT SERVED") and "restricts access" in mtls
    assert anns[P + "auth-tls-verify-client"][0] == "refused"
    assert v["web/shop-canary"][0].startswith("served (a canary")
    assert "web/mine" not in v
    assert ("5 Ingresses of ingress-nginx's class: 3 served, 2 not served" in report
            and "1 Ingresses of other classes left out" in report), report


def test_migrate_from_manifest_files(tmp_path):
    yml = tmp_path / "ingresses.yaml"
    yml.write_text(MANIFESTS)
    rc, out, err = migrate("--file=%s" % yml)
    assert rc == 1, (out, err)  # two Ingresses would not be served
    check_report(out)
    # the same objects as a JSON List (kubectl get -o json)
    import yaml
    docs = [d for d in yaml.safe_load_all(MANIFESTS) if d]
    js = tmp_path / "list.json"
    js.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
    rc2, out2, _ = migrate("--file=%s" % js)
    assert rc2 == 1 and verdicts(out2) == verdicts(out)
    # allowUnsafeAnnotations serves the mTLS one without its client certificates; the snippet stays refused
    rc3, out3, _ = migrate("--file=%s" % yml, "--allowUnsafeAnnotations")
    v3 = verdicts(out3)
    assert v3["web/mtls"][0] == "served" and v3["web/mtls"][1]["nginx.ingress.kubernetes.io/auth-tls-secret"][0] == "ignored"
    assert v3["web/legacy"][0].startswith("NOT SERVED") and rc3 == 1
    # only served ones: exit 0
    only = tmp_path / "only.yaml"
    only.write_text(MANIFESTS.split("---\n")[0] + "---\n" + MANIFESTS.split("---\n")[1])
    rc4, out4, _ = migrate("--file=%s" % only)
    assert rc4 == 0 and "1 served, 0 not served" in out4, out4
    # errors: a broken file, an unknown option
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Ingress\nmetadata: {name: [\n")
    rc5, _, err5 = migrate("--file=%s" % bad)
    assert rc5 == 2 and "bad.yaml" in err5
    rc6, _, err6 = migrate("--bogus")
    assert rc6 == 2 and "unknown option --bogus" in err6


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_migrate_reads_the_cluster_through_kubeconfig(tmp_path):
    d = str(tmp_path)
    cert, key = make_cert(d, "apiserver", ["localhost"], ips=["127.0.0.1"])
    emu = Emulator(cert=cert, key=key).start()
    try:
        kc = kubeconfig(d + "/kubeconfig", emu, d + "/ca.crt")
        env = dict(os.environ, KUBECONFIG=kc)
        services = "".join("""---
apiVersion: v1
kind: Service
metadata: {name: %s, namespace: web}
spec:
  ports: [{name: http, port: %d}]
""" % (n, p) for n, p in (("api", 80), ("api-v2", 80), ("dash", 80), ("legacy", 8080)))
        r = subprocess.run(["kubectl", "apply", "--validate=false", "-f", "-"], input=(MANIFESTS + services).encode(),
                           env=env, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr.decode()
        rc, out, err = migrate(env={"KUBECONFIG": kc})
        assert rc == 1, (out, err)
        check_report(out)
        # the same connection options as the provider's
        rc2, out2, _ = migrate("--endpoint=" + emu.url, "--token=" + emu.token, "--certAuthFilePath=" + d + "/ca.crt",
                               env={"KUBECONFIG": ""})
        assert rc2 == 1 and verdicts(out2) == verdicts(out)
        rc3, _, err3 = migrate("--endpoint=" + emu.url, "--token=wrong", "--certAuthFilePath=" + d + "/ca.crt",
                               env={"KUBECONFIG": ""})
        assert rc3 == 2 and "401" in err3
    finally:
        emu.stop()


CONFIG_MAP = textwrap.dedent("""\
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
    data:
      whitelist-source-range: "10.0.0.0/8"
      hsts-max-age: "600"
      use-gzip: "true"
    """)

PASSTHROUGH = textwrap.dedent("""\
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: vault
      namespace: web
      annotations: {nginx.ingress.kubernetes.io/ssl-passthrough: "true"}
    spec:
      ingressClassName: nginx
      rules:
      - host: vault.example.com
        http:
          paths:
          - {path: /, pathType: Prefix, backend: {service: {name: vault, port: {number: 443}}}}
    """)

CM = "--configMap=ingress-nginx/ingress-nginx-controller"


def config_lines(report):
    """{key: (verdict, why)} of the ConfigMap block, and its headline."""
    head, keys, inside = None, {}, False
    for line in report.splitlines():
        if line.startswith("ConfigMap "):
            head, inside = line, True
            continue
        m = re.match(r"^  (honoured|differs|refused|ignored)\s+(\S+?)(?::\s*(.*))?$", line)
        if inside and m:
            keys[m.group(2)] = (m.group(1), m.group(3) or "")
        elif not line.startswith("  "):
            inside = False
    return head, keys


def test_migrate_config_map_and_ssl_passthrough_flags(tmp_path):
    yml = tmp_path / "all.yaml"
    yml.write_text(MANIFESTS + CONFIG_MAP + PASSTHROUGH)
    P = "nginx.ingress.kubernetes.io/"
    # without the flags: the ConfigMap in the files is not read, ssl-passthrough is ignored (as the provider)
    rc, out, err = migrate("--file=%s" % yml)
    assert rc == 1, (out, err)
    assert "ConfigMap " not in out
    assert verdicts(out)["web/vault"][1][P + "ssl-passthrough"][0] == "ignored"
    # --enableSSLPassthrough: honoured, with its difference
    rc, out, err = migrate("--file=%s" % yml, "--enableSSLPassthrough")
    assert verdicts(out)["web/vault"][1][P + "ssl-passthrough"][0] == "differs", out
    # --configMap: its keys key by key; the annotations' checks as before
    yml = tmp_path / "with-config-map.yaml"
    yml.write_text(MANIFESTS + CONFIG_MAP)
    rc, out, err = migrate("--file=%s" % yml, CM)
    assert rc == 1, (out, err)
    head, keys = config_lines(out)
    assert head == "ConfigMap ingress-nginx/ingress-nginx-controller: read (its keys are the defaults of every nginx Ingress)"
    assert keys["whitelist-source-range"] == ("honoured", "") and keys["hsts-max-age"] == ("honoured", "")
    assert keys["use-gzip"][0] == "ignored", keys
    check_report(out)
    # a ConfigMap key refusing every nginx Ingress: said in the ConfigMap block and on each Ingress
    refusing = tmp_path / "refusing.yaml"
    refusing.write_text(MANIFESTS + CONFIG_MAP + '  block-cidrs: "192.0.2.0/24"\n  hsts: "maybe"\n')
    rc, out, err = migrate("--file=%s" % refusing, CM)
    assert rc == 1
    head, keys = config_lines(out)
    assert "EVERY nginx Ingress NOT SERVED" in head and "key block-cidrs restricts access" in head, head
    assert keys["block-cidrs"][0] == "refused" and keys["hsts"][0] == "refused", keys
    assert "`maybe` is not a boolean" in keys["hsts"][1]
    v = verdicts(out)
    assert v["web/dash"][0] == ("NOT SERVED: ConfigMap ingress-nginx/ingress-nginx-controller key block-cidrs restricts "
                                "access and is not implemented by gantry (providers.kubernetesIngressNGINX."
                                "allowUnsafeAnnotations=true serves without it)"), v["web/dash"][0]
    assert "0 served, 5 not served" in out
    # an invalid value of an honoured key: the Ingresses using it (without the annotation) are not served
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text(MANIFESTS + CONFIG_MAP.replace("10.0.0.0/8", "10.0.0.0/33"))
    rc, out, _ = migrate("--file=%s" % invalid, CM)
    head, keys = config_lines(out)
    assert keys["whitelist-source-range"][0] == "refused" and "10.0.0.0/33" in keys["whitelist-source-range"][1]
    v = verdicts(out)
    assert v["web/shop"][0].startswith("NOT SERVED: ConfigMap ingress-nginx/ingress-nginx-controller key "
                                       "whitelist-source-range: `10.0.0.0/33`"), v["web/shop"][0]
    assert v["web/dash"][0] == "served"  # its own annotation overrides the key
    # another name: not found, ingress-nginx's defaults
    rc, out, _ = migrate("--file=%s" % yml, "--configMap=ingress-nginx/other")
    assert config_lines(out)[0] == "ConfigMap ingress-nginx/other: not found: ingress-nginx's defaults apply"
    check_report(out)
    for bad in ("--configMap=justaname", "--configMap=a/b/c", "--configMap=/x", "--configMap=NS/x"):
        rc, _, err = migrate("--file=%s" % yml, bad)
        assert rc == 2 and "is not namespace/name" in err, (bad, err)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_migrate_reads_the_config_map_from_the_cluster(tmp_path):
    d = str(tmp_path)
    cert, key = make_cert(d, "apiserver", ["localhost"], ips=["127.0.0.1"])
    emu = Emulator(cert=cert, key=key).start()
    try:
        kc = kubeconfig(d + "/kubeconfig", emu, d + "/ca.crt")
        env = dict(os.environ, KUBECONFIG=kc)
        ns = "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ingress-nginx}\n"
        r = subprocess.run(["kubectl", "apply", "--validate=false", "-f", "-"],
                           input=(MANIFESTS + ns + CONFIG_MAP + '  block-cidrs: "192.0.2.0/24"\n').encode(),
                           env=env, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr.decode()
        rc, out, err = migrate(CM, env={"KUBECONFIG": kc})
        assert rc == 1, (out, err)
        head, keys = config_lines(out)
        assert "EVERY nginx Ingress NOT SERVED" in head, out
        assert keys["block-cidrs"][0] == "refused" and keys["whitelist-source-range"][0] == "honoured"
        assert "0 served, 5 not served" in out
        # absent from the cluster: ingress-nginx's defaults, as the provider
        rc, out, err = migrate("--configMap=ingress-nginx/other", env={"KUBECONFIG": kc})
        assert config_lines(out)[0] == "ConfigMap ingress-nginx/other: not found: ingress-nginx's defaults apply", out
        assert "block-cidrs" not in out and "NOT SERVED: ConfigMap" not in out, out
    finally:
        emu.stop()
