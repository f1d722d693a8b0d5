"""The Docker engine itself going away: dockerd killed and restarted while
gantry serves (the last configuration keeps serving; after the restart a
full resync), and gantry started before dockerd exists."""
import re
import time

import dockerenv
from conftest import free_port, get, wait_for
from dockerenv import Dockerd, web_labels


def body(port, host):
    status, _, data = get(port, "/", host, timeout=2)
    return status, data.decode().strip()


def test_dockerd_killed_and_restarted(tmp_path, procs):
    dockerenv.require()
    engine = Dockerd(live_restore=True).start()
    try:
        engine.ensure_image()
        g = procs.gantry(tmp_path, None, args=["--providers.docker", "--providers.docker.endpoint=" + engine.host])
        pa, pb = free_port(), free_port()
        engine.run_web("survivor", pa, web_labels("survivor", pa))
        wait_for(lambda: body(g.port, "survivor.test") == (200, "survivor"), what="route")
        engine.kill()  # SIGKILL: live-restore keeps the container running
        g.wait_log(r"docker provider: .*retrying with backoff")
        for _ in range(20):  # the last good configuration keeps serving
            assert body(g.port, "survivor.test") == (200, "survivor")
        time.sleep(1.0)
        assert len(re.findall(r"retrying with backoff", g.output())) == 1
        engine.start()
        engine.run_web("newcomer", pb, web_labels("newcomer", pb))
        wait_for(lambda: body(g.port, "newcomer.test") == (200, "newcomer"), timeout=20, what="served after restart")
        engine.docker("rm", "-f", "survivor")
        wait_for(lambda: body(g.port, "survivor.test")[0] == 404, what="removed after restart")
        g.wait_log(r"docker provider: connected to the Docker API .* after \d+ attempts")
    finally:
        engine.stop()


def test_gantry_started_before_dockerd(tmp_path, procs):
    dockerenv.require()
    engine = Dockerd()
    g = procs.gantry(tmp_path, None, args=["--providers.docker", "--providers.docker.endpoint=" + engine.host])
    g.wait_log(r"docker provider: .*docker\.sock: No such file or directory \(is dockerd running\?\).*retrying with backoff")
    assert get(g.port, "/", "early.test")[0] == 404  # serving (nothing) meanwhile
    try:
        engine.start()
        engine.ensure_image()
        p = free_port()
        engine.run_web("early", p, web_labels("early", p))
        wait_for(lambda: body(g.port, "early.test") == (200, "early"), timeout=20, what="route once dockerd is up")
    finally:
        engine.stop()


def test_tcp_endpoint_with_tls_client_certificates(tmp_path, procs):
    """providers.docker.endpoint=tcp://... with DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem)."""
    dockerenv.require()
    import os
    import shutil
    from tls_certs import make_client_cert, make_ip_cert
    d = str(tmp_path)
    server = make_ip_cert(d, "dockerd", "127.0.0.1")
    client = make_client_cert(d, "gantry-client")
    certs = tmp_path / "docker-certs"
    certs.mkdir()
    shutil.copy(d + "/ca.crt", certs / "ca.pem")
    shutil.copy(client[0], certs / "cert.pem")
    shutil.copy(client[1], certs / "key.pem")
    port = free_port()
    engine = Dockerd(tcp=(port, d + "/ca.crt", server[0], server[1])).start()
    try:
        engine.ensure_image()
        os.environ["DOCKER_CERT_PATH"] = str(certs)
        try:
            g = procs.gantry(tmp_path, None, args=["--providers.docker",
                                                   "--providers.docker.endpoint=tcp://127.0.0.1:%d" % port])
        finally:
            del os.environ["DOCKER_CERT_PATH"]
        g.wait_log(r"docker provider: connected to the Docker API")
        p = free_port()
        engine.run_web("overtls", p, web_labels("overtls", p))
        wait_for(lambda: body(g.port, "overtls.test") == (200, "overtls"), what="route via tcp+TLS endpoint")
    finally:
        engine.stop()
