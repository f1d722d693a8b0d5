"""Resolved middleware chains carried across configuration changes
(controller/aggregator_chain.c): a router whose Ingress did not change keeps
its resolved chain when another Ingress changes (gantry's debug log counts
the chains taken), and still follows a change of a middleware its chain
names in another provider: the Ingress names `ch@file`, a chain of `tag`
(a headers middleware) in the file provider's configuration, which changes
value, disappears (the router is out, with the reason) and comes back.
kubernetesIngress against the API-server emulator with the real kubectl,
the file provider, a real whoami backend."""
import re
import shutil

import pytest

from conftest import get, wait_for
from test_k8s_nginx import apply, emu  # noqa: F401 (the emulator fixture)
from test_k8s_traefik_annotations import CLASS, ingress, problems, service, whoami

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

ROUTER_MW = {"traefik.ingress.kubernetes.io/router.middlewares": "ch@file"}


def dynamic(value):
    """The file provider's configuration: chain ch of tag, with X-Tagged: <value> (None: no tag)."""
    text = "http:\n  middlewares:\n    ch:\n      chain:\n        middlewares: [tag]\n"
    if value is not None:
        text += "    tag:\n      headers:\n        customRequestHeaders:\n          X-Tagged: \"%s\"\n" % value
    return text


def tagged(port):
    status, _, info = whoami(port, "chained.test")
    return info["headers"].get("X-Tagged") if status == 200 else status


def chains_taken(g):
    """How many router chains the last compile took from the table before."""
    found = re.findall(r"router chains: \d+ resolved, (\d+) unchanged", g.output())
    return int(found[-1]) if found else 0


def test_kept_chain_follows_the_middlewares_it_names(tmp_path, procs, emu):
    a = procs.whoami(name="a")
    apply(emu, CLASS)
    service(emu, "app", [a])
    ingress(emu, "chained", "chained.test", "app", ROUTER_MW)
    ingress(emu, "other", "other.test", "app")
    g = procs.gantry(tmp_path, dynamic("1"), args=["--providers.kubernetesIngress=true",
                                                   "--providers.kubernetesIngress.endpoint=" + emu.url,
                                                   "--providers.kubernetesIngress.token=" + emu.token,
                                                   "--providers.kubernetesIngress.certAuthFilePath=" + emu.ca])
    wait_for(lambda: tagged(g.port) == "1", what="the chained router with X-Tagged: 1")

    # another Ingress changes: the chained router's chain is taken as it was
    ingress(emu, "other", "other2.test", "app")
    wait_for(lambda: whoami(g.port, "other2.test")[0] == 200, what="the changed Ingress served")
    assert chains_taken(g) >= 1, g.output()[-3000:]
    assert tagged(g.port) == "1"

    # the middleware the chain names changes; the Ingress does not
    g.write(dynamic("2"))
    wait_for(lambda: tagged(g.port) == "2", what="the new header value through the unchanged Ingress")

    # gone: the router is out, with the reason; back: served again
    g.write(dynamic(None))
    wait_for(lambda: tagged(g.port) == 404, what="the router out")
    assert "middleware 'tag@file' does not exist" in problems(g), problems(g)
    assert get(g.port, "/", "other2.test")[0] == 200
    g.write(dynamic("3"))
    wait_for(lambda: tagged(g.port) == "3", what="the router back")
