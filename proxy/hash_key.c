/* nginx variable expressions as balancer keys (see hash_key.h). */
#include "hash_key.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum part_kind {
    PART_TEXT,
    PART_CLIENT_ADDRESS, /* $remote_addr, $binary_remote_addr */
    PART_REQUEST_URI,    /* as the client sent it, query included */
    PART_URI,            /* the normalized path, no query */
    PART_ARGS,           /* $args, $query_string */
    PART_ARG,            /* $arg_<name> */
    PART_HOST,
    PART_HEADER,         /* $http_<name>: '_' is '-' */
    PART_COOKIE,         /* $cookie_<name> */
    PART_SCHEME,
    PART_METHOD,
};

struct part {
    enum part_kind kind;
    const char *s; /* text, or the name an ARG/HEADER/COOKIE looks up */
    size_t len;
};

struct hash_key {
    size_t n;
    struct part parts[];
};

static const struct {
    const char *name;
    enum part_kind kind;
} plain[] = {{"remote_addr", PART_CLIENT_ADDRESS}, {"binary_remote_addr", PART_CLIENT_ADDRESS},
             {"request_uri", PART_REQUEST_URI},    {"uri", PART_URI},
             {"document_uri", PART_URI},           {"args", PART_ARGS},
             {"query_string", PART_ARGS},          {"host", PART_HOST},
             {"scheme", PART_SCHEME},              {"request_method", PART_METHOD}};

static const struct {
    const char *prefix;
    enum part_kind kind;
} prefixed[] = {{"arg_", PART_ARG}, {"http_", PART_HEADER}, {"cookie_", PART_COOKIE}};

static int variable(struct arena *a, const char *name, size_t len, struct part *out, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof(plain) / sizeof(*plain); i++)
        if (strlen(plain[i].name) == len && strncasecmp(plain[i].name, name, len) == 0) {
            *out = (struct part){plain[i].kind, NULL, 0};
            return 0;
        }
    for (size_t i = 0; i < sizeof(prefixed) / sizeof(*prefixed); i++) {
        size_t pl = strlen(prefixed[i].prefix);
        if (len > pl && strncasecmp(prefixed[i].prefix, name, pl) == 0) {
            char *n = arena_alloc(a, len - pl + 1);
            for (size_t j = 0; j < len - pl; j++) { /* header names are lowercase in h2o; nginx writes '-' as '_' */
                char ch = name[pl + j];
                n[j] = prefixed[i].kind == PART_HEADER ? (ch == '_' ? '-' : (char)(ch | (ch >= 'A' && ch <= 'Z' ? 0x20 : 0))) : ch;
            }
            n[len - pl] = '\0';
            *out = (struct part){prefixed[i].kind, n, len - pl};
            return 0;
        }
    }
    snprintf(err, errlen, "the nginx variable $%.*s is not one gantry evaluates ($remote_addr, $binary_remote_addr, "
                          "$request_uri, $uri, $args, $arg_*, $host, $http_*, $cookie_*, $scheme, $request_method)",
             (int)len, name);
    return -1;
}

const struct hash_key *hash_key_compile(struct arena *a, const char *expr, char *err, size_t errlen)
{
    size_t max = strlen(expr) + 1, n = 0, vars = 0;
    struct hash_key *k = arena_alloc(a, sizeof(*k) + max * sizeof(struct part));
    for (const char *p = expr; *p != '\0';) {
        if (*p != '$') {
            size_t len = strcspn(p, "$");
            k->parts[n++] = (struct part){PART_TEXT, p, len};
            p += len;
            continue;
        }
        const char *name = p + 1;
        size_t len;
        if (*name == '{') {
            const char *end = strchr(name, '}');
            if (end == NULL) {
                snprintf(err, errlen, "`${` without its `}`");
                return NULL;
            }
            name++;
            len = (size_t)(end - name);
            p = end + 1;
        } else {
            len = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
            p = name + len;
        }
        if (len == 0) {
            snprintf(err, errlen, "`$` without a variable name");
            return NULL;
        }
        if (variable(a, name, len, &k->parts[n++], err, errlen) != 0)
            return NULL;
        vars++;
    }
    if (vars == 0) {
        snprintf(err, errlen, "no nginx variable: every request would have the same key");
        return NULL;
    }
    k->n = n;
    return k;
}

