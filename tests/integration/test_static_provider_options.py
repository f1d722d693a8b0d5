"""A rarely used provider option reaches the provider from each source of
the static configuration: the file (--configFile), a flag and an
environment variable. providers.file.watch=false is observable: a rewrite of
the dynamic file is not picked up. Without it (the control) the same rewrite
is live, so the test can fail: before the providers took their own config
structs, main.c copied each option by hand, and an option it forgot was
decoded from every source and then dropped."""
import time

import pytest

from conftest import get, service_yaml, wait_for


def routes(hosts, svc):
    y = "http:\n  routers:\n"
    for h in hosts:
        y += "    r-%s:\n      rule: \"Host(`%s`)\"\n      service: %s\n" % (h.replace(".", "-"), h, svc)
    return y


@pytest.mark.parametrize("source", ["none", "file", "flag", "env"])
def test_file_watch_option_from_every_source(tmp_path, procs, source):
    a = procs.whoami(name="a")
    svcs = "  services:\n" + service_yaml("a", [a.url])
    args, env = [], {}
    if source == "file":
        static = tmp_path / "static.yaml"
        static.write_text("providers:\n  file:\n    watch: false\n")
        args.append("--configFile=%s" % static)
    elif source == "flag":
        args.append("--providers.file.watch=false")
    elif source == "env":
        env["GANTRY_PROVIDERS_FILE_WATCH"] = "false"
    g = procs.gantry(tmp_path, routes(["one.test"], "a") + svcs, args=args, env_extra=env)
    wait_for(lambda: get(g.port, "/", "one.test")[0] == 200, what="first configuration")
    g.write(routes(["one.test", "two.test"], "a") + svcs)
    if source == "none":
        wait_for(lambda: get(g.port, "/", "two.test")[0] == 200, what="watched rewrite")
        return
    time.sleep(1.0)  # the control picks the rewrite up within milliseconds
    assert get(g.port, "/", "two.test")[0] == 404, "providers.file.watch=false from %s did not reach the provider" % source
    assert get(g.port, "/", "one.test")[0] == 200
