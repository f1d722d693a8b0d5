"""The worker <-> admin boundary under concurrency (issue 16): two workers
carry HTTP/2 (h2c, and h2 over TLS) and HTTP/1.1 traffic to an HTTP/1.1
upstream (nginx) and an HTTP/2 upstream (nghttpd) while the admin thread
serves /api/http/routers, /api/overview and /metrics in a loop and the file
provider swaps the table underneath both. Every answer must be whole and
the counters the admin thread reads must add up to what the clients sent.

`make test-tsan` runs this file against the ThreadSanitizer build, where the
procs fixture fails the test on any "ThreadSanitizer" report in gantry's
output; with the plain build it is an ordinary stress test."""
import json
import os
import re
import threading
import time

from conftest import SLOW, Nginx, Process, free_port, get, run, wait_for, wait_port
from tls_certs import make_cert

# Routers the load uses stay in every version of the table; the swaps add
# and remove a changing set of other routers (new names each time, so their
# counters are created and freed while requests reach them) and change a
# weight, so each swap builds a new table that the workers and the admin
# thread pick up. The health check writes server state from the watcher
# thread that the workers read.
STABLE = """\
http:
  routers:
    h1up: {{rule: "Host(`h1up.test`)", service: h1up}}
    h2up: {{rule: "Host(`h2up.test`)", service: h2up}}
    h1up-tls: {{rule: "Host(`h1up.test`)", service: h1up, tls: {{}}}}
{extra_routers}
  services:
    h1up:
      weighted:
        services: [ {{name: h1pool, weight: {weight}}} ]
    h1pool:
      loadBalancer:
        servers: [ {{url: "{h1url}"}} ]
        healthCheck: {{path: /, interval: 100ms, timeout: 1s}}
    h2up:
      loadBalancer:
        servers: [ {{url: "{h2url}"}} ]
tls:
  certificates: [ {{certFile: "{crt}", keyFile: "{key}"}} ]
"""


def dynamic(version, h1url, h2url, crt, key):
    extra = "".join('    swap{0}-{1}: {{rule: "Host(`swap{1}.test`)", service: h1pool}}\n'.format(version, i)
                    for i in range(version % 5))
    return STABLE.format(extra_routers=extra, weight=1 + version % 3, h1url=h1url, h2url=h2url, crt=crt, key=key)


def h2load(args, timeout=180):
    r = run(["h2load"] + args, timeout=timeout)
    out = r.stdout.decode()
    m = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    codes = re.search(r"status codes: (\d+) 2xx", out)
    assert m and codes, out
    return min(int(m.group(2)), int(codes.group(1))), out  # requests that succeeded with a 2xx


