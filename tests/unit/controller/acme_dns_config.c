/* Tests controller/acme/acme_dns_config.c: the TXT value (RFC 8555 8.4),
 * the record's name, and the providers' environment (lego's names and
 * defaults, NAME_FILE, what is refused) with the dnsChallenge options. */
#include "../../../controller/acme/acme_dns_config.c"

#include <arpa/inet.h>
#include <unistd.h>

#include "test.h"

static const char *const *env_table;

static const char *fake_env(const char *name)
{
    for (size_t i = 0; env_table[i]; i += 2)
        if (strcmp(env_table[i], name) == 0)
            return env_table[i + 1];
    return NULL;
}

static struct acme_resolver_config resolver(const char *provider)
{
    return (struct acme_resolver_config){.name = "le", .dns_challenge = true, .dns_provider = provider};
}

static void test_value_and_name(void)
{
    /* base64url(SHA-256(keyAuthorization)), 43 characters, no padding */
    char *v = acme_dns_txt_value("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ");
    CHECK_STR(v, "NGwKoXBgCT8JhEa0bK7AwfSqHyu_ZWeugV07fLGIVq0");
    free(v);
    char *f = acme_dns_fqdn("example.com");
    CHECK_STR(f, "_acme-challenge.example.com.");
    free(f);
    f = acme_dns_fqdn("*.example.com"); /* a wildcard's record is its base domain's */
    CHECK_STR(f, "_acme-challenge.example.com.");
    free(f);
    f = acme_dns_fqdn("example.com.");
    CHECK_STR(f, "_acme-challenge.example.com.");
    free(f);
}

static void test_exec(void)
{
    struct acme_dns_config c;
    struct diag d;
    struct acme_resolver_config r = resolver("exec");
    const char *none[] = {NULL};
    env_table = none;
    CHECK(acme_dns_config_load(&c, &r, fake_env, &d) == -1);
    CHECK(strstr(d.msg, "certificatesResolvers.le.acme.dnsChallenge.provider exec") != NULL &&
          strstr(d.msg, "EXEC_PATH") != NULL);

    const char *defaults[] = {"EXEC_PATH", "/usr/local/bin/dns", NULL};
    env_table = defaults;
    CHECK(acme_dns_config_load(&c, &r, fake_env, &d) == 0);
    CHECK(c.provider == ACME_DNS_EXEC && !c.raw);
    CHECK_STR(c.program, "/usr/local/bin/dns");
    /* lego's defaults: 60 s, 2 s, and a sequence interval of 60 s */
    CHECK(c.propagation_timeout_ms == 60000 && c.polling_interval_ms == 2000 && c.sequence_interval_ms == 60000);
    CHECK(c.n_resolvers == 0 && c.delay_ms == 0 && !c.disable_checks && !c.require_all && !c.disable_ans);
    CHECK(c.follow_cname); /* lego follows CNAMEs unless LEGO_DISABLE_CNAME_SUPPORT */
    acme_dns_config_free(&c);

    const char *set[] = {"EXEC_PATH", "/x", "EXEC_MODE", "RAW", "EXEC_PROPAGATION_TIMEOUT", "120", "EXEC_POLLING_INTERVAL", "5",
                         "EXEC_SEQUENCE_INTERVAL", "0", "LEGO_DISABLE_CNAME_SUPPORT", "true", NULL};
    env_table = set;
    const char *res[] = {"1.1.1.1:53", "127.0.0.1:8053", "9.9.9.9", "[::1]:8053"};
    r.dns_resolvers = res;
    r.n_dns_resolvers = 4;
    r.dns_disable_ans_checks = true;
    r.dns_delay_ms = 3000;
    r.dns_require_all_rns = true;
    r.dns_disable_checks = true;
    CHECK(acme_dns_config_load(&c, &r, fake_env, &d) == 0);
    CHECK(c.raw && c.propagation_timeout_ms == 120000 && c.polling_interval_ms == 5000 && c.sequence_interval_ms == 0);
    CHECK(c.n_resolvers == 4 && ntohs(((struct sockaddr_in *)&c.resolvers[1].addr)->sin_port) == 8053 &&
          ntohs(((struct sockaddr_in *)&c.resolvers[2].addr)->sin_port) == 53);
    CHECK(c.resolvers[3].addr.ss_family == AF_INET6 && ntohs(((struct sockaddr_in6 *)&c.resolvers[3].addr)->sin6_port) == 8053);
    CHECK_STR(c.resolvers[0].name, "1.1.1.1:53");
    CHECK(c.delay_ms == 3000 && c.require_all && c.disable_checks && c.disable_ans && !c.follow_cname);
    acme_dns_config_free(&c);

    const char *badres[] = {"ns.example:53"};
    r.dns_resolvers = badres;
    r.n_dns_resolvers = 1;
    CHECK(acme_dns_config_load(&c, &r, fake_env, &d) == -1);
    CHECK(strstr(d.msg, "dnsChallenge.resolvers: 'ns.example:53'") != NULL);
    const char *badport[] = {"1.1.1.1:99999"};
    r.dns_resolvers = badport;
    CHECK(acme_dns_config_load(&c, &r, fake_env, &d) == -1);
    r.n_dns_resolvers = 0;

    const char *badnum[] = {"EXEC_PATH", "/x", "EXEC_PROPAGATION_TIMEOUT", "1m", NULL};
    env_table = badnum;
    CHECK(acme_dns_config_load(&c, &r, fake_env, &d) == -1);
    CHECK(strstr(d.msg, "EXEC_PROPAGATION_TIMEOUT: '1m' is not a number of seconds") != NULL);
}

