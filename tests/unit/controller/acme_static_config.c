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
    CHECK_STR(r->key_type, "RSA4096"); /* Traefik v3's SetDefaults */
    CHECK(!r->disable_common_name && r->n_email_addresses == 0);
    CHECK(r->certificates_duration_h == 2160 && r->http_challenge && !r->tls_challenge);
    CHECK_STR(r->http_entrypoint, "web");
    /* Traefik v3's client defaults: 2m, 30s; no delay, no CA options */
    CHECK(r->client_timeout_ms == 120000 && r->client_response_header_timeout_ms == 30000 && r->http_delay_ms == 0);
    CHECK(r->n_ca_certificates == 0 && !r->ca_system_cert_pool && r->ca_server_name == NULL);
    CHECK(r->certificate_timeout_ms == 30000 && r->tls_delay_ms == 0); /* certificateTimeout: Traefik's 30s */
    static_config_free(&c);

    /* certificateTimeout and tlsChallenge.delay (Traefik v3's keys), tlsChallenge as a block */
    CHECK(load(&c, &d, "--certificatesResolvers.t.acme.tlsChallenge.delay=3s",
               "--certificatesResolvers.t.acme.certificateTimeout=2m", NULL) == 0);
    r = &c.resolvers[0];
    CHECK(r->tls_challenge && !r->http_challenge && r->tls_delay_ms == 3000 && r->certificate_timeout_ms == 120000);
    static_config_free(&c);

    {
        char *argv[] = {"--certificatesResolvers.p.acme.httpChallenge.entryPoint=web",
                        "--certificatesResolvers.p.acme.httpChallenge.delay=5s",
                        "--certificatesResolvers.p.acme.caCertificates=/a.pem,/b.pem",
                        "--certificatesResolvers.p.acme.caSystemCertPool=true",
                        "--certificatesResolvers.p.acme.caServerName=ca.internal",
                        "--certificatesResolvers.p.acme.clientTimeout=90s",
                        "--certificatesResolvers.p.acme.clientResponseHeaderTimeout=90s"};
        CHECK(static_config_load(&c, 7, argv, &d) == 0);
        r = &c.resolvers[0];
        CHECK(r->http_delay_ms == 5000 && r->client_timeout_ms == 90000 && r->client_response_header_timeout_ms == 90000);
        CHECK(r->n_ca_certificates == 2 && strcmp(r->ca_certificates[0], "/a.pem") == 0 &&
              strcmp(r->ca_certificates[1], "/b.pem") == 0);
        CHECK(r->ca_system_cert_pool);
        CHECK_STR(r->ca_server_name, "ca.internal");
        static_config_free(&c);
    }
    /* Traefik refuses a transaction timeout shorter than the header timeout */
    CHECK(load(&c, &d, "--certificatesResolvers.p.acme.httpChallenge.entryPoint=web",
               "--certificatesResolvers.p.acme.clientTimeout=5s", NULL) == -1);
    CHECK(strstr(d.msg, "clientTimeout must be at least clientResponseHeaderTimeout") != NULL);
    static_config_free(&c);

    CHECK(load(&c, &d, "--certificatesResolvers.x.acme.tlsChallenge=true", "--certificatesResolvers.x.acme.keyType=EC256",
               "--certificatesResolvers.x.acme.certificatesDuration=24") == 0);
    CHECK(c.n_resolvers == 1 && c.resolvers[0].tls_challenge && strcmp(c.resolvers[0].key_type, "EC256") == 0 &&
          c.resolvers[0].certificates_duration_h == 24);
    static_config_free(&c);

    CHECK(load(&c, &d, "--certificatesResolvers.x.acme.email=a@b.test", NULL, NULL) == -1);
    CHECK(strstr(d.msg, "needs httpChallenge, tlsChallenge or dnsChallenge") != NULL);
    static_config_free(&c);
    /* dnsChallenge: only exec and httpreq; another provider is refused naming the resolver and the provider */
    CHECK(load(&c, &d, "--certificatesResolvers.x.acme.dnsChallenge.provider=cloudflare", NULL, NULL) == -1);
    CHECK(strstr(d.msg, "certificatesResolvers.x.acme.dnsChallenge.provider: 'cloudflare' is not supported") != NULL &&
          strstr(d.msg, "only exec and httpreq") != NULL);
    static_config_free(&c);
    CHECK(load(&c, &d, "--certificatesResolvers.x.acme.dnsChallenge.resolvers=1.1.1.1:53", NULL, NULL) == -1);
    CHECK(strstr(d.msg, "dnsChallenge.provider is required") != NULL);
    static_config_free(&c);
    {
        /* Traefik v3.3+'s propagation block */
        char *argv[] = {"--certificatesResolvers.d.acme.dnsChallenge.provider=exec",
                        "--certificatesResolvers.d.acme.dnsChallenge.resolvers=1.1.1.1:53,8.8.8.8:53",
                        "--certificatesResolvers.d.acme.dnsChallenge.propagation.delayBeforeChecks=4s",
                        "--certificatesResolvers.d.acme.dnsChallenge.propagation.disableChecks=true",
                        "--certificatesResolvers.d.acme.dnsChallenge.propagation.requireAllRNS=true",
                        "--certificatesResolvers.d.acme.dnsChallenge.propagation.disableANSChecks=true"};
        CHECK(static_config_load(&c, 6, argv, &d) == 0);
        r = &c.resolvers[0];
        CHECK(r->dns_challenge && !r->http_challenge && !r->tls_challenge);
        CHECK_STR(r->dns_provider, "exec");
        CHECK(r->n_dns_resolvers == 2 && strcmp(r->dns_resolvers[1], "8.8.8.8:53") == 0);
        CHECK(r->dns_delay_ms == 4000 && r->dns_disable_checks && r->dns_require_all_rns && r->dns_disable_ans_checks);
        static_config_free(&c);
    }
    /* the deprecated names mean the same */
    CHECK(load(&c, &d, "--certificatesResolvers.d.acme.dnsChallenge.provider=httpreq",
               "--certificatesResolvers.d.acme.dnsChallenge.delayBeforeCheck=2s",
               "--certificatesResolvers.d.acme.dnsChallenge.disablePropagationCheck=true") == 0);
    r = &c.resolvers[0];
    CHECK(r->dns_delay_ms == 2000 && r->dns_disable_checks && !r->dns_require_all_rns);
    CHECK_STR(r->dns_provider, "httpreq");
    static_config_free(&c);
    /* the CSR's options (Traefik v3): applied, not ignored */
    CHECK(load(&c, &d, "--certificatesResolvers.x.acme.tlsChallenge=true",
               "--certificatesResolvers.x.acme.emailAddresses=ops@a.test,sec@a.test",
               "--certificatesResolvers.x.acme.disableCommonName=true") == 0);
    CHECK(c.resolvers[0].disable_common_name && c.resolvers[0].n_email_addresses == 2 &&
          strcmp(c.resolvers[0].email_addresses[1], "sec@a.test") == 0);
    static_config_free(&c);
    /* profile cannot be honoured yet: the resolver is refused, naming the option */
    CHECK(load(&c, &d, "--certificatesResolvers.x.acme.tlsChallenge=true", "--certificatesResolvers.x.acme.profile=tlsserver",
               NULL) == -1);
    CHECK(strstr(d.msg, "certificatesResolvers.x") != NULL && strstr(d.msg, "profile") != NULL &&
          strstr(d.msg, "not supported") != NULL);
    static_config_free(&c);
    return test_report("controller/acme_static_config");
}