def requests_counted(metrics_text, router):
    """Sum of gantry_requests_total over every code/method of <router>."""
    total = 0
    for line in metrics_text.splitlines():
        if line.startswith("gantry_requests_total{") and 'router="%s"' % router in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def test_admin_reads_while_workers_serve_and_tables_swap(tmp_path, procs):
    nginx = procs.add(Nginx(tmp_path))
    docs = tmp_path / "htdocs"
    docs.mkdir()
    (docs / "small").write_bytes(b"nghttpd small\n")
    h2port = free_port()
    procs.add(Process(["nghttpd", "--no-tls", "-d", str(docs), "--address=127.0.0.1", str(h2port)], "nghttpd"))
    wait_port(h2port)
    crt, key = make_cert(str(tmp_path), "h1up.test")
    urls = dict(h1url=nginx.url, h2url="h2c://127.0.0.1:%d" % h2port, crt=crt, key=key)

    access_log = str(tmp_path / "access.log")  # the workers hand lines to the writer thread
    g = procs.gantry(tmp_path, dynamic(0, **urls), workers=2,  # one entry point: TLS is sniffed
                     args=["--accessLog.filePath=" + access_log])
    wait_for(lambda: get(g.port, "/", "h1up.test")[0] == 200 and get(g.port, "/small", "h2up.test")[0] == 200,
             timeout=10, what="routes live")
    tls_port = g.port

    stop = threading.Event()
    failures = []
    admin_reads = {"routers": 0, "overview": 0, "metrics": 0, "services": 0, "rawdata": 0,
                   "entrypoints": 0, "router": 0}
    churn = {200: 0, 404: 0}
    swaps = [0]

    def admin_reader():
        while not stop.is_set():
            for path, key_ in (("/api/http/routers", "routers"), ("/api/overview", "overview"), ("/metrics", "metrics"),
                               ("/api/http/services", "services"), ("/api/rawdata", "rawdata"),
                               ("/api/entrypoints", "entrypoints"), ("/api/http/routers/h1up@file", "router")):
                status, body = g.admin(path)
                if status != 200:
                    failures.append((path, status, body[:300]))
                    return
                if key_ == "metrics":
                    if b"gantry_entrypoint_requests_total" not in body:
                        failures.append((path, "no entrypoint counters", body[:300]))
                        return
                else:
                    doc = json.loads(body)  # whole JSON, never a torn write
                    if key_ == "routers" and not any(r.get("name", "").startswith("h1up") for r in doc):
                        failures.append((path, "stable router missing", body[:300]))
                        return
                admin_reads[key_] += 1

    def swapper():
        version = 0
        while not stop.is_set() and version < 200:
            version += 1
            g.write(dynamic(version, **urls))
            swaps[0] = version
            time.sleep(0.15)

    def churn_traffic():
        """Requests to the routers that come and go: 200 or 404, nothing else."""
        i = 0
        while not stop.is_set():
            i += 1
            status, _, body = get(g.port, "/", "swap%d.test" % (i % 4))
            if status not in churn:
                failures.append(("churn", status, body[:300]))
                return
            churn[status] += 1

    threads = ([threading.Thread(target=admin_reader) for _ in range(2)]
               + [threading.Thread(target=swapper), threading.Thread(target=churn_traffic)])
    for t in threads:
        t.start()
    try:
        n = int(os.environ.get("GANTRY_CONCURRENCY_REQUESTS", "20000")) // SLOW
        loads = {
            # HTTP/2 clients (h2c prior knowledge) to the HTTP/1.1 and HTTP/2 upstreams
            "h1up": ["-n", str(n), "-c", "8", "-m", "10", "-H", ":authority: h1up.test", "http://127.0.0.1:%d/" % g.port],
            "h2up": ["-n", str(n), "-c", "8", "-m", "10", "-H", ":authority: h2up.test",
                     "http://127.0.0.1:%d/small" % g.port],
            # HTTP/1.1 clients to both
            "h1up-h1": ["--h1", "-n", str(n // 2), "-c", "8", "-H", ":authority: h1up.test",
                        "http://127.0.0.1:%d/" % g.port],
            "h2up-h1": ["--h1", "-n", str(n // 2), "-c", "8", "-H", ":authority: h2up.test",
                        "http://127.0.0.1:%d/small" % g.port],
            # h2 over TLS (ALPN)
            "tls": ["-n", str(n // 3), "-c", "4", "-m", "10", "--connect-to=127.0.0.1:%d" % tls_port,
                    "https://h1up.test:%d/" % tls_port],
        }
        results = {}

        def load(name, args):
            try:
                results[name] = h2load(args)
            except AssertionError as e:  # noqa: PERF203 - reported below
                results[name] = (-1, str(e))
        load_threads = [threading.Thread(target=load, args=item) for item in loads.items()]
        for t in load_threads:
            t.start()
        for t in load_threads:
            t.join()
    finally:
        stop.set()
        for t in threads:
            t.join()

    assert not failures, failures
    for name, args in loads.items():
        want = int(args[args.index("-n") + 1])
        assert results[name][0] == want, (name, results[name][1][-2000:])
    assert swaps[0] >= 3, swaps
    assert min(admin_reads.values()) >= 3, admin_reads
    assert churn[200] > 0 and churn[404] > 0, churn

    # what the workers counted is what the admin thread reports
    sent_h1up = sum(int(loads[k][loads[k].index("-n") + 1]) for k in ("h1up", "h1up-h1"))
    sent_h2up = sum(int(loads[k][loads[k].index("-n") + 1]) for k in ("h2up", "h2up-h1"))
    sent_tls = int(loads["tls"][loads["tls"].index("-n") + 1])

    def counted():
        status, body = g.admin("/metrics")
        text = body.decode()
        return (requests_counted(text, "h1up@file") >= sent_h1up and requests_counted(text, "h2up@file") >= sent_h2up
                and requests_counted(text, "h1up-tls@file") >= sent_tls) and text
    text = wait_for(counted, timeout=10, what="counters reach what was sent")
    # exactly, but for the few readiness probes of the first two
    assert requests_counted(text, "h1up@file") <= sent_h1up + 10, text
    assert requests_counted(text, "h2up@file") <= sent_h2up + 10, text
    assert requests_counted(text, "h1up-tls@file") == sent_tls, text
    wait_for(lambda: "h2up@file" in open(access_log).read(), timeout=10, what="access log lines written")
