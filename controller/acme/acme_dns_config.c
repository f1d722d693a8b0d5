/* The pure parts of DNS-01 (see acme_dns.h): the provider's environment,
 * the dnsChallenge options, the record's name and value. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "../../common/arena.h"
#include "acme_crypto.h"
#include "acme_dns.h"

#define DEFAULT_PROPAGATION_MS 60000 /* lego's dns01.DefaultPropagationTimeout */
#define DEFAULT_POLLING_MS 2000      /* dns01.DefaultPollingInterval */
#define DEFAULT_HTTP_TIMEOUT_MS 30000
#define MAX_FILE_VALUE 65536

/* lego's env.GetOrFile: NAME, else the content of the file NAME_FILE
 * (trailing newlines dropped). 1: found (*out malloc'd), 0: unset, -1: error. */
static int env_value(acme_dns_getenv_fn get, const char *name, char **out, char *why, size_t why_len)
{
    const char *v = get(name);
    *out = NULL;
    if (v != NULL && *v != '\0') {
        *out = mem_strdup(v);
        return 1;
    }
    char file_var[128];
    snprintf(file_var, sizeof(file_var), "%s_FILE", name);
    const char *path = get(file_var);
    if (path == NULL || *path == '\0')
        return 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(why, why_len, "%s: cannot read '%s': %s", file_var, path, strerror(errno));
        return -1;
    }
    char *buf = mem_alloc(MAX_FILE_VALUE + 1);
    size_t n = fread(buf, 1, MAX_FILE_VALUE, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    *out = buf;
    return 1;
}

/* lego's env.GetOrDefaultSecond: whole seconds. A value that is not one is refused (lego would fall back silently). */
static int env_seconds(acme_dns_getenv_fn get, const char *prefix, const char *suffix, uint64_t def_ms, uint64_t *out,
                       char *why, size_t why_len)
{
    char name[128];
    snprintf(name, sizeof(name), "%s%s", prefix, suffix);
    char *v = NULL;
    int rc = env_value(get, name, &v, why, why_len);
    *out = def_ms;
    if (rc <= 0)
        return rc;
    char *end;
    errno = 0;
    long long s = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || s < 0 || s > 86400 * 365) {
        snprintf(why, why_len, "%s: '%s' is not a number of seconds", name, v);
        free(v);
        return -1;
    }
    free(v);
    *out = (uint64_t)s * 1000;
    return 0;
}

