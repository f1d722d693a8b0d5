/* lego's CNAME following and propagation check (see acme_dns_check.h). */
#include "acme_dns_check.h"

#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/arena.h"
#include "../../common/log.h"

#define MAX_NS 8
#define MAX_NS_ADDRS 16

static bool stopped(const struct acme_dns_check *c)
{
    return c->stop && c->stop(c->stop_data);
}

static const char *rcode_name(int rc)
{
    switch (rc) {
    case ns_r_noerror:
        return "NOERROR";
    case ns_r_formerr:
        return "FORMERR";
    case ns_r_servfail:
        return "SERVFAIL";
    case ns_r_nxdomain:
        return "NXDOMAIN";
    case ns_r_notimpl:
        return "NOTIMP";
    case ns_r_refused:
        return "REFUSED";
    default:
        return "an error";
    }
}

/* Asks the recursive servers in turn until one answers (lego): the length (<which>: that
 * server's index), or -1 with <why>. */
static int ask_recursive_at(const struct acme_dns_check *c, const char *name, int type, unsigned char *msg, size_t *which,
                            char *why, size_t why_len)
{
    snprintf(why, why_len, "no recursive nameserver");
    for (size_t i = 0; i < c->n_servers && !stopped(c); i++) {
        char w[200];
        int n = acme_dns_exchange(&c->servers[i], name, type, true, c->exchange_ms, msg, w, sizeof(w));
        *which = i;
        if (n >= 0)
            return n;
        snprintf(why, why_len, "%s: %s", c->servers[i].name, w);
    }
    return -1;
}

static int ask_recursive(const struct acme_dns_check *c, const char *name, int type, unsigned char *msg, char *why,
                         size_t why_len)
{
    size_t which;
    return ask_recursive_at(c, name, type, msg, &which, why, why_len);
}

char *acme_dns_follow_cname(const struct acme_dns_check *c, const char *fqdn)
{
    unsigned char *msg = mem_alloc(ACME_DNS_MAX_MSG);
    char *cur = mem_strdup(fqdn);
    for (int i = 0; i < ACME_DNS_MAX_CNAMES; i++) {
        char why[300], target[ACME_DNS_NAME_MAX];
        int n = ask_recursive(c, cur, ns_t_cname, msg, why, sizeof(why));
        if (n < 0) {
            log_debug("acme: DNS-01: CNAME lookup of %s: %s", cur, why);
            break; /* no more CNAME to follow (lego) */
        }
        if (acme_dns_rcode(msg, n) != ns_r_noerror || !acme_dns_answer_cname(msg, n, cur, target, sizeof(target)) ||
            acme_dns_same_name(target, cur))
            break;
        log_info("acme: DNS-01: found CNAME entry for %s: %s", cur, target);
        free(cur);
        cur = mem_strdup(target);
    }
    free(msg);
    return cur;
}

/* <value> at one server: 1, or 0 with <why> (lego's messages). */
static int has_value(const struct acme_dns_check *c, const struct acme_dns_server *s, const char *label, bool recurse,
                     const char *fqdn, const char *value, unsigned char *msg, char *why, size_t why_len)
{
    char w[200], seen[200];
    int n = acme_dns_exchange(s, fqdn, ns_t_txt, recurse, c->exchange_ms, msg, w, sizeof(w));
    if (n < 0) {
        snprintf(why, why_len, "NS %s: %s", label, w);
        return 0;
    }
    int rc = acme_dns_rcode(msg, n);
    if (rc != ns_r_noerror) {
        snprintf(why, why_len, "NS %s returned %s for %s", label, rcode_name(rc), fqdn);
        return 0;
    }
    if (acme_dns_answer_txt(msg, n, value, seen, sizeof(seen)) != 1) {
        snprintf(why, why_len, "NS %s did not return the expected TXT record [fqdn: %s, value: %s]: %s", label, fqdn, value,
                 seen[0] ? seen : "none");
        return 0;
    }
    return 1;
}

/* The zone of <fqdn>: the first of its suffixes with a SOA record in the answer (lego's FindZoneByFqdn). */
static int find_zone(const struct acme_dns_check *c, const char *fqdn, unsigned char *msg, char *zone, size_t zone_len,
                     char *why, size_t why_len)
{
    char last[300] = "";
    for (const char *d = fqdn; *d && strcmp(d, ".") != 0 && !stopped(c);) {
        int n = ask_recursive(c, d, ns_t_soa, msg, last, sizeof(last));
        if (n >= 0) {
            int rc = acme_dns_rcode(msg, n);
            if (rc == ns_r_noerror) {
                /* a CNAME cannot be at a zone's apex: skipped */
                if (!acme_dns_answer_has(msg, n, ns_t_cname, NULL) && acme_dns_answer_has(msg, n, ns_t_soa, NULL)) {
                    snprintf(zone, zone_len, "%s", d);
                    return 0;
                }
            } else if (rc != ns_r_nxdomain) {
                snprintf(why, why_len, "unexpected response (%s) for '%s' SOA", rcode_name(rc), d);
                return -1;
            }
        }
        const char *dot = strchr(d, '.');
        if (dot == NULL)
            break;
        d = dot + 1;
    }
    snprintf(why, why_len, "could not find the start of authority for '%s'%s%s", fqdn, last[0] ? ": " : "", last);
    return -1;
}

