/* Tests the certificatesResolvers block of controller/static_config.c:
 * Traefik's defaults, the keys, and what is refused. */
#include "../../../controller/static_config.c"

#include "test.h"

static int load(struct static_config *c, struct diag *d, char *a, char *b, char *e)
{
    char *argv[] = {a, b, e};
    return static_config_load(c, e ? 3 : b ? 2 : 1, argv, d);
}

int main(void)
{
    struct static_config c;
    struct diag d;
    CHECK(load(&c, &d, "--certificatesResolvers.le.acme.httpChallenge.entryPoint=web", NULL, NULL) == 0);
    CHECK(c.n_resolvers == 1);
    const struct acme_resolver_config *r = &c.resolvers[0];
    CHECK_STR(r->name, "le");
    CHECK_STR(r->ca_server, "https://acme-v02.api.letsencrypt.org/directory");
    CHECK_STR(r->storage, "acme.json");
    CHECK_STR(r->key_type, "EC256");
    CHECK(r->certificates_duration_h == 2160 && r->http_challenge && !r->tls_challenge);
    CHECK_STR(r->http_entrypoint, "web");
    static_config_free(&c);

    CHECK(load(&c, &d, "--certificatesResolvers.x.acme.tlsChallenge=true", "--certificatesResolvers.x.acme.keyType=RSA4096",
               "--certificatesResolvers.x.acme.certificatesDuration=24") == 0);
    CHECK(c.n_resolvers == 1 && c.resolvers[0].tls_challenge && strcmp(c.resolvers[0].key_type, "RSA4096") == 0 &&
          c.resolvers[0].certificates_duration_h == 24);
    static_config_free(&c);

    CHECK(load(&c, &d, "--certificatesResolvers.x.acme.email=a@b.test", NULL, NULL) == -1);
    CHECK(strstr(d.msg, "needs httpChallenge or tlsChallenge") != NULL);
    static_config_free(&c);
    CHECK(load(&c, &d, "--certificatesResolvers.x.acme.dnsChallenge.provider=cloudflare", NULL, NULL) == -1);
    CHECK(strstr(d.msg, "DNS-01 challenge is not implemented") != NULL);
    static_config_free(&c);
    return test_report("controller/acme_static_config");
}
