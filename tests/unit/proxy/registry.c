/* Tests proxy/registry.c: sharing, canonical URLs, refcounts, retirement,
 * names resolved off the caller's thread. */
#include "../../../proxy/registry.c"

#include <unistd.h>

#include "test.h"

/* Waits up to 5 s for the resolver to say something about <s>. */
static bool settled(struct server *s)
{
    for (int i = 0; i < 500; i++) {
        char err[200];
        server_dns_error(s, err, sizeof(err));
        if (atomic_load(&s->resolved) || err[0])
            return true;
        usleep(10000);
    }
    return false;
}

static int retired[4];
static void hook(uint32_t w, struct server *s)
{
    retired[w]++;
    registry_worker_done(s);
}

int main(void)
{
    registry_init(2);
    struct diag d;
    struct server *a = registry_acquire("http://127.0.0.1:8080", &d);
    struct server *b = registry_acquire("http://127.0.0.1:8080/", &d);
    struct server *c = registry_acquire("http://localhost:80", &d);
    struct server *c2 = registry_acquire("http://localhost", &d); /* same canonical URL */
    CHECK(a != NULL && a == b && c == c2 && a != c);
    CHECK_STR(a->url, "http://127.0.0.1:8080");
    CHECK_STR(c->url, "http://localhost:80");
    CHECK_STR(a->hostport, "127.0.0.1:8080");
    CHECK_STR(c->hostport, "localhost");
    CHECK(atomic_load(&a->refs) == 2 && registry_count() == 2);
    struct server *v6 = registry_acquire("https://[::1]:8443", &d);
    CHECK(v6 && v6->tls && v6->port == 8443);
    CHECK_STR(v6->hostport, "[::1]:8443");
    /* one block per server: its workers' counters on cache lines of their own */
    CHECK(((uintptr_t)&a->workers[0] & 63) == 0 && ((uintptr_t)&a->workers[1] & 63) == 0 && a->n_workers == 2);
    CHECK(a->key == a->url && v6->dns_error == NULL);

    CHECK(registry_acquire("ftp://x", &d) == NULL);
    CHECK_CONTAINS(d.msg, "unsupported scheme");
    /* h2c: HTTP/2 by prior knowledge, a server apart from http:// at the same address */
    struct server *h2 = registry_acquire("h2c://127.0.0.1:8080", &d);
    CHECK(h2 != NULL && h2 != a && h2->h2c && !h2->tls && h2->port == 8080);
    CHECK_STR(h2->url, "h2c://127.0.0.1:8080");
    registry_release(h2);
    /* a literal IP is ready at once, without the resolver */
    CHECK(atomic_load(&a->resolved) && a->dns == NULL && a->addrlen == sizeof(struct sockaddr_in));
    /* a name from /etc/hosts resolves soon after, off this thread */
    CHECK(c->dns != NULL && settled(c) && atomic_load(&c->resolved));
    struct sockaddr_storage ss;
    socklen_t len;
    uint32_t gen = server_address(c, &ss, &len);
    CHECK(gen == 1 && len > 0);
    CHECK(ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == 80
                                   : ntohs(((struct sockaddr_in *)&ss)->sin_port) == 80);
    /* a name that does not resolve: acquired, unavailable, with the reason */
    struct server *bad = registry_acquire("http://no-such-host.invalid:80", &d);
    CHECK(bad != NULL && settled(bad) && !atomic_load(&bad->resolved) && !server_available(bad, 0));
    char err[200];
    server_dns_error(bad, err, sizeof(err));
    CHECK_CONTAINS(err, "cannot resolve 'no-such-host.invalid'");
    registry_release(bad);
    CHECK(registry_acquire("http://127.0.0.1:99999", &d) == NULL);
    CHECK_CONTAINS(d.msg, "port 99999 is outside 1..65535");

    registry_retire_hook = hook;
    registry_release(b);
    CHECK(registry_count() == 3 && retired[0] == 0);
    registry_release(a); /* last reference: every worker is asked, the last frees */
    CHECK(registry_count() == 2 && retired[0] == 1 && retired[1] == 1);
    registry_retire_hook = NULL;
    registry_release(c);
    registry_release(c2);
    registry_release(v6);
    CHECK(registry_count() == 0);
    registry_shutdown();
    return test_report("proxy/registry");
}
