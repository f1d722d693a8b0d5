"""Static checks of the Kubernetes deployment files: manifests/ and the Helm
chart's templates parse as YAML and carry what a production deployment
needs (probes, non-root, read-only root filesystem, no privilege
escalation, dropped capabilities, resources, app.kubernetes.io labels), every
value in values.yaml is documented, and the RBAC rules grant exactly the
verbs on exactly the resources the Kubernetes provider's code uses.
"""
import os
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import ROOT

CHART = os.path.join(ROOT, "charts", "gantry")
MANIFESTS = os.path.join(ROOT, "manifests")


def strip_template(text):
    """The template with Go template actions replaced so that YAML can
    parse it: control lines dropped, include/toYaml lines turned into a
    placeholder mapping at their nindent, inline values into strings."""
    out = []
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r'^\{\{-?\s*include "gantry\.(labels|selectorLabels)" \. \| nindent (\d+)\s*-?\}\}$', s)
        if m:
            pad = " " * int(m.group(2))
            out.append(pad + "app.kubernetes.io/name: placeholder")
            out.append(pad + "app.kubernetes.io/instance: placeholder")
            continue
        if re.match(r"^\{\{-?.*-?\}\}$", s) and not re.match(r"^\{\{-?\s*(\.|include|printf|default)", s):
            continue  # if / end / with / range / toYaml | nindent: structure only
        out.append(re.sub(r"\{\{-?[^}]*-?\}\}", "placeholder", line))
    return "\n".join(out)


def chart_objects():
    objs = []
    tdir = os.path.join(CHART, "templates")
    for name in sorted(os.listdir(tdir)):
        if not name.endswith(".yaml"):
            continue
        for doc in yaml.safe_load_all(strip_template(open(os.path.join(tdir, name)).read())):
            if doc:
                objs.append((name, doc))
    return objs


def manifest_objects():
    objs = []
    for name in sorted(os.listdir(MANIFESTS)):
        if name.endswith(".yaml"):
            objs += [(name, d) for d in yaml.safe_load_all(open(os.path.join(MANIFESTS, name))) if d]
    return objs


def by_kind(objs):
    out = {}
    for _, o in objs:
        out.setdefault(o["kind"], []).append(o)
    return out


K8S = os.path.join("controller", "providers", "kubernetes")


def code_rbac(acme_storage=True):
    """(apiGroup, resource) -> verbs the provider uses, read from the code;
    with <acme_storage>, also what ACME's storage in Secrets uses (the chart
    grants it with acme.storageResolvers; the default manifests do not)."""
    src = open(os.path.join(ROOT, K8S, "provider_kubernetes.c")).read()
    table = re.findall(r'\{"(\w+)", "(/apis?/[\w./]+)"\}', src)
    assert len(table) == 6, table
    rules = {}
    for name, gv in table:
        group = "" if gv == "/api/v1" else gv.split("/")[2]
        rules[(group, name)] = {"list", "watch"}  # k8s_watch.c: list, then watch
    # the CRD provider's table: {"plural", "/apis/group/version", <labelSelector applies>}
    crd = open(os.path.join(ROOT, K8S, "provider_kubernetes_crd.c")).read()
    for name, gv in re.findall(r'\{"(\w+)", "(/apis?/[\w./]+)", (?:true|false)\}', crd):
        group = "" if gv == "/api/v1" else gv.split("/")[2]
        rules[(group, name)] = {"list", "watch"}
    # the Gateway API provider's: {"plural", "/apis/group/version", <cluster-scoped>, <labelSelector applies>}
    gw = open(os.path.join(ROOT, K8S, "provider_kubernetes_gateway.c")).read()
    gw_table = re.findall(r'\{"(\w+)", "(/apis?/[\w./]+)", (?:true|false), (?:true|false)\}', gw)
    assert len(gw_table) == 13, gw_table
    for name, gv in gw_table:
        group = "" if gv == "/api/v1" else gv.split("/")[2]
        rules[(group, name)] = {"list", "watch"}
    # every file that writes declares it: "rbac: <group> <resource> <verbs>",
    # and only those files send anything but GET
    files = [os.path.join(K8S, f) for f in os.listdir(os.path.join(ROOT, K8S))
             if f.startswith("k8s_") or f.startswith("provider_kubernetes")]
    if acme_storage:
        files += [os.path.join("controller", "acme", f) for f in os.listdir(os.path.join(ROOT, "controller", "acme"))
                  if "_k8s" in f]
    for f in sorted(files):
        if not f.endswith(".c"):
            continue
        code = open(os.path.join(ROOT, f)).read()
        marks = re.findall(r"rbac: (\S+) (\S+) (\S+)", code)
        writes = re.findall(r'"(PUT|POST|PATCH|DELETE)"', code)
        assert bool(writes) == bool(marks), (f, writes, marks)
        for group, res, verbs in marks:
            rules.setdefault(("" if group == "core" else group, res), set()).update(verbs.split(","))
    return rules