/* The addresses of the zone's nameservers (glue, else A and AAAA at the recursive servers). */
static size_t zone_servers(const struct acme_dns_check *c, const char *zone, unsigned char *msg, struct acme_dns_server *out,
                           char (*labels)[ACME_DNS_NAME_MAX + 70], char *why, size_t why_len)
{
    int n = ask_recursive(c, zone, ns_t_ns, msg, why, why_len);
    if (n < 0)
        return 0;
    char names[MAX_NS][ACME_DNS_NAME_MAX];
    size_t nn = acme_dns_answer_names(msg, n, ns_t_ns, names, MAX_NS), total = 0;
    if (nn == 0) {
        snprintf(why, why_len, "no NS records for the zone %s", zone);
        return 0;
    }
    unsigned char *glue = mem_alloc(ACME_DNS_MAX_MSG);
    memcpy(glue, msg, (size_t)n);
    for (size_t i = 0; i < nn && total < MAX_NS_ADDRS; i++) {
        size_t got = acme_dns_answer_addrs(glue, n, names[i], out + total, MAX_NS_ADDRS - total);
        static const int types[] = {ns_t_a, ns_t_aaaa};
        for (size_t t = 0; got == 0 && t < 2; t++) {
            char w[300];
            int m = ask_recursive(c, names[i], types[t], msg, w, sizeof(w));
            if (m >= 0 && acme_dns_rcode(msg, m) == ns_r_noerror)
                got += acme_dns_answer_addrs(msg, m, names[i], out + total + got, MAX_NS_ADDRS - total - got);
        }
        if (got == 0) {
            snprintf(why, why_len, "no address for the nameserver %s of the zone %s", names[i], zone);
            free(glue);
            return 0;
        }
        for (size_t k = total; k < total + got; k++)
            snprintf(labels[k], sizeof(labels[k]), "%s (%s)", names[i], out[k].name);
        total += got;
    }
    free(glue);
    return total;
}

int acme_dns_check_round(const struct acme_dns_check *c, const char *fqdn, const char *value, char *why, size_t why_len,
                         char *ans_seen, size_t ans_seen_len)
{
    unsigned char *msg = mem_alloc(ACME_DNS_MAX_MSG);
    char target[ACME_DNS_NAME_MAX], w[1024], seen[200];
    int ready = 0;
    snprintf(target, sizeof(target), "%s", fqdn);
    /* the first recursive server that answers (it gives the CNAME too) */
    size_t first = 0;
    int n = ask_recursive_at(c, fqdn, ns_t_txt, msg, &first, w, sizeof(w));
    if (n < 0) {
        snprintf(why, why_len, "recursive nameservers: %s", w);
        goto done;
    }
    int rc = acme_dns_rcode(msg, n);
    if (rc == ns_r_noerror) {
        char cname[ACME_DNS_NAME_MAX];
        if (acme_dns_answer_cname(msg, n, fqdn, cname, sizeof(cname)))
            snprintf(target, sizeof(target), "%s", cname);
    }
    if (!c->ans && !c->require_all) {
        /* without the authoritative check, the record must be at the first resolver that answers (stricter than lego) */
        if (rc == ns_r_noerror && acme_dns_answer_txt(msg, n, value, seen, sizeof(seen)) == 1)
            ready = 1;
        else
            snprintf(why, why_len, "recursive nameservers: %s: %s", c->servers[first].name,
                     rc != ns_r_noerror ? rcode_name(rc) : "not there yet");
        goto done;
    }
    if (c->require_all)
        for (size_t i = 0; i < c->n_servers; i++)
            if (stopped(c) || !has_value(c, &c->servers[i], c->servers[i].name, true, target, value, msg, w, sizeof(w))) {
                snprintf(why, why_len, "recursive nameservers: %s", stopped(c) ? "stopped" : w);
                goto done;
            }
    if (!c->ans) {
        ready = 1;
        goto done;
    }
    char zone[ACME_DNS_NAME_MAX];
    if (find_zone(c, target, msg, zone, sizeof(zone), w, sizeof(w)) != 0) {
        snprintf(why, why_len, "authoritative nameservers: %s", w);
        goto done;
    }
    struct acme_dns_server ns[MAX_NS_ADDRS];
    char labels[MAX_NS_ADDRS][ACME_DNS_NAME_MAX + 70];
    size_t nns = zone_servers(c, zone, msg, ns, labels, w, sizeof(w));
    if (nns == 0) {
        snprintf(why, why_len, "authoritative nameservers: %s", w);
        goto done;
    }
    if (ans_seen && ans_seen_len) {
        size_t used = (size_t)snprintf(ans_seen, ans_seen_len, "zone %s:", zone);
        for (size_t i = 0; i < nns && used < ans_seen_len; i++)
            used += (size_t)snprintf(ans_seen + used, ans_seen_len - used, "%s %s", i ? "," : "", labels[i]);
    }
    for (size_t i = 0; i < nns; i++)
        if (stopped(c) || !has_value(c, &ns[i], labels[i], false, target, value, msg, w, sizeof(w))) {
            snprintf(why, why_len, "authoritative nameservers: %s", stopped(c) ? "stopped" : w);
            goto done;
        }
    ready = 1;
done:
    free(msg);
    return ready;
}
