"""The Helm chart rendered for real (tests/helm-render: Go's text/template,
the sprig library and Helm's functions, values validated against
values.schema.json) with several value sets, each output applied with the
real kubectl (--dry-run=client) to the project's API-server emulator; bad
values refused with the schema's message; and the renderer itself checked
on a small chart that uses what Helm charts use.
"""
import os
import shutil
import sys
import textwrap

import pytest
import yaml

from conftest import GANTRY_BIN, ROOT

sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import emulated_cluster as cluster  # noqa: E402

BUILD = os.path.dirname(os.path.abspath(GANTRY_BIN))


def need(what, reason):
    if os.environ.get("CI"):
        pytest.fail("%s (CI must provide it)" % reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def renderer():
    if shutil.which("go") is None:
        need("go", "needs golang-go and Debian's sprig/gojsonschema/yaml Go packages (scripts/deps.sh test)")
    path, err = cluster.build_renderer(BUILD)
    assert path, "building tests/helm-render failed:\n" + err
    return path


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    if shutil.which("kubectl") is None:
        need("kubectl", "needs kubectl")
    e = cluster.start_emulator(str(tmp_path_factory.mktemp("apiserver")))
    yield e
    e.stop()
    cluster.forget_chart_kinds()


def docs_of(text):
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(docs):
    out = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


VALUE_SETS = {
    "defaults": [],
    "gateway-api": ["--set", "providers.kubernetesGateway.enabled=true,gatewayAPI.installCRDs=true"],
    "gateway-api-experimental": ["--set", "providers.kubernetesGateway.enabled=true,providers.kubernetesGateway.experimentalChannel=true,"
                                 "gatewayAPI.installCRDs=true"],
    "traefik-crds": ["--set", "providers.kubernetesCRD.enabled=true"],
    "ingress-nginx": ["--set", "providers.kubernetesIngressNGINX.enabled=true,"
                      "providers.kubernetesIngressNGINX.configMap=ingress-nginx/ingress-nginx-controller"],
    "ha-3-replicas": ["--set", "replicaCount=3,podAntiAffinity=hard,podDisruptionBudget.minAvailable=2"],
    "host-network": ["--set", "hostNetwork=true,service.type=ClusterIP"],
    "daemonset": ["--set", "kind=DaemonSet"],
    "nodeport-autoscaling": ["--set", "service.type=NodePort,service.nodePorts.http=30080,autoscaling.enabled=true"],
    "acme-kubernetes-storage": ["--set", "acme.storageResolvers={le,staging},publishStatus=false"],
}


def check_value_set(name, k):
    """What each value set must have produced."""
    workload = (k.get("Deployment") or k.get("DaemonSet"))[0]
    pod = pod_spec(workload)
    args = pod["containers"][0]["args"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert workload["spec"]["selector"]["matchLabels"].items() <= workload["spec"]["template"]["metadata"]["labels"].items()
    if name == "defaults":
        assert set(k) == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service",
                          "Deployment", "PodDisruptionBudget", "IngressClass"}, set(k)
        assert workload["spec"]["replicas"] == 2
        assert workload["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
        assert pod["terminationGracePeriodSeconds"] == 25
        assert "--providers.kubernetesIngress.ingressEndpoint.publishedService=gantry/gantry" in args
        assert not any("kubernetesGateway" in a or "kubernetesCRD" in a or "NGINX" in a for a in args)
        assert not any("configmaps" in r["resources"] for r in k["ClusterRole"][0]["rules"])
    elif name.startswith("gateway-api"):
        gc = k["GatewayClass"][0]
        assert gc["spec"]["controllerName"] == "gantry.io/gateway-controller" and gc["metadata"]["name"] == "gantry"
        assert "--providers.kubernetesGateway=true" in args
        # Kubernetes' own CRDs, verbatim: the same documents as manifests/gateway-api/
        experimental = name.endswith("experimental")
        want = [d for f in sorted(os.listdir(os.path.join(ROOT, "manifests", "gateway-api")))
                if f.endswith(".yaml") and (experimental or f.startswith("standard-"))
                for d in docs_of(open(os.path.join(ROOT, "manifests", "gateway-api", f)).read())]
        got = sorted(k["CustomResourceDefinition"], key=lambda d: d["metadata"]["name"])
        assert got == sorted(want, key=lambda d: d["metadata"]["name"])
        assert len(got) == (8 if experimental else 5)
        assert ("--providers.kubernetesGateway.experimentalChannel=true" in args) == experimental
        assert "--providers.kubernetesGateway.statusAddress.service.name=gantry" in args
        rules = [r for r in k["ClusterRole"][0]["rules"] if "gateway.networking.k8s.io" in r["apiGroups"]]
        assert any("httproutes/status" in r["resources"] for r in rules)
        assert any("tlsroutes" in r["resources"] for r in rules) == experimental
        assert k["Role"][0]["rules"][0]["resources"] == ["leases"]
    elif name == "traefik-crds":
        crds = {c["spec"]["names"]["kind"]: c for c in k["CustomResourceDefinition"]}
        assert {"IngressRoute", "Middleware", "TLSOption", "TraefikService", "ServersTransport"} <= set(crds)
        ir = crds["IngressRoute"]
        assert ir["metadata"]["name"] == "ingressroutes.traefik.io" and ir["spec"]["group"] == "traefik.io"
        assert ir["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert "--providers.kubernetesCRD=true" in args
    elif name == "ingress-nginx":
        assert "--providers.kubernetesIngressNGINX=true" in args
        assert "--providers.kubernetesIngressNGINX.configMap=ingress-nginx/ingress-nginx-controller" in args
        assert "--providers.kubernetesIngressNGINX.ingressClass=nginx" in args
        assert not any("enableSSLPassthrough" in a or "allowUnsafeAnnotations" in a for a in args)
        # the controller ConfigMap is read without the Gateway provider
        assert any(r["resources"] == ["configmaps"] for r in k["ClusterRole"][0]["rules"])
    elif name == "ha-3-replicas":
        assert workload["spec"]["replicas"] == 3
        assert k["PodDisruptionBudget"][0]["spec"]["minAvailable"] == 2
        term = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"] == workload["spec"]["selector"]["matchLabels"]
    elif name == "host-network":
        assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
        assert k["Service"][0]["spec"]["type"] == "ClusterIP"
    elif name == "daemonset":
        assert workload["kind"] == "DaemonSet" and "replicas" not in workload["spec"]
        assert "strategy" not in workload["spec"]
        assert workload["spec"]["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    elif name == "acme-kubernetes-storage":
        assert "--certificatesResolvers.le.acme.storage=kubernetes://gantry/gantry-acme" in args
        assert "--certificatesResolvers.staging.acme.storage=kubernetes://gantry/gantry-acme" in args
        rules = k["Role"][0]["rules"]  # the Role exists for the issuer's Lease even without publishStatus
        assert rules[0]["resources"] == ["leases"]
        assert rules[1] == {"apiGroups": [""], "resources": ["secrets"],
                            "verbs": ["get", "list", "watch", "create", "update", "delete"]}
    elif name == "nodeport-autoscaling":
        assert "replicas" not in workload["spec"]
        hpa = k["HorizontalPodAutoscaler"][0]
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gantry"}
        ports = {p["name"]: p for p in k["Service"][0]["spec"]["ports"]}
        assert ports["web"]["nodePort"] == 30080 and "nodePort" not in ports["websecure"]


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_value_set_renders_and_kubectl_accepts_it(renderer, emu, name):
    rc, out, err = cluster.render(renderer, "--name", "gantry", "--namespace", "gantry", *VALUE_SETS[name])
    assert rc == 0, err
    # helm template's layout: every manifest after --- and its # Source line
    sources = [line for line in out.splitlines() if line.startswith("# Source: ")]
    assert out.startswith("---\n# Source: gantry/templates/")
    assert len(sources) == out.count("\n---\n") + 1
    assert not any("NOTES.txt" in s or "/_helpers" in s for s in sources)
    docs = docs_of(out)
    assert len(docs) == len(sources)
    for d in docs:
        if d["kind"] == "CustomResourceDefinition" and d["metadata"]["name"].endswith(".gateway.networking.k8s.io"):
            continue  # Kubernetes' own Gateway API CRDs, shipped verbatim (no labels added)
        assert d["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm", d["kind"]
        assert d["metadata"]["labels"]["app.kubernetes.io/instance"] == "gantry"
        assert "<no value>" not in yaml.safe_dump(d)
    check_value_set(name, by_kind(docs))
    # The real kubectl maps every kind through the server's discovery and
    # sends nothing (dry run). --validate=false: its schema check downloads
    # /openapi/v2, which the emulator does not serve.
    r = cluster.kubectl(emu, "apply", "--dry-run=client", "--validate=false", "-f", "-", stdin=out.encode())
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    assert len(lines) == len(docs), lines
    assert all(line.endswith("(dry run)") for line in lines), lines


def test_defaults_match_manifests_dir(renderer):
    """manifests/ is documented as the chart rendered with its defaults in
    namespace gantry: the same kinds, names and container arguments."""
    rc, out, err = cluster.render(renderer, "--name", "gantry", "--namespace", "gantry")
    assert rc == 0, err
    chart = {(d["kind"], d["metadata"]["name"]) for d in docs_of(out)}
    plain = [d for name in sorted(os.listdir(os.path.join(ROOT, "manifests"))) if name.endswith(".yaml")
             for d in docs_of(open(os.path.join(ROOT, "manifests", name)).read())]
    assert chart <= {(d["kind"], d["metadata"]["name"]) for d in plain}
    cargs = [pod_spec(d)["containers"][0]["args"] for d in docs_of(out) if d["kind"] == "Deployment"][0]
    margs = [pod_spec(d)["containers"][0]["args"] for d in plain if d["kind"] == "Deployment"][0]
    assert cargs == margs


@pytest.mark.parametrize("args,message", [
    (["--set", "replicaCount=two"], "replicaCount: Invalid type. Expected: integer, given: string"),
    (["--set", "replicas=3"], "(root): Additional property replicas is not allowed"),
    (["--set", "service.tpye=NodePort"], "service: Additional property tpye is not allowed"),
    (["--set", "entryPoints.web=70000"], "entryPoints.web: Must be less than or equal to 65535"),
    (["--set", "kind=StatefulSet"], "kind: kind must be one of the following"),
    (["--set", "entryPoints.admin=null"], "entryPoints: admin is required"),
    (["--set-string", "drainSeconds=20"], "drainSeconds: Invalid type. Expected: integer, given: string"),
    (["--set", "service.type=NodePort,service.nodePorts.http=80"], "service.nodePorts.http: Must validate one and only one schema"),
])
def test_bad_values_are_refused_with_the_schemas_message(renderer, args, message):
    rc, out, err = cluster.render(renderer, *args)
    assert rc != 0 and out == ""
    assert "values don't meet the specifications of the schema(s) in the following chart(s):\ngantry:" in err, err
    assert message in err, err


def test_bad_values_file_is_refused_too(renderer, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("image:\n  pullPolicy: Sometimes\npodAnnotations:\n  a: 1\n")
    rc, _, err = cluster.render(renderer, "-f", str(f))
    assert rc != 0
    assert "image.pullPolicy: image.pullPolicy must be one of the following" in err, err
    assert "podAnnotations.a: Invalid type. Expected: string, given: integer" in err, err


def test_daemonset_with_autoscaling_fails_with_the_charts_message(renderer):
    rc, _, err = cluster.render(renderer, "--set", "kind=DaemonSet,autoscaling.enabled=true")
    assert rc != 0 and "autoscaling.enabled needs kind: Deployment" in err, err


def test_one_replica_gets_no_disruption_budget(renderer):
    rc, out, err = cluster.render(renderer, "--set", "replicaCount=1")
    assert rc == 0, err
    assert "PodDisruptionBudget" not in by_kind(docs_of(out))


# ---- the renderer on a chart of its own ----

FIXTURE = {
    "Chart.yaml": "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"4.5\"\n",
    "values.yaml": textwrap.dedent("""\
        greeting: hello
        count: 2
        nested: {keep: yes-kept, drop: me}
        list: [a, b]
        templated: "{{ .Release.Name }}-tpl"
        """),
    "files/banner.txt": "line one\nline two\n",
    "files/banner.txt.bak": "ignored\n",
    ".helmignore": "# editor leftovers\n*.bak\n",
    "crds/thing.yaml": "# copied as is: {{ not rendered }}\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n",
    "templates/NOTES.txt": "{{ .Values.nonsense.fails }}",
    "templates/_helpers.tpl": '{{- define "demo.name" -}}{{ .Chart.Name }}-{{ .Values.greeting | upper }}{{- end -}}\n',
    "templates/_unused.yaml": "kind: ShouldNotAppear\n",
    "templates/empty.yaml": "{{- if .Values.nothing }}\nkind: Never\n{{- end }}\n",
    "templates/cm.yaml": textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ include "demo.name" . }}
          namespace: {{ .Release.Namespace }}
        data:
          release: {{ .Release.Name }}/{{ .Release.Service }}/{{ .Release.IsInstall }}
          chart: {{ .Chart.Name }}-{{ .Chart.Version }}-{{ .Chart.AppVersion }}
          count: {{ .Values.count | quote }}
          countType: {{ kindOf .Values.count }}
          nested: {{ toJson .Values.nested | quote }}
          list: {{ join "," .Values.list | quote }}
          tpl: {{ tpl .Values.templated . }}
          lookup: {{ lookup "v1" "Secret" "ns" "x" | len | quote }}
          kube: "{{ .Capabilities.KubeVersion.Major }}.{{ .Capabilities.KubeVersion.Minor }}"
          hasApps: {{ .Capabilities.APIVersions.Has "apps/v1" | quote }}
          hasGateway: {{ .Capabilities.APIVersions.Has "gateway.networking.k8s.io/v1" | quote }}
          banner: {{ .Files.Get "files/banner.txt" | quote }}
          lines: {{ .Files.Lines "files/banner.txt" | len | quote }}
          files: "{{ range $p, $_ := .Files.Glob "files/*" }}{{ $p }};{{ end }}"
          items: {{ toJson .Values.items | quote }}
          template: {{ .Template.Name }}
          fromYaml: {{ (fromYaml "a: {b: 3}").a.b | quote }}
          sprig: {{ list 3 1 2 | sortAlpha | join "" }}-{{ "abc" | sha256sum | trunc 8 }}
          missing: "{{ .Values.absent }}"
        ---
        {{ toYaml (dict "kind" "Second" "apiVersion" "v1" "metadata" (dict "name" "two")) }}
        """),
}


@pytest.fixture
def demo_chart(tmp_path):
    d = tmp_path / "demo"
    for rel, text in FIXTURE.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return str(d)


def test_renderer_speaks_helms_template_language(renderer, demo_chart, tmp_path):
    over = tmp_path / "over.yaml"
    over.write_text("nested: {drop: null}\nlist: [x, w, z]\n")
    rc, out, err = cluster.render(renderer, "--name", "rel", "--namespace", "ns1", "-f", str(over),
                                  "--set", "count=7,greeting=hi\\,there", "--set", "items[1].name=second,items[0]=null",
                                  "--api-versions",
                                  "gateway.networking.k8s.io/v1", chart=demo_chart)
    assert rc == 0, err
    sources = [line for line in out.splitlines() if line.startswith("# Source: ")]
    # crds/ first and verbatim, then the templates; partials, empty output and NOTES.txt are left out
    assert sources == ["# Source: demo/crds/thing.yaml", "# Source: demo/templates/cm.yaml",
                       "# Source: demo/templates/cm.yaml"], sources
    assert "# copied as is: {{ not rendered }}" in out
    cm = [d for d in docs_of(out) if d.get("kind") == "ConfigMap"][0]
    assert cm["metadata"] == {"name": "demo-HI,THERE", "namespace": "ns1"}
    data = cm["data"]
    assert data["release"] == "rel/Helm/true"
    assert data["chart"] == "demo-1.2.3-4.5"
    assert data["count"] == "7" and data["countType"] == "int64"  # --set types integers, as Helm's strvals
    assert data["nested"] == '{"keep":"yes-kept"}'  # null in a -f file deletes the default
    assert data["list"] == "x,w,z"  # lists are replaced, not merged
    assert data["tpl"] == "rel-tpl"
    assert data["lookup"] == "0"
    assert data["kube"] == "1.32"
    assert data["hasApps"] == "true" and data["hasGateway"] == "true"
    assert data["banner"] == "line one\nline two\n" and data["lines"] == "2"
    assert data["files"] == "files/banner.txt;"  # .helmignore'd files are not in the chart
    assert data["items"] == '[null,{"name":"second"}]'  # --set list indexes grow the list
    assert data["template"] == "demo/templates/cm.yaml"
    assert data["fromYaml"] == "3"
    assert data["sprig"].startswith("123-") and len(data["sprig"]) == 12
    assert data["missing"] == ""
    assert [d for d in docs_of(out) if d.get("kind") == "Second"][0]["metadata"]["name"] == "two"
    # YAML values are numbers as float64 under Helm: they print the same
    rc, out, err = cluster.render(renderer, chart=demo_chart)
    assert rc == 0, err
    data = [d for d in docs_of(out) if d.get("kind") == "ConfigMap"][0]["data"]
    assert data["count"] == "2" and data["countType"] == "float64"
    assert data["hasGateway"] == "false"


def test_renderer_reports_required_and_template_errors(renderer, demo_chart):
    with open(os.path.join(demo_chart, "templates", "req.yaml"), "w") as f:
        f.write('kind: X\nname: {{ required "image.repository is required" .Values.image }}\n')
    rc, out, err = cluster.render(renderer, chart=demo_chart)
    assert rc != 0 and out == ""
    assert "image.repository is required" in err and "demo/templates/req.yaml" in err, err
    with open(os.path.join(demo_chart, "templates", "req.yaml"), "w") as f:
        f.write("kind: X\nname: {{ .Values.greeting | nosuchfunction }}\n")
    rc, _, err = cluster.render(renderer, chart=demo_chart)
    assert rc != 0 and 'function "nosuchfunction" not defined' in err, err
