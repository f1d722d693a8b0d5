"""nativeLBByDefault (kubernetesIngress, kubernetesCRD, kubernetesIngressNGINX),
its per-Service overrides (the Service annotation
traefik.ingress.kubernetes.io/service.nativelb, the CRD's nativeLB) and
ingress-nginx's service-upstream, with objects applied by the real kubectl
to the API-server emulator. Each Service has two ways in: its ClusterIP
(127.0.0.1:<port of whoami "cluster">) and its endpoints (whoami "pod"), so
the answering whoami tells which one gantry used."""
import json

import pytest

from conftest import get, wait_for
from k8s_objects import endpoint_slice_yaml, ingress_yaml, service_yaml
from test_k8s_nginx import NGINX_CLASS, apply, emu  # noqa: F401


def service(emu, name, cluster, pod, cluster_ip="127.0.0.1", annotations=None):
    apply(emu, service_yaml(name, annotations, cluster.port, "  clusterIP: %s\n" % cluster_ip))
    apply(emu, endpoint_slice_yaml(name + "-1", name, pod.port))


def ingress(emu, name, svc, port, cls, annotations=None):
    apply(emu, ingress_yaml(name, name + ".test", svc, port, cls, annotations))


GANTRY_CLASS = """\
    apiVersion: networking.k8s.io/v1
    kind: IngressClass
    metadata: {name: gantry}
    spec: {controller: gantry.io/ingress-controller}
    """


def who(g, host):
    status, _, body = get(g.port, "/?format=json", host)
    return json.loads(body)["name"] if status == 200 else status


def problems(g):
    return "\n".join(g.api("/api/overview")["problems"])


def start(procs, tmp_path, emu, providers):
    args = []
    for p in providers:
        args += ["--providers.%s=true" % p, "--providers.%s.endpoint=%s" % (p, emu.url),
                 "--providers.%s.token=%s" % (p, emu.token), "--providers.%s.certAuthFilePath=%s" % (p, emu.ca)]
    g = procs.gantry(tmp_path, None, args=args + [a for p in providers for a in providers[p]])
    wait_for(lambda: g.admin("/readyz")[0] == 200, what="kubernetes providers synced")
    return g


def test_ingress_native_lb_by_default_and_the_service_annotation(tmp_path, procs, emu):
    cluster, pod = procs.whoami(name="cluster"), procs.whoami(name="pod")
    apply(emu, GANTRY_CLASS)
    service(emu, "plain", cluster, pod)
    service(emu, "optout", cluster, pod, annotations={"traefik.ingress.kubernetes.io/service.nativelb": "false"})
    service(emu, "headless", cluster, pod, cluster_ip="None")
    for name in ("plain", "optout", "headless"):
        ingress(emu, name, name, cluster.port, "gantry")
    g = start(procs, tmp_path, emu, {"kubernetesIngress": ["--providers.kubernetesIngress.nativeLBByDefault=true"]})
    wait_for(lambda: who(g, "plain.test") == "cluster", what="the ClusterIP by default")
    assert who(g, "optout.test") == "pod"  # service.nativelb: "false" wins over the default
    assert who(g, "headless.test") == 404
    assert "ingress default/headless: service default/headless has no clusterIP (nativeLBByDefault)" in problems(g)


def test_ingress_without_native_lb_by_default_uses_the_endpoints(tmp_path, procs, emu):
    cluster, pod = procs.whoami(name="cluster"), procs.whoami(name="pod")
    apply(emu, GANTRY_CLASS)
    service(emu, "plain", cluster, pod)
    service(emu, "optin", cluster, pod, annotations={"traefik.ingress.kubernetes.io/service.nativelb": "true"})
    ingress(emu, "plain", "plain", cluster.port, "gantry")
    ingress(emu, "optin", "optin", cluster.port, "gantry")
    g = start(procs, tmp_path, emu, {"kubernetesIngress": []})
    wait_for(lambda: who(g, "plain.test") == "pod", what="the endpoints by default")
    assert who(g, "optin.test") == "cluster"


@pytest.mark.parametrize("by_default", [False, True])
def test_crd_native_lb_by_default_and_the_native_lb_field(tmp_path, procs, emu, by_default):
    cluster, pod = procs.whoami(name="cluster"), procs.whoami(name="pod")
    service(emu, "app", cluster, pod)
    routes = [("unset", None), ("on", True), ("off", False)]
    for name, native in routes:
        svc = {"name": "app", "port": cluster.port}
        if native is not None:
            svc["nativeLB"] = native
        apply(emu, json.dumps({"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute",
                               "metadata": {"name": name, "namespace": "default"},
                               "spec": {"routes": [{"match": "Host(`%s.test`)" % name, "kind": "Rule",
                                                    "services": [svc]}]}}))
    g = start(procs, tmp_path, emu, {"kubernetesCRD": ["--providers.kubernetesCRD.nativeLBByDefault=%s"
                                                       % str(by_default).lower()]})
    wait_for(lambda: who(g, "on.test") == "cluster", what="nativeLB: true")
    assert who(g, "off.test") == "pod"  # nativeLB: false wins over nativeLBByDefault
    assert who(g, "unset.test") == ("cluster" if by_default else "pod")


def test_nginx_service_upstream_and_native_lb_by_default(tmp_path, procs, emu):
    cluster, pod = procs.whoami(name="cluster"), procs.whoami(name="pod")
    apply(emu, NGINX_CLASS)
    apply(emu, GANTRY_CLASS)
    service(emu, "app", cluster, pod)
    # the same Service: one Ingress asks for its ClusterIP, the other not
    ingress(emu, "upstream", "app", cluster.port, "nginx", {"nginx.ingress.kubernetes.io/service-upstream": "true"})
    ingress(emu, "pods", "app", cluster.port, "nginx")
    ingress(emu, "traefik", "app", cluster.port, "gantry")
    g = start(procs, tmp_path, emu, {"kubernetesIngressNGINX": [],
                                     "kubernetesIngress": ["--providers.kubernetesIngress.nativeLBByDefault=true"]})
    wait_for(lambda: who(g, "upstream.test") == "cluster", what="service-upstream")
    assert who(g, "pods.test") == "pod"      # kubernetesIngress's default is not ingress-nginx's
    assert who(g, "traefik.test") == "cluster"
    assert "service-upstream" not in problems(g)


def test_nginx_native_lb_by_default(tmp_path, procs, emu):
    cluster, pod = procs.whoami(name="cluster"), procs.whoami(name="pod")
    apply(emu, NGINX_CLASS)
    service(emu, "app", cluster, pod)
    ingress(emu, "app", "app", cluster.port, "nginx")
    ingress(emu, "bad", "app", cluster.port, "nginx", {"nginx.ingress.kubernetes.io/service-upstream": "yes"})
    g = start(procs, tmp_path, emu, {"kubernetesIngressNGINX": ["--providers.kubernetesIngressNGINX.nativeLBByDefault=true"]})
    wait_for(lambda: who(g, "app.test") == "cluster", what="the ClusterIP by default")
    assert who(g, "bad.test") == 404
    assert "service-upstream: `yes` is not a boolean" in problems(g)