def rbac_of(objs):
    rules = {}
    kinds = by_kind(objs)
    for o in kinds["ClusterRole"] + kinds.get("Role", []):
        for r in o["rules"]:
            for g in r["apiGroups"]:
                for res in r["resources"]:
                    rules.setdefault((g, res), set()).update(r["verbs"])
    return rules


def check_deployment(d):
    pod = d["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert any(v["mountPath"] == "/tmp" for v in c["volumeMounts"])  # libh2o's temporary files
    assert "--providers.kubernetesIngress=true" in c["args"]
    assert {p["name"] for p in c["ports"]} == {"web", "websecure", "admin"}
    assert d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert pod["serviceAccountName"]
    assert "terminationGracePeriodSeconds" in pod


def test_manifests_parse_and_are_complete():
    objs = manifest_objects()
    kinds = by_kind(objs)
    for want in ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                 "IngressClass", "Deployment", "Service", "PodDisruptionBudget"):
        assert want in kinds, want
    for _, o in objs:
        assert o["apiVersion"] and o["metadata"]["name"], o
        assert o["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "gantry", o["kind"]
    check_deployment(kinds["Deployment"][0])
    c = kinds["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert kinds["IngressClass"][0]["spec"]["controller"] == "gantry.io/ingress-controller"
    assert kinds["Service"][0]["spec"]["type"] == "LoadBalancer"


def test_chart_templates_parse_and_are_complete():
    chart = yaml.safe_load(open(os.path.join(CHART, "Chart.yaml")))
    assert chart["apiVersion"] == "v2" and chart["name"] == "gantry" and chart["version"] and chart["appVersion"]
    objs = chart_objects()
    kinds = by_kind(objs)
    for want in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "IngressClass",
                 "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        assert want in kinds, want
    for name, o in objs:
        assert "app.kubernetes.io/name" in o["metadata"]["labels"], name
    check_deployment(kinds["Deployment"][0])
    helpers = open(os.path.join(CHART, "templates", "_helpers.tpl")).read()
    for label in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                  "app.kubernetes.io/managed-by", "helm.sh/chart"):
        assert label in helpers


def test_every_value_is_documented():
    lines = open(os.path.join(CHART, "values.yaml")).read().splitlines()
    values = yaml.safe_load("\n".join(lines))
    undocumented = []
    documented_at = []  # indentations of enclosing keys that carry a "# --" comment
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)([A-Za-z]\w*):(.*)$", line)
        if not m:
            continue
        indent = len(m.group(1))
        documented_at = [d for d in documented_at if d < indent]
        j = i - 1
        while j >= 0 and lines[j].strip().startswith("#") and not lines[j].strip().startswith("# --"):
            j -= 1
        own = j >= 0 and lines[j].strip().startswith("# --")
        if m.group(3).strip() == "":  # a section: documents its leaves when commented itself
            if own:
                documented_at.append(indent)
            continue
        if not own and not documented_at:
            undocumented.append(m.group(2))
    assert not undocumented, undocumented
    assert values["service"]["type"] in ("LoadBalancer", "NodePort")


def test_rbac_grants_exactly_what_the_code_uses():
    assert rbac_of(chart_objects()) == code_rbac()  # every conditional rule of the chart counted
    assert rbac_of(manifest_objects()) == code_rbac(acme_storage=False)  # the defaults


def test_helm_lint_where_helm_exists():
    if shutil.which("helm") is None:
        pytest.skip("helm is not installed here (the kind e2e suite runs helm where it exists)")
    r = subprocess.run(["helm", "lint", CHART], capture_output=True)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