static void test_httpreq(void)
{
    struct acme_dns_config c;
    struct diag d;
    struct acme_resolver_config r = resolver("httpreq");
    char path[] = "/tmp/acme_dns_config_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, "s3cret\n", 7) == 7);
    close(fd);
    /* HTTPREQ_PASSWORD_FILE: the value from a file (lego's env.GetOrFile) */
    const char *set[] = {"HTTPREQ_ENDPOINT", "https://dns.example/api", "HTTPREQ_USERNAME", "u", "HTTPREQ_PASSWORD_FILE", path,
                         "HTTPREQ_HTTP_TIMEOUT", "7", NULL};
    env_table = set;
    CHECK(acme_dns_config_load(&c, &r, fake_env, &d) == 0);
    CHECK(c.provider == ACME_DNS_HTTPREQ && !c.raw && c.http_timeout_ms == 7000 && c.sequence_interval_ms == 0);
    CHECK_STR(c.endpoint, "https://dns.example/api");
    CHECK_STR(c.username, "u");
    CHECK_STR(c.password, "s3cret");
    CHECK(c.propagation_timeout_ms == 60000 && c.polling_interval_ms == 2000);
    acme_dns_config_free(&c);
    unlink(path);
    CHECK(acme_dns_config_load(&c, &r, fake_env, &d) == -1); /* the file is gone */
    CHECK(strstr(d.msg, "HTTPREQ_PASSWORD_FILE") != NULL);

    const char *none[] = {"HTTPREQ_MODE", "RAW", NULL};
    env_table = none;
    CHECK(acme_dns_config_load(&c, &r, fake_env, &d) == -1);
    CHECK(strstr(d.msg, "HTTPREQ_ENDPOINT") != NULL);
    const char *notu[] = {"HTTPREQ_ENDPOINT", "dns.example", NULL};
    env_table = notu;
    CHECK(acme_dns_config_load(&c, &r, fake_env, &d) == -1);
    CHECK(strstr(d.msg, "not an http:// or https:// URL") != NULL);
    const char *dflt[] = {"HTTPREQ_ENDPOINT", "http://127.0.0.1:1", NULL};
    env_table = dflt;
    CHECK(acme_dns_config_load(&c, &r, fake_env, &d) == 0);
    CHECK(c.http_timeout_ms == 30000 && c.username == NULL && c.password == NULL);
    acme_dns_config_free(&c);

    r = resolver("route53");
    CHECK(acme_dns_config_load(&c, &r, fake_env, &d) == -1);
    CHECK(strstr(d.msg, "'route53' is not supported") != NULL);
}

int main(void)
{
    test_value_and_name();
    test_exec();
    test_httpreq();
    return test_report("controller/acme_dns_config");
}