int acme_dns_config_load(struct acme_dns_config *c, const struct acme_resolver_config *r, acme_dns_getenv_fn get,
                         struct diag *d)
{
    memset(c, 0, sizeof(*c));
    char why[512] = "";
    const char *p = r->dns_provider ? r->dns_provider : "";
    if (strcmp(p, "exec") == 0) {
        c->provider = ACME_DNS_EXEC;
        c->env_prefix = "EXEC_";
    } else if (strcmp(p, "httpreq") == 0) {
        c->provider = ACME_DNS_HTTPREQ;
        c->env_prefix = "HTTPREQ_";
    } else {
        return diag_set(d, "certificatesResolvers.%s.acme.dnsChallenge.provider: '%s' is not supported by gantry (only exec "
                           "and httpreq; other DNS providers can be bridged with exec)", r->name, p);
    }
    char name[64], *mode = NULL;
    int rc;
    if (c->provider == ACME_DNS_EXEC) {
        if ((rc = env_value(get, "EXEC_PATH", &c->program, why, sizeof(why))) == 0)
            snprintf(why, sizeof(why), "some credentials information are missing: EXEC_PATH");
        if (rc <= 0)
            goto bad;
    } else {
        if ((rc = env_value(get, "HTTPREQ_ENDPOINT", &c->endpoint, why, sizeof(why))) == 0)
            snprintf(why, sizeof(why), "some credentials information are missing: HTTPREQ_ENDPOINT");
        if (rc <= 0)
            goto bad;
        if (strncmp(c->endpoint, "http://", 7) != 0 && strncmp(c->endpoint, "https://", 8) != 0) {
            snprintf(why, sizeof(why), "HTTPREQ_ENDPOINT: '%s' is not an http:// or https:// URL", c->endpoint);
            goto bad;
        }
        if (env_value(get, "HTTPREQ_USERNAME", &c->username, why, sizeof(why)) < 0 ||
            env_value(get, "HTTPREQ_PASSWORD", &c->password, why, sizeof(why)) < 0 ||
            env_seconds(get, c->env_prefix, "HTTP_TIMEOUT", DEFAULT_HTTP_TIMEOUT_MS, &c->http_timeout_ms, why, sizeof(why)) < 0)
            goto bad;
    }
    snprintf(name, sizeof(name), "%sMODE", c->env_prefix);
    if (env_value(get, name, &mode, why, sizeof(why)) < 0)
        goto bad;
    c->raw = mode && strcmp(mode, "RAW") == 0; /* lego: RAW, anything else the default */
    free(mode);
    if (env_seconds(get, c->env_prefix, "PROPAGATION_TIMEOUT", DEFAULT_PROPAGATION_MS, &c->propagation_timeout_ms, why,
                    sizeof(why)) < 0 ||
        env_seconds(get, c->env_prefix, "POLLING_INTERVAL", DEFAULT_POLLING_MS, &c->polling_interval_ms, why, sizeof(why)) < 0)
        goto bad;
    /* exec is sequential, its interval defaulting to the propagation timeout's default (lego) */
    if (c->provider == ACME_DNS_EXEC &&
        env_seconds(get, c->env_prefix, "SEQUENCE_INTERVAL", DEFAULT_PROPAGATION_MS, &c->sequence_interval_ms, why,
                    sizeof(why)) < 0)
        goto bad;
    if (c->polling_interval_ms == 0)
        c->polling_interval_ms = DEFAULT_POLLING_MS;
    if (r->n_dns_resolvers > ACME_DNS_MAX_RESOLVERS) {
        acme_dns_config_free(c);
        return diag_set(d, "certificatesResolvers.%s.acme.dnsChallenge.resolvers: at most %d", r->name, ACME_DNS_MAX_RESOLVERS);
    }
    for (size_t i = 0; i < r->n_dns_resolvers; i++) {
        if (acme_dns_server_parse(r->dns_resolvers[i], &c->resolvers[i], why, sizeof(why)) != 0) {
            acme_dns_config_free(c);
            return diag_set(d, "certificatesResolvers.%s.acme.dnsChallenge.resolvers: %s", r->name, why);
        }
        c->n_resolvers++;
    }
    c->delay_ms = r->dns_delay_ms;
    c->disable_checks = r->dns_disable_checks;
    c->require_all = r->dns_require_all_rns;
    c->disable_ans = r->dns_disable_ans_checks;
    /* lego's strconv.ParseBool: anything else (or nothing) keeps CNAMEs followed */
    const char *nc = get("LEGO_DISABLE_CNAME_SUPPORT");
    static const char *const truths[] = {"1", "t", "T", "TRUE", "true", "True"};
    c->follow_cname = true;
    for (size_t i = 0; nc && i < sizeof(truths) / sizeof(truths[0]); i++)
        if (strcmp(nc, truths[i]) == 0)
            c->follow_cname = false;
    return 0;
bad:
    acme_dns_config_free(c);
    return diag_set(d, "certificatesResolvers.%s.acme.dnsChallenge.provider %s: %s", r->name, p, why);
}

void acme_dns_config_free(struct acme_dns_config *c)
{
    free(c->program);
    free(c->endpoint);
    free(c->username);
    free(c->password);
    c->program = c->endpoint = c->username = c->password = NULL;
}

char *acme_dns_fqdn(const char *domain)
{
    if (strncmp(domain, "*.", 2) == 0)
        domain += 2;
    size_t n = strlen(domain) + 32;
    char *out = mem_alloc(n);
    size_t len = strlen(domain);
    snprintf(out, n, "_acme-challenge.%s%s", domain, len && domain[len - 1] == '.' ? "" : ".");
    return out;
}

char *acme_dns_txt_value(const char *keyauth)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)keyauth, strlen(keyauth), md);
    return acme_b64url(md, sizeof(md));
}