/* FNV-1a, 64 bits: the balancer mixes the key again (balancer.c), this only has to be stable */
static uint64_t feed(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static h2o_iovec_t query_of(const h2o_req_t *req)
{
    const char *q = memchr(req->input.path.base, '?', req->input.path.len);
    if (q == NULL)
        return h2o_iovec_init(NULL, 0);
    q++;
    return h2o_iovec_init(q, req->input.path.len - (size_t)(q - req->input.path.base));
}

/* The value of <name> in a list of name=value pairs separated by <sep>
 * (query: '&', case-insensitive names as nginx's $arg_; cookies: ';'). */
static h2o_iovec_t pair_value(h2o_iovec_t list, char sep, const char *name, size_t nlen, bool ci)
{
    const char *p = list.base, *end = list.base + list.len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *item_end = memchr(p, sep, (size_t)(end - p));
        if (item_end == NULL)
            item_end = end;
        const char *eq = memchr(p, '=', (size_t)(item_end - p));
        if (eq != NULL && (size_t)(eq - p) == nlen && (ci ? strncasecmp(p, name, nlen) : strncmp(p, name, nlen)) == 0)
            return h2o_iovec_init(eq + 1, (size_t)(item_end - eq - 1));
        p = item_end + 1;
    }
    return h2o_iovec_init(NULL, 0);
}

static h2o_iovec_t cookie_value(const h2o_req_t *req, const char *name, size_t nlen)
{
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) != -1;) {
        h2o_iovec_t v = pair_value(req->headers.entries[i].value, ';', name, nlen, false);
        if (v.base != NULL)
            return v;
    }
    return h2o_iovec_init(NULL, 0);
}

static h2o_iovec_t host_of(const h2o_req_t *req)
{
    h2o_iovec_t a = req->input.authority;
    size_t len = a.len;
    if (len != 0 && a.base[0] == '[') { /* [v6]:port */
        const char *close = memchr(a.base, ']', len);
        len = close != NULL ? (size_t)(close - a.base) + 1 : len;
    } else {
        const char *colon = memchr(a.base, ':', len);
        if (colon != NULL)
            len = (size_t)(colon - a.base);
    }
    return h2o_iovec_init(a.base, len);
}

uint64_t hash_key_of(const struct hash_key *k, const h2o_req_t *req, const uint8_t ip16[16])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < k->n; i++) {
        const struct part *p = &k->parts[i];
        h2o_iovec_t v = {NULL, 0};
        switch (p->kind) {
        case PART_TEXT:
            v = h2o_iovec_init(p->s, p->len);
            break;
        case PART_CLIENT_ADDRESS:
            v = h2o_iovec_init(ip16, 16);
            break;
        case PART_REQUEST_URI:
            v = req->input.path;
            break;
        case PART_URI:
            v = req->path_normalized;
            break;
        case PART_ARGS:
            v = query_of(req);
            break;
        case PART_ARG:
            v = pair_value(query_of(req), '&', p->s, p->len, true);
            break;
        case PART_HOST: {
            h2o_iovec_t host = host_of(req);
            for (size_t j = 0; j < host.len; j++) { /* $host is lowercase */
                char ch = host.base[j];
                ch = (char)(ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch);
                h = feed(h, &ch, 1);
            }
            break;
        }
        case PART_HEADER: {
            ssize_t j = h2o_find_header_by_str(&req->headers, p->s, p->len, -1);
            if (j != -1)
                v = req->headers.entries[j].value;
            break;
        }
        case PART_COOKIE:
            v = cookie_value(req, p->s, p->len);
            break;
        case PART_SCHEME:
            if (req->input.scheme != NULL)
                v = req->input.scheme->name;
            break;
        case PART_METHOD:
            v = req->input.method;
            break;
        }
        h = feed(h, v.base, v.len);
    }
    return h;
}
