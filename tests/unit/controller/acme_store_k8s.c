/* Tests controller/acme/acme_store_k8s.c: the storage URI and the Secret
 * names (RFC 1123 subdomains whatever the resolver, domain or token). */
#include "../../../controller/acme/acme_store_k8s.c"

#include "test.h"

static bool rfc1123(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.'))
            return false;
    return true;
}

int main(void)
{
    char ns[64], prefix[64];
    CHECK(acme_k8s_parse("kubernetes://ingress/edge-acme", ns, sizeof(ns), prefix, sizeof(prefix)));
    CHECK_STR(ns, "ingress");
    CHECK_STR(prefix, "edge-acme");
    CHECK(acme_k8s_parse("kubernetes://ingress", ns, sizeof(ns), prefix, sizeof(prefix)));
    CHECK_STR(ns, "ingress");
    CHECK_STR(prefix, "gantry-acme");
    CHECK(!acme_k8s_parse("/data/acme.json", ns, sizeof(ns), prefix, sizeof(prefix)));
    CHECK(!acme_k8s_parse("acme.json", ns, sizeof(ns), prefix, sizeof(prefix)));

    struct acme_k8s k = {.ns = "ingress", .prefix = "gantry-acme"};
    char name[300];
    name_of(&k, "LE_prod", "WWW.Example.com", name, sizeof(name));
    CHECK_STR(name, "gantry-acme-le-prod-www.example.com");
    name_of(&k, "le", "account", name, sizeof(name));
    CHECK_STR(name, "gantry-acme-le-account");
    token_name(&k, "le", "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0_-", name, sizeof(name));
    CHECK(strncmp(name, "gantry-acme-le-chall-", 21) == 0 && strlen(name) == 21 + 24 && rfc1123(name));
    char other[300];
    token_name(&k, "le", "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0_+", other, sizeof(other));
    CHECK(strcmp(name, other) != 0); /* tokens differing in case or punctuation get their own Secret */
    char longd[400];
    memset(longd, 'a', sizeof(longd) - 2);
    longd[sizeof(longd) - 2] = '-';
    longd[sizeof(longd) - 1] = '\0';
    name_of(&k, "le", longd, name, sizeof(name));
    CHECK(rfc1123(name));
    return test_report("controller/acme_store_k8s");
}
