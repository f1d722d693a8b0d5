"""What the chart tests and the emulator-mode e2e share: the helm-render
binary (built on the fly from tests/helm-render), the project's API-server
emulator taught the kinds the chart installs, and the real kubectl talking
to it through a kubeconfig.
"""
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "charts", "gantry")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import k8s_emulator  # noqa: E402
from tls_certs import make_cert  # noqa: E402

# The emulator serves the kinds gantry watches. kubectl needs discovery for
# every kind it applies, and the e2e reads the workload back, so the kinds
# the chart renders are added (stored and listed like the others; no
# controllers act on them). The Gateway API and Traefik kinds stand for
# CRDs installed in the cluster. CustomResourceDefinition is the emulator's
# own kind (forget_chart_kinds would take it away from later tests).
CHART_KINDS = {
    "serviceaccounts": ("", "v1", "ServiceAccount", True),
    "configmaps": ("", "v1", "ConfigMap", True),
    "clusterroles": ("rbac.authorization.k8s.io", "v1", "ClusterRole", False),
    "clusterrolebindings": ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", False),
    "roles": ("rbac.authorization.k8s.io", "v1", "Role", True),
    "rolebindings": ("rbac.authorization.k8s.io", "v1", "RoleBinding", True),
    "deployments": ("apps", "v1", "Deployment", True),
    "daemonsets": ("apps", "v1", "DaemonSet", True),
    "poddisruptionbudgets": ("policy", "v1", "PodDisruptionBudget", True),
    "horizontalpodautoscalers": ("autoscaling", "v2", "HorizontalPodAutoscaler", True),
    "gatewayclasses": ("gateway.networking.k8s.io", "v1", "GatewayClass", False),
}


_TAUGHT = []  # the kinds teach_emulator added (ConfigMap, for one, the emulator serves already)


def teach_emulator():
    for plural, spec in CHART_KINDS.items():
        if plural not in k8s_emulator.KINDS:
            k8s_emulator.KINDS[plural] = spec
            k8s_emulator.KIND_TO_PLURAL.setdefault(spec[2], plural)
            _TAUGHT.append(plural)


def forget_chart_kinds():
    """Undoes teach_emulator (only what it added), so that other tests in
    the same pytest run see the emulator as it is."""
    while _TAUGHT:
        plural = _TAUGHT.pop()
        spec = k8s_emulator.KINDS.pop(plural, None)
        if spec and k8s_emulator.KIND_TO_PLURAL.get(spec[2]) == plural:
            del k8s_emulator.KIND_TO_PLURAL[spec[2]]


def start_emulator(workdir):
    """An HTTPS emulator (its CA in <workdir>/ca.crt) and a kubeconfig for it."""
    teach_emulator()
    cert, key = make_cert(workdir, "apiserver", ["localhost"], ips=["127.0.0.1"])
    em = k8s_emulator.Emulator(cert=cert, key=key, bookmark_interval=0.5).start()
    em.ca = os.path.join(workdir, "ca.crt")
    em.kubeconfig = k8s_emulator.kubeconfig(os.path.join(workdir, "kubeconfig"), em, em.ca)
    return em


def kubectl(em, *args, stdin=None, timeout=60):
    env = dict(os.environ, KUBECONFIG=em.kubeconfig)
    return subprocess.run(["kubectl", *args], input=stdin, capture_output=True, env=env, timeout=timeout)


def build_renderer(build_dir):
    """build/helm-render, (re)built when main.go is newer; None with the reason when it cannot be."""
    out = os.path.join(build_dir, "helm-render")
    src = os.path.join(ROOT, "tests", "helm-render", "main.go")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out, None
    r = subprocess.run(["bash", os.path.join(ROOT, "tests", "helm-render", "build.sh"), build_dir],
                       capture_output=True, timeout=600)
    if r.returncode != 0:
        return None, r.stderr.decode(errors="replace").strip()
    return out, None


def render(renderer, *args, chart=CHART):
    """(returncode, stdout, stderr) of helm-render with <args>."""
    r = subprocess.run([renderer, *args, chart], capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()
