/*
 * Rule evaluation (see match.h). Host comparisons are on the normalised
 * host; Path/PathPrefix on the normalised path, so "/api/../admin" is
 * matched as "/admin" (what the upstream will also see).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "match.h"

#include <ctype.h>
#include <pcre2.h>
#include <string.h>
#include <strings.h>

#include "path.h"

/* Bounds regex work per request so a pathological pattern cannot pin a
 * worker (ReDoS). */
#define MATCH_LIMIT 200000
#define MATCH_DEPTH_LIMIT 5000
#define MAX_QUERY_VALUE 4096

static __thread pcre2_match_data *tls_match_data;
static __thread pcre2_match_context *tls_match_ctx;

void match_thread_cleanup(void)
{
    pcre2_match_data_free(tls_match_data);
    pcre2_match_context_free(tls_match_ctx);
    tls_match_data = NULL;
    tls_match_ctx = NULL;
}

static bool regex_match(void *code, const char *s, size_t len)
{
    if (tls_match_data == NULL) {
        tls_match_data = pcre2_match_data_create(1, NULL);
        tls_match_ctx = pcre2_match_context_create(NULL);
        pcre2_set_match_limit(tls_match_ctx, MATCH_LIMIT);
        pcre2_set_depth_limit(tls_match_ctx, MATCH_DEPTH_LIMIT);
    }
    int rc = pcre2_match((pcre2_code *)code, (PCRE2_SPTR)s, len, 0, 0, tls_match_data, tls_match_ctx);
    return rc >= 0; /* errors (limit exceeded) count as no match */
}

size_t match_normalize_host(const char *authority, size_t len, char *buf)
{
    size_t end = len;
    if (len > 0 && authority[0] == '[') { /* [v6]:port */
        const char *rb = memchr(authority, ']', len);
        end = rb ? (size_t)(rb - authority) + 1 : len;
    } else {
        const char *colon = memchr(authority, ':', len);
        if (colon)
            end = (size_t)(colon - authority);
    }
    if (end > 0 && authority[end - 1] == '.')
        end--;
    for (size_t i = 0; i < end; i++)
        buf[i] = (char)tolower((unsigned char)authority[i]);
    return end;
}

static bool host_matches(const struct rule_str *pat, const struct match_req *r)
{
    if (pat->len == 1 && pat->s[0] == '*')
        return true;
    if (pat->len > 2 && pat->s[0] == '*' && pat->s[1] == '.') {
        /* one label: "*.example.com" matches "a.example.com" only */
        size_t suffix = pat->len - 1; /* ".example.com" */
        if (r->host_len <= suffix || memcmp(r->host + r->host_len - suffix, pat->s + 1, suffix) != 0)
            return false;
        return memchr(r->host, '.', r->host_len - suffix) == NULL;
    }
    return pat->len == r->host_len && memcmp(pat->s, r->host, pat->len) == 0;
}

/* Decodes a query component (%xx and '+') into <out>; false if too long. */
static bool query_decode(const char *s, size_t len, char *out, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (o >= MAX_QUERY_VALUE)
            return false;
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < len + 0 && path_hex_digit(s[i + 1]) >= 0 && path_hex_digit(s[i + 2]) >= 0) {
            c = (char)(path_hex_digit(s[i + 1]) * 16 + path_hex_digit(s[i + 2]));
            i += 2;
        }
        out[o++] = c;
    }
    *out_len = o;
    return true;
}

static bool query_matches(const struct rule_node *n, const struct match_req *r)
{
    if (r->query == NULL)
        return false;
    const char *p = r->query, *end = r->query + r->query_len;
    char key[MAX_QUERY_VALUE], val[MAX_QUERY_VALUE];
    while (p <= end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        size_t klen, vlen = 0;
        if (pe > p && query_decode(p, (size_t)((eq ? eq : pe) - p), key, &klen) &&
            (eq == NULL || query_decode(eq + 1, (size_t)(pe - eq - 1), val, &vlen)) && klen == n->args[0].len &&
            memcmp(key, n->args[0].s, klen) == 0) {
            if (n->matcher == RULE_QUERY && n->nargs == 1)
                return true;
            if (n->matcher == RULE_QUERY && vlen == n->args[1].len && memcmp(val, n->args[1].s, vlen) == 0)
                return true;
            if (n->matcher == RULE_QUERY_REGEXP && regex_match(n->regex[0], val, vlen))
                return true;
        }
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    return false;
}

static bool header_matches(const struct rule_node *n, const struct match_req *r)
{
    if (r->headers == NULL)
        return false;
    const struct rule_str *name = &n->args[0];
    for (size_t i = 0; i < r->headers->size; i++) {
        const h2o_header_t *h = &r->headers->entries[i];
        if (h->name->len != name->len || !h2o_lcstris(h->name->base, h->name->len, name->s, name->len))
            continue;
        if (n->matcher == RULE_HEADER) {
            if (h->value.len == n->args[1].len && memcmp(h->value.base, n->args[1].s, h->value.len) == 0)
                return true;
        } else if (regex_match(n->regex[0], h->value.base, h->value.len)) {
            return true;
        }
    }
    return false;
}

static bool match_one(const struct rule_node *n, const struct match_req *r)
{
    switch (n->matcher) {
    case RULE_HOST:
    case RULE_HOST_SNI: /* r->host is the server name of the ClientHello */
        for (size_t i = 0; i < n->nargs; i++)
            if (host_matches(&n->args[i], r))
                return true;
        return false;
    case RULE_HOST_REGEXP:
    case RULE_HOST_SNI_REGEXP:
        for (size_t i = 0; i < n->nargs; i++)
            if (regex_match(n->regex[i], r->host, r->host_len))
                return true;
        return false;
    case RULE_PATH:
        for (size_t i = 0; i < n->nargs; i++)
            if (n->args[i].len == r->path_len && memcmp(n->args[i].s, r->path, r->path_len) == 0)
                return true;
        return false;
    case RULE_PATH_PREFIX:
        for (size_t i = 0; i < n->nargs; i++)
            if (n->args[i].len <= r->path_len && memcmp(n->args[i].s, r->path, n->args[i].len) == 0)
                return true;
        return false;
    case RULE_PATH_REGEXP:
        for (size_t i = 0; i < n->nargs; i++)
            if (regex_match(n->regex[i], r->path, r->path_len))
                return true;
        return false;
    case RULE_METHOD:
        for (size_t i = 0; i < n->nargs; i++)
            if (n->args[i].len == r->method_len && strncasecmp(n->args[i].s, r->method, r->method_len) == 0)
                return true;
        return false;
    case RULE_HEADER:
    case RULE_HEADER_REGEXP:
        return header_matches(n, r);
    case RULE_QUERY:
    case RULE_QUERY_REGEXP:
        return query_matches(n, r);
    case RULE_LABEL:
    case RULE_LABEL_REGEXP:
        return false; /* constraint matchers never appear in router rules */
    case RULE_CLIENT_IP:
        if (!r->has_client_ip)
            return false;
        for (size_t i = 0; i < n->ncidrs; i++)
            if (rule_cidr_contains(&n->cidrs[i], r->client_ip))
                return true;
        return false;
    }
    return false;
}

bool match_rule(const struct rule_node *n, const struct match_req *r)
{
    switch (n->op) {
    case RULE_MATCH:
        return match_one(n, r);
    case RULE_AND:
        return match_rule(n->a, r) && match_rule(n->b, r);
    case RULE_OR:
        return match_rule(n->a, r) || match_rule(n->b, r);
    case RULE_NOT:
        return !match_rule(n->a, r);
    }
    return false;
}
