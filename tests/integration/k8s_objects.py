"""Kubernetes objects as YAML text for `kubectl apply` (the tests' apply()
dedents it), shared by the tests that drive the API-server emulator with
the real kubectl."""
import json


def annotations_yaml(annotations):
    """The value after `annotations:` in a metadata block: one line per
    annotation (deeper than the key), or ` {}` when there are none."""
    return "".join("\n            %s: %s" % (k, json.dumps(v)) for k, v in (annotations or {}).items()) or " {}"


def service_yaml(name, annotations=None, port=80, spec=""):
    """Service <name> in default with <annotations>: port http <port>
    (targetPort 8080) and <spec>, more fields of its spec (YAML lines
    indented by 2, each ending in a newline)."""
    return """\
apiVersion: v1
kind: Service
metadata:
  name: %s
  namespace: default
  annotations:%s
spec:
%s  ports: [{name: http, port: %d, targetPort: 8080}]
""" % (name, annotations_yaml(annotations), spec, port)


def ingress_yaml(name, host, svc, port=80, cls="gantry", annotations=None, tls=None):
    """Ingress <name> in default of class <cls> with <annotations>: <host>,
    path / (Prefix) to <svc>:<port>; with <tls>, that Secret for <host>."""
    tls_part = "  tls: [{hosts: [%s], secretName: %s}]\n" % (host, tls) if tls else ""
    return """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: %s
  namespace: default
  annotations:%s
spec:
  ingressClassName: %s
%s  rules:
  - host: %s
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: %s, port: {number: %d}}}}]}
""" % (name, annotations_yaml(annotations), cls, tls_part, host, svc, port)


def endpoint_slice_yaml(name, service, port, ns="default"):
    """EndpointSlice <name> of <service>: one ready endpoint, 127.0.0.1:<port>, port name http."""
    return """\
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %s
  namespace: %s
  labels: {kubernetes.io/service-name: %s}
addressType: IPv4
ports: [{name: http, port: %d}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
""" % (name, ns, service, port)


def nginx_ingress_yaml(name, svc, annotations, port=80):
    """Ingress <name> of class nginx: host <name>.test, / to <svc>:<port>, with
    <annotations> named without their nginx.ingress.kubernetes.io/ prefix."""
    return ingress_yaml(name, name + ".test", svc, port, "nginx",
                        {"nginx.ingress.kubernetes.io/" + k: v for k, v in annotations.items()})
