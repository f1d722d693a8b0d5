"""retryOnResponseHeaderTimeout (what ingress-nginx's proxy-next-upstream
"timeout" becomes): a server that takes the request and never answers
within the transport's responseHeaderTimeout is left for the next one, for
requests that can be sent again; without it, or for a POST, the client gets
the 504.
"""
from attack import RecordingUpstream
from conftest import get, service_yaml, wait_for
from tcp_peers import Listener


class SilentUpstream(Listener):
    """Accepts, reads the request, never answers (until stopped)."""

    def __init__(self):
        self.requests = 0
        self.conns = []
        self.listen(backlog=64)
        self.url = "http://" + self.address

    def one(self, c):
        self.conns.append(c)
        try:
            while c.recv(65536):
                self.requests += 1
        except OSError:
            pass

    def stop(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def config(silent, fast, retry_opts):
    return ("http:\n  routers:\n"
            "    r: {rule: \"Host(`r.test`)\", service: app, middlewares: [retry]}\n"
            "  middlewares:\n"
            "    retry: {retry: {attempts: 3, %s}}\n"
            "  serversTransports:\n"
            "    quick: {forwardingTimeouts: {responseHeaderTimeout: 300ms}}\n"
            "  services:\n" % retry_opts
            + service_yaml("app", [silent.url, fast.url], "        serversTransport: quick\n"
                           # the silent server stays in the rotation: every request meets it in turn
                           "        passiveHealthcheck: {maxFailedAttempts: 1000}\n"))


def test_a_response_header_timeout_passes_an_idempotent_request_on(tmp_path, procs):
    silent, fast = SilentUpstream(), RecordingUpstream()
    try:
        g = procs.gantry(tmp_path, config(silent, fast, "retryOnResponseHeaderTimeout: true"))
        wait_for(lambda: get(g.port, "/", "r.test")[0] == 200, what="route live")
        before = silent.requests
        statuses = [get(g.port, "/", "r.test")[0] for _ in range(6)]
        assert statuses == [200] * 6, statuses
        assert silent.requests > before  # the silent server did get some of them first
        # a POST is not sent twice (no retryNonIdempotentMethod): its share times out
        posts = [get(g.port, "/", "r.test", method="POST", body=b"x")[0] for _ in range(4)]
        assert 504 in posts and set(posts) <= {200, 504}, posts
    finally:
        silent.stop()
        fast.stop()


def test_without_the_option_the_timeout_is_the_answer(tmp_path, procs):
    silent, fast = SilentUpstream(), RecordingUpstream()
    try:
        g = procs.gantry(tmp_path, config(silent, fast, "status: [\"500\"]"))
        wait_for(lambda: get(g.port, "/", "r.test")[0] in (200, 504), what="route live")
        statuses = [get(g.port, "/", "r.test")[0] for _ in range(6)]
        assert 504 in statuses and set(statuses) <= {200, 504}, statuses
    finally:
        silent.stop()
        fast.stop()
