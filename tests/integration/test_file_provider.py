"""The file provider: changes are live within milliseconds without a
reload, broken files are reported with file:line:col while the previous
configuration keeps serving, editors' rename dance and directories work,
and 200 rewrites under load cost zero failed requests."""
import os
import re
import subprocess
import time

from conftest import Nginx, get, service_yaml, wait_for, whoami_json


def routes(services_by_host):
    y = "http:\n  routers:\n"
    for host, svc in services_by_host.items():
        y += "    r-%s:\n      rule: \"Host(`%s`)\"\n      service: %s\n" % (host.replace(".", "-"), host, svc)
    return y


def test_change_is_live_quickly(tmp_path, procs):
    a, b = procs.whoami(name="a"), procs.whoami(name="b")
    svcs = "  services:\n" + service_yaml("a", [a.url]) + service_yaml("b", [b.url])
    g = procs.gantry(tmp_path, routes({"one.test": "a"}) + svcs)
    assert whoami_json(g.port, "/", "one.test")["name"] == "a"
    assert get(g.port, "/", "two.test")[0] == 404
    t0 = time.time()
    g.write(routes({"one.test": "b", "two.test": "a"}) + svcs)
    wait_for(lambda: get(g.port, "/", "two.test")[0] == 200, interval=0.002, what="new route")
    took = time.time() - t0
    assert whoami_json(g.port, "/", "one.test")["name"] == "b"
    assert took < 0.5, took
    m = re.findall(r"configuration applied in ([0-9.]+) ms", g.output())
    assert len(m) >= 2 and float(m[-1]) < 10


def test_broken_file_keeps_previous_configuration(tmp_path, procs):
    a = procs.whoami(name="a")
    good = routes({"one.test": "a"}) + "  services:\n" + service_yaml("a", [a.url])
    g = procs.gantry(tmp_path, good)
    assert get(g.port, "/", "one.test")[0] == 200
    # YAML syntax error
    g.write(good + "  bad: [\n")
    g.wait_log(r"dynamic\.yaml:\d+:\d+: .*keeping the previous configuration")
    assert get(g.port, "/", "one.test")[0] == 200
    # a structural error (a port that is not a number) names the place too
    g.write(good.replace("one.test", "two.test") + "    b:\n      loadBalancer:\n        servers: [{url: \"http://x:abc\"}]\n")
    g.wait_log(r"dynamic\.yaml:\d+:\d+: service 'b': invalid server url 'http://x:abc'")
    assert get(g.port, "/", "one.test")[0] == 200 and get(g.port, "/", "two.test")[0] == 404
    # a bad rule makes the file bad too (the previous configuration keeps
    # serving), with the router's position and the rule's column
    g.write(routes({"one.test": "a", "three.test": "a"}).replace("Host(`three.test`)", "Host(`three.test`) && Paht(`/`)")
            + "  services:\n" + service_yaml("a", [a.url]))
    g.wait_log(r"dynamic\.yaml:\d+:\d+: router 'r-three-test@file': rule .*column 23: unknown matcher 'Paht'")
    assert get(g.port, "/", "one.test")[0] == 200 and get(g.port, "/", "three.test")[0] == 404
    # fixed again
    g.write(routes({"one.test": "a", "three.test": "a"}) + "  services:\n" + service_yaml("a", [a.url]))
    wait_for(lambda: get(g.port, "/", "three.test")[0] == 200, what="fixed router")
    # an edit that breaks a router that works: the file is refused, the
    # router keeps its last good rule
    g.write(routes({"one.test": "a", "three.test": "a"}).replace("Host(`one.test`)", "Host(`one.test`) && Paht(`/`)")
            + "  services:\n" + service_yaml("a", [a.url]))
    g.wait_log(r"router 'r-one-test@file': rule .*unknown matcher 'Paht'.*\n.*keeping the previous configuration")
    assert get(g.port, "/", "one.test")[0] == 200 and get(g.port, "/", "three.test")[0] == 200


def test_in_place_edit_and_missing_file(tmp_path, procs):
    a = procs.whoami(name="a")
    good = routes({"one.test": "a"}) + "  services:\n" + service_yaml("a", [a.url])
    g = procs.gantry(tmp_path, good)
    with open(g.dynamic_path, "w") as f:  # truncate + write in place, like `echo > file`
        f.write(good.replace("one.test", "edited.test"))
    wait_for(lambda: get(g.port, "/", "edited.test")[0] == 200, what="in-place edit")
    os.unlink(g.dynamic_path)
    g.wait_log(r"dynamic\.yaml: No such file or directory; keeping the previous configuration")
    assert get(g.port, "/", "edited.test")[0] == 200


def test_directory_provider(tmp_path, procs):
    a, b = procs.whoami(name="a"), procs.whoami(name="b")
    d = tmp_path / "conf.d"
    d.mkdir()
    (d / "a.yaml").write_text(routes({"a.test": "a"}) + "  services:\n" + service_yaml("a", [a.url]))
    g = procs.gantry(tmp_path, None, args=["--providers.file.directory=%s" % d])
    assert whoami_json(g.port, "/", "a.test")["name"] == "a"
    (d / ".b.yaml.swp").write_text("garbage: [")  # editor files are ignored
    (d / "b.yml.tmp").write_text(routes({"b.test": "b"}) + "  services:\n" + service_yaml("b", [b.url]))
    os.rename(d / "b.yml.tmp", d / "b.yml")
    wait_for(lambda: get(g.port, "/", "b.test")[0] == 200, what="second file")
    (d / "a.yaml").write_text("http: [broken\n")  # a broken file keeps its last content; others unaffected
    g.wait_log(r"a\.yaml:\d+:\d+:")
    assert get(g.port, "/", "a.test")[0] == 200 and get(g.port, "/", "b.test")[0] == 200
    os.unlink(d / "b.yml")
    wait_for(lambda: get(g.port, "/", "b.test")[0] == 404, what="removed file's routes gone")


def test_200_rewrites_under_load_lose_nothing(tmp_path, procs):
    ng = [procs.add(Nginx(tmp_path)), procs.add(Nginx(tmp_path))]
    base = "http:\n  routers:\n    load:\n      rule: \"Host(`load.test`)\"\n      service: s\n"

    def version(i):
        extra = "".join("    r%d:\n      rule: \"Host(`r%d.test`)\"\n      service: s\n" % (j, j) for j in range(i % 7))
        urls = [ng[0].url] if i % 2 else [ng[0].url, ng[1].url]
        return base + extra + "  services:\n" + service_yaml("s", urls)

    g = procs.gantry(tmp_path, version(0))
    wrk = subprocess.Popen(["wrk", "-t1", "-c16", "-d6s", "-H", "Host: load.test", "http://127.0.0.1:%d/" % g.port],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    for i in range(1, 201):
        g.write(version(i))
        time.sleep(0.02)
    out = wrk.communicate(timeout=60)[0].decode()
    applied = len(re.findall(r"configuration applied", g.output()))
    assert applied >= 50, applied  # bursts are coalesced, but changes did go live
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    n = int(re.search(r"(\d+) requests in", out).group(1))
    assert n > 1000, out
