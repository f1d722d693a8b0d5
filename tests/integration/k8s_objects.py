"""Kubernetes objects as YAML text for `kubectl apply` (the tests' apply()
dedents it), shared by the tests that drive the API-server emulator with
the real kubectl."""
import json


def annotations_yaml(annotations):
    """The value after `annotations:` in a metadata block indented by 10
    (before dedent): one line per annotation, or ` {}` when there are none."""
    return "".join("\n            %s: %s" % (k, json.dumps(v)) for k, v in (annotations or {}).items()) or " {}"


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
    """Ingress <name> of class nginx: host <name>.test, / to <svc>:<port>, with the
    nginx.ingress.kubernetes.io/ <annotations> (a neutral one when there are none)."""
    lines = "\n".join("    nginx.ingress.kubernetes.io/%s: \"%s\"" % kv for kv in annotations.items())
    return """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: %s
  namespace: default
  annotations:
%s
spec:
  ingressClassName: nginx
  rules:
  - host: %s.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: %s, port: {number: %d}}}}]}
""" % (name, lines or "    example.com/plain: \"true\"", name, svc, port)
