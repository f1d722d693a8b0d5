"""Compiled middlewares carried across configuration changes: an Ingress
that did not change keeps its compiled rate limit, buckets included, when
another Ingress is added (before, every change rebuilt every middleware and
so emptied every limiter's memory); the Ingress's own change rebuilds it.
ingress-nginx annotations against the API-server emulator, real kubectl."""
import shutil

import pytest

from conftest import get, wait_for
from test_k8s_nginx import NGINX_CLASS, apply, backends, emu, gantry  # noqa: F401 (emu is a fixture)

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

LIMITED = """\
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: limited
      namespace: default
      annotations:
        nginx.ingress.kubernetes.io/limit-rpm: "%s"
        nginx.ingress.kubernetes.io/limit-burst-multiplier: "1"
    spec:
      ingressClassName: nginx
      rules:
      - host: limited.example.com
        http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}]}
    """

OTHER = """\
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: other
      namespace: default
    spec:
      ingressClassName: nginx
      rules:
      - host: other.example.com
        http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}]}
    """


def exhaust(g):
    """Requests limited.example.com until the limiter refuses one (a few a minute: within the first few)."""
    statuses = [get(g.port, "/", "limited.example.com")[0] for _ in range(4)]
    assert statuses[0] == 200 and statuses[-1] == 429, statuses


def test_unchanged_rate_limit_keeps_its_buckets(tmp_path, procs, emu):  # noqa: F811
    a = procs.whoami(name="a")
    apply(emu, NGINX_CLASS)
    backends(emu, "api", [a])
    apply(emu, LIMITED % "2")
    g = gantry(procs, tmp_path, emu)
    wait_for(lambda: get(g.port, "/", "limited.example.com")[0] == 200, what="limited route")
    exhaust(g)
    # another Ingress: a new table, in which the limited Ingress's middleware is the one compiled before
    apply(emu, OTHER)
    wait_for(lambda: get(g.port, "/", "other.example.com")[0] == 200, what="the other Ingress served")
    assert get(g.port, "/", "limited.example.com")[0] == 429  # its bucket is still empty
    # the limited Ingress itself changes: its middleware is compiled anew, with full buckets
    apply(emu, LIMITED % "3")
    wait_for(lambda: get(g.port, "/", "limited.example.com")[0] == 200, what="the changed limit compiled anew")
    exhaust(g)
