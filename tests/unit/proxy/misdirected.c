/* Tests proxy/misdirected.c: which (host, connection certificate) pairs get
 * 421 against a table's certificate set built with table_add_cert, as the
 * aggregator builds it. Certificates are bare SSL_CTXs: only their identity
 * matters to the decision. */
#include "../../../proxy/misdirected.c"

#include <openssl/ssl.h>

#include "test.h"

static struct table *t;

static bool check(const char *host, const void *conn)
{
    return misdirected_check(t, host, strlen(host), conn);
}

static SSL_CTX *cert(const char *const *names, size_t n)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    CHECK(c != NULL);
    if (names != NULL)
        table_add_cert(t, c, names, n); /* the table takes its own reference */
    return c;
}

int main(void)
{
    t = table_new(1);
    SSL_CTX *dflt = cert(NULL, 0); /* the default certificate: never in a table */
    /* no certificate configured: nothing is misdirected, not even on the default one */
    CHECK(!check("a.test", dflt));
    table_finish(t);
    table_free(t);

    t = table_new(1);
    const char *a_names[] = {"a.test"};
    const char *both_names[] = {"c1.test", "c2.test"};
    const char *wild_names[] = {"*.wild.test"};
    const char *exact_in_wild[] = {"e.wild.test"};
    const char *dup_names[] = {"a.test", "f.test"};
    SSL_CTX *a = cert(a_names, 1), *both = cert(both_names, 2), *wild = cert(wild_names, 1);
    SSL_CTX *e = cert(exact_in_wild, 1), *dup = cert(dup_names, 2);
    table_finish(t);

    /* the host's own certificate */
    CHECK(!check("a.test", a));
    /* another SNI, no SNI or an IP literal (the default certificate), another certificate */
    CHECK(check("a.test", dflt));
    CHECK(check("a.test", both));
    CHECK(check("a.test", wild));
    /* connection coalescing: one certificate for both names */
    CHECK(!check("c1.test", both));
    CHECK(!check("c2.test", both));
    CHECK(check("c2.test", a));
    /* a wildcard covers one label, and coalesces the names under it */
    CHECK(!check("x.wild.test", wild));
    CHECK(!check("y.wild.test", wild));
    CHECK(check("x.wild.test", dflt));
    CHECK(!check("a.b.wild.test", dflt)); /* two labels: not covered, served on any certificate */
    CHECK(!check("wild.test", dflt));
    /* an exact name beats the wildcard (as on_sni picks), even on a
     * connection whose wildcard certificate would cover it */
    CHECK(!check("e.wild.test", e));
    CHECK(check("e.wild.test", wild));
    /* the first certificate for a name is the one served, so the one checked */
    CHECK(!check("a.test", a));
    CHECK(check("a.test", dup));
    CHECK(!check("f.test", dup));
    /* hosts with no certificate of their own keep being served on any */
    CHECK(!check("other.test", dflt));
    CHECK(!check("other.test", a));
    CHECK(!check("127.0.0.1", dflt));
    CHECK(!check("[::1]", dflt));
    /* no host, or a connection whose certificate is not known */
    CHECK(!check("", dflt));
    CHECK(!check("a.test", NULL));
    CHECK(!misdirected_check(NULL, "a.test", 6, dflt));

    table_free(t);
    SSL_CTX *all[] = {dflt, a, both, wild, e, dup};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        SSL_CTX_free(all[i]);
    return test_report("proxy/misdirected");
}
