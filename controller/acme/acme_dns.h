/*
 * The DNS-01 challenge (RFC 8555 8.4) of a resolver with dnsChallenge:
 * the TXT record _acme-challenge.<domain> is published by lego's "exec"
 * or "httpreq" provider (configured, as in Traefik, by lego's environment
 * variables), then looked up at dnsChallenge.resolvers until it is there
 * before the CA is told to validate, and withdrawn afterwards. A CNAME on
 * _acme-challenge.<domain> is followed, as lego does.
 *
 * The provider calls and the lookups block, so they run on a thread of
 * their own, one job at a time (lego solves a sequential provider's
 * authorizations one after the other); the outcome of a "present" comes
 * back on the watcher thread. Nothing here blocks the watcher or the data
 * plane.
 */
#ifndef GANTRY_ACME_DNS_H
#define GANTRY_ACME_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/diag.h"
#include "../static_config.h"
#include "acme_dns_query.h"

enum acme_dns_provider { ACME_DNS_EXEC, ACME_DNS_HTTPREQ };

#define ACME_DNS_MAX_RESOLVERS 16

struct acme_dns_config {
    enum acme_dns_provider provider;
    const char *env_prefix;    /* "EXEC_" or "HTTPREQ_", for messages */
    char *program;             /* EXEC_PATH */
    char *endpoint;            /* HTTPREQ_ENDPOINT */
    char *username, *password; /* HTTPREQ_USERNAME, HTTPREQ_PASSWORD (both, or no basic auth) */
    bool raw;                  /* EXEC_MODE / HTTPREQ_MODE = RAW: domain, token and key authorization */
    uint64_t propagation_timeout_ms; /* *_PROPAGATION_TIMEOUT, 60 s */
    uint64_t polling_interval_ms;    /* *_POLLING_INTERVAL, 2 s */
    uint64_t sequence_interval_ms;   /* EXEC_SEQUENCE_INTERVAL, 60 s: between two authorizations of an order */
    uint64_t http_timeout_ms;        /* HTTPREQ_HTTP_TIMEOUT, 30 s */
    bool follow_cname;               /* unless LEGO_DISABLE_CNAME_SUPPORT is true */
    /* dnsChallenge */
    struct acme_dns_server resolvers[ACME_DNS_MAX_RESOLVERS];
    size_t n_resolvers; /* 0: the system's (/etc/resolv.conf) */
    uint64_t delay_ms;
    bool disable_checks, require_all, disable_ans;
};

/* A variable of the environment (getenv, or a table in tests). */
typedef const char *(*acme_dns_getenv_fn)(const char *name);

/* Reads the provider's variables (lego's names; NAME_FILE for a value in a
 * file, as lego's env.GetOrFile) and the dnsChallenge options of <r>. A
 * missing or bad one is an error naming the resolver and the variable. */
int acme_dns_config_load(struct acme_dns_config *c, const struct acme_resolver_config *r, acme_dns_getenv_fn get,
                         struct diag *d) WARN_UNUSED;
void acme_dns_config_free(struct acme_dns_config *c);

/* "_acme-challenge.<domain>." (a wildcard's "*." dropped). malloc'd. */
char *acme_dns_fqdn(const char *domain);
/* The TXT value: base64url(SHA-256(<keyauth>)) without padding. malloc'd. */
char *acme_dns_txt_value(const char *keyauth);

struct acme_dns;
/* The outcome of a present (<error> NULL: published and seen at the resolvers). */
typedef void (*acme_dns_cb)(void *data, const char *error);

/* Takes <c> (moved; the caller's copy is cleared). NULL when the thread cannot start. */
struct acme_dns *acme_dns_new(struct acme_dns_config *c, const char *resolver_name);
/* Pending cleanups run (bounded), then the thread ends. */
void acme_dns_free(struct acme_dns *d);
/* A new order: its first authorization does not wait EXEC_SEQUENCE_INTERVAL. */
void acme_dns_order_start(struct acme_dns *d);
/* Follows the CNAME chain of _acme-challenge.<domain>, publishes the record
 * at its end, waits propagation.delayBeforeChecks, then looks it up until
 * it is there (acme_dns_check.h); <done> on the watcher thread. */
void acme_dns_present(struct acme_dns *d, const char *domain, const char *token, const char *keyauth, acme_dns_cb done,
                      void *data);
/* Withdraws the record presented last (whatever became of it); a present
 * still under way has its outcome dropped. */
void acme_dns_cleanup(struct acme_dns *d);

#endif
