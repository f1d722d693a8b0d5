/*
 * HTTPRoute and GRPCRoute -> routers, services and middlewares (see
 * k8s_gateway.h). One router per (listener the route is attached to, rule,
 * match, hostname); a PathPrefix match whose filters rewrite the prefix is
 * split in two routers (the prefix itself, and what lies below it), so
 * that each rewrite is a plain replacement.
 *
 * Precedence (the spec's, for HTTPRoute): a non-wildcard hostname beats a
 * wildcard one, longer beats shorter; then Exact path over PathPrefix over
 * RegularExpression, longer paths first; then a method match; then more
 * header matches; then more query matches. gw_priority() folds that into
 * one router priority (>= 10^8, above the rule-length default of Ingress
 * and IngressRoute routers). Ties between routes (creation time, then
 * name) are not broken.
 */
#include "k8s_gateway_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define get k8s_gw__get
#define str k8s_gw__str
#define meta k8s_gw__meta

enum path_type { PT_REGEX = 0, PT_PREFIX = 1, PT_EXACT = 2 };

/* What a route rule produces before its routers are laid out. */
struct rule_out {
    const char *kind_name; /* "HTTPRoute" / "GRPCRoute" */
    const char *ns, *name, *prefix_id;
    const char *service;
    struct tree_node *mws;       /* middlewares of every match */
    const cJSON *prefix_filter;  /* a filter rewriting the matched prefix, or NULL */
    struct tree_node *mirrors;   /* RequestMirror filters: one mirroring service around r->service */
    int rule_idx;
};

static int64_t gw_priority(const char *host, enum path_type pt, size_t path_len, bool method, int n_headers, int n_query)
{
    int64_t host_score = host == NULL ? 0 : host[0] == '*' ? (int64_t)strlen(host) : 1000 + (int64_t)strlen(host);
    int64_t path = ((int64_t)pt * 10000 + (int64_t)(path_len > 9999 ? 9999 : path_len)) * 2 + (method ? 1 : 0);
    int64_t rest = (n_headers > 99 ? 99 : n_headers) * 100 + (n_query > 99 ? 99 : n_query);
    return host_score * 1000000000LL + path * 10000 + rest + 100000000LL;
}

/* "HTTPRoute ns/name rule i match j", for problems: built only then. */
static const char *match_what(struct gw_cx *c, const struct rule_out *r, int mi)
{
    return arena_printf(c->pa, "%s %s/%s rule %d match %d", r->kind_name, r->ns, r->name, r->rule_idx, mi);
}

/* A value for a rule literal; NULL (with a problem) when it holds a backtick. */
static const char *lit(struct gw_cx *c, const char *v, const struct rule_out *r, int mi)
{
    if (v && strchr(v, '`')) {
        k8s_gw__problem(c, "%s: value '%s' holds a backtick, which gantry's rules cannot carry", match_what(c, r, mi), v);
        return NULL;
    }
    return v ? v : "";
}

/* <s> with regex metacharacters escaped. */
static const char *rx_quote(struct gw_cx *c, const char *s)
{
    char *out = arena_alloc(c->pa, strlen(s) * 2 + 1), *o = out;
    for (; *s; s++) {
        if (strchr("\\.+*?()|[]{}^$", *s))
            *o++ = '\\';
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

/* The prefix of a PathPrefix match without its trailing slash ("" for "/"). */
static const char *trimmed(struct gw_cx *c, const char *v)
{
    size_t l = strlen(v);
    while (l > 0 && v[l - 1] == '/')
        l--;
    return arena_strndup(c->pa, v, l);
}

/* headers[] or queryParams[] of a match, "&&"-joined onto <rule>; -1 on a
 * refused value. */
static int kv_matches(struct gw_cx *c, const cJSON *list, const char *exact, const char *regex, char **rule,
                      const struct rule_out *r, int mi)
{
    int n = 0;
    for (const cJSON *h = list ? list->child : NULL; h; h = h->next, n++) {
        const char *t = str(h, "type"), *name = lit(c, str(h, "name"), r, mi), *value = lit(c, str(h, "value"), r, mi);
        if (name == NULL || value == NULL)
            return -1;
        bool re = t && strcmp(t, "RegularExpression") == 0;
        *rule = arena_printf(c->pa, "%s && %s(`%s`, `%s`)", *rule, re ? regex : exact, name, value);
    }
    return n;
}

/* ---- filters ---- */

/* A Request/ResponseHeaderModifier filter as the internal middleware of
 * the same name (proxy/middleware/mw_header_modifier.c): set replaces, add
 * appends, remove deletes. */
static struct tree_node *header_modifier(struct gw_cx *c, const cJSON *f, const char *where)
{
    struct tree_node *m = k8s_gw__map(c, where);
    static const char *const ops[] = {"set", "add"};
    for (int i = 0; i < 2; i++) {
        const cJSON *list = get(f, ops[i]);
        if (cJSON_GetArraySize(list) == 0)
            continue;
        struct tree_node *hs = k8s_gw__map(c, where);
        for (const cJSON *h = list->child; h; h = h->next)
            if (str(h, "name"))
                k8s_gw__put_str(c, hs, str(h, "name"), str(h, "value") ? str(h, "value") : "");
        k8s_gw__add(c, m, ops[i], hs);
    }
    const cJSON *rm = get(f, "remove");
    if (cJSON_GetArraySize(rm) > 0) {
        struct tree_node *seq = k8s_gw__seq(c, where);
        for (const cJSON *h = rm->child; h; h = h->next)
            if (cJSON_IsString(h)) {
                struct tree_node *n = tree_new_node(c->pa, TREE_SCALAR, where, 0, 0);
                n->scalar = arena_strdup(c->pa, h->valuestring);
                tree_seq_add(c->pa, seq, n);
            }
        k8s_gw__add(c, m, "remove", seq);
    }
    return m;
}

/* A middleware <id> of <type> with body <body>. */
static void define_mw(struct gw_cx *c, const char *id, const char *type, struct tree_node *body, struct tree_node *list)
{
    struct tree_node *mw = k8s_gw__map(c, body->file);
    k8s_gw__add(c, mw, type, body);
    k8s_gw__add(c, c->middlewares, id, mw);
    tree_seq_add(c->pa, list, tree_new_node(c->pa, TREE_SCALAR, body->file, 0, 0));
    list->items[list->n - 1]->scalar = id;
}

/* RequestRedirect as a redirectRegex on scheme://host[:port]/path?query;
 * <path_rx> matches the path (NULL: any, as group 4; else <rx_group> says
 * whether it has a group, 4), <path_rep> replaces it (NULL: kept). */
static void redirect(struct gw_cx *c, const cJSON *rr, const char *id, const char *path_rx, bool rx_group, const char *path_rep,
                     struct tree_node *list, const char *where)
{
    const char *scheme = str(rr, "scheme"), *host = str(rr, "hostname");
    const cJSON *port = get(rr, "port"), *code = get(rr, "statusCode");
    const char *port_s = "${3}";
    if (cJSON_IsNumber(port)) {
        int p = port->valueint;
        bool dflt = (p == 80 && scheme && strcmp(scheme, "http") == 0) || (p == 443 && scheme && strcmp(scheme, "https") == 0);
        port_s = dflt ? "" : arena_printf(c->pa, ":%d", p);
    } else if (scheme) {
        port_s = ""; /* the scheme's well-known port */
    }
    struct tree_node *b = k8s_gw__map(c, where);
    k8s_gw__put_str(c, b, "regex",
                    arena_printf(c->pa, "^([a-z]+)://([^/:]+|\\[[^\\]]+\\])(:[0-9]+)?%s(\\?.*)?$", path_rx ? path_rx : "(/[^?]*)?"));
    k8s_gw__put_str(c, b, "replacement",
                    arena_printf(c->pa, "%s://%s%s%s${%d}", scheme ? scheme : "${1}", host ? host : "${2}", port_s,
                                 path_rep ? path_rep : "${4}", path_rx && !rx_group ? 4 : 5));
    k8s_gw__put_str(c, b, "permanent", cJSON_IsNumber(code) && code->valueint == 301 ? "true" : "false");
    define_mw(c, id, "redirectRegex", b, list);
}

/* The filters that rewrite a matched prefix (RequestRedirect or URLRewrite
 * with path.type ReplacePrefixMatch), for the match prefix <p> (trimmed)
 * and the variant: <exact> the prefix itself, else below it. */
static void prefix_filter(struct gw_cx *c, const cJSON *f, const char *id, const char *p, bool exact, struct tree_node *list,
                          const char *where)
{
    const char *type = str(f, "type");
    bool is_redirect = strcmp(type, "RequestRedirect") == 0;
    const cJSON *body = get(f, is_redirect ? "requestRedirect" : "urlRewrite");
    const char *rep = str(get(body, "path"), "replacePrefixMatch");
    if (rep == NULL)
        rep = "/";
    const char *q = trimmed(c, rep);
    if (is_redirect) {
        if (exact)
            redirect(c, body, id, arena_printf(c->pa, "%s/?", rx_quote(c, p)), false, *q ? q : "/", list, where);
        else
            redirect(c, body, id, arena_printf(c->pa, "%s(/[^?]*)", rx_quote(c, p)), true, arena_printf(c->pa, "%s${4}", q),
                     list, where);
        return;
    }
    if (str(body, "hostname")) {
        struct tree_node *h = k8s_gw__map(c, where), *m = k8s_gw__map(c, where);
        k8s_gw__put_str(c, m, "Host", str(body, "hostname"));
        k8s_gw__add(c, h, "customRequestHeaders", m);
        define_mw(c, arena_printf(c->pa, "%s-host", id), "headers", h, list);
    }
    struct tree_node *b = k8s_gw__map(c, where);
    if (exact) {
        k8s_gw__put_str(c, b, "path", *q ? q : "/");
        define_mw(c, id, "replacePath", b, list);
    } else {
        k8s_gw__put_str(c, b, "regex", arena_printf(c->pa, "^%s(/.*)$", rx_quote(c, p)));
        k8s_gw__put_str(c, b, "replacement", arena_printf(c->pa, "%s$1", q));
        define_mw(c, id, "replacePathRegex", b, list);
    }
}

static bool is_prefix_filter(const cJSON *f)
{
    const char *t = str(f, "type");
    const cJSON *body = get(f, t && strcmp(t, "RequestRedirect") == 0 ? "requestRedirect" : "urlRewrite");
    const char *pt = str(get(body, "path"), "type");
    return t && (strcmp(t, "RequestRedirect") == 0 || strcmp(t, "URLRewrite") == 0) && pt &&
           strcmp(pt, "ReplacePrefixMatch") == 0;
}

/* A rule's filters are refused: <refs> says why, and the rule is out. */
static bool refuse(struct gw_cx *c, struct gw_refs *refs, const char *where, const char *message)
{
    if (refs->reason == NULL) {
        refs->reason = "UnsupportedValue";
        refs->message = message;
    }
    k8s_gw__problem(c, "%s: %s", where, message);
    return false;
}

/* requestMirror.percent, or fraction as a whole percent (gantry's mirrors
 * count whole percents); -1 when it is not one. */
static int mirror_percent(const cJSON *rm)
{
    const cJSON *p = get(rm, "percent"), *fr = get(rm, "fraction");
    if (cJSON_IsNumber(p))
        return p->valueint >= 0 && p->valueint <= 100 ? p->valueint : -1;
    if (fr == NULL)
        return 100;
    const cJSON *num = get(fr, "numerator"), *den = get(fr, "denominator");
    int n = cJSON_IsNumber(num) ? num->valueint : -1, d = cJSON_IsNumber(den) ? den->valueint : 100;
    if (n < 0 || d <= 0 || n > d || (n * 100) % d != 0)
        return -1;
    return n * 100 / d;
}

/* The filters <list> of rule <r> (<tag> "f": the rule's own, "bf": those of
 * its backendRefs) that do not depend on the match: middlewares into
 * r->mws, mirrors into r->mirrors; false (refs set) on a filter that
 * cannot be built, which takes the rule out. */
static bool rule_filters(struct gw_cx *c, const cJSON *list, const char *tag, struct rule_out *r, bool grpc,
                         struct gw_refs *refs)
{
    int fi = 0;
    const char *where = arena_printf(c->pa, "%s %s/%s rule %d", r->kind_name, r->ns, r->name, r->rule_idx);
    for (const cJSON *f = list ? list->child : NULL; f; f = f->next, fi++) {
        const char *type = str(f, "type") ? str(f, "type") : "";
        const char *id = arena_printf(c->pa, "%s-%s%d", r->prefix_id, tag, fi);
        if (!grpc && is_prefix_filter(f)) {
            if (r->prefix_filter)
                return refuse(c, refs, where, "two filters rewrite or redirect the matched prefix");
            r->prefix_filter = f;
        } else if (strcmp(type, "RequestHeaderModifier") == 0 || strcmp(type, "ResponseHeaderModifier") == 0) {
            bool req = type[1] == 'e' && type[2] == 'q';
            define_mw(c, id, req ? "requestHeaderModifier" : "responseHeaderModifier",
                      header_modifier(c, get(f, req ? "requestHeaderModifier" : "responseHeaderModifier"), where), r->mws);
        } else if (!grpc && strcmp(type, "RequestRedirect") == 0) {
            const cJSON *rr = get(f, "requestRedirect");
            const char *full = str(get(rr, "path"), "replaceFullPath");
            redirect(c, rr, id, NULL, false, full, r->mws, where);
        } else if (!grpc && strcmp(type, "URLRewrite") == 0) {
            const cJSON *ur = get(f, "urlRewrite");
            if (str(ur, "hostname")) {
                struct tree_node *h = k8s_gw__map(c, where), *m = k8s_gw__map(c, where);
                k8s_gw__put_str(c, m, "Host", str(ur, "hostname"));
                k8s_gw__add(c, h, "customRequestHeaders", m);
                define_mw(c, arena_printf(c->pa, "%s-host", id), "headers", h, r->mws);
            }
            if (str(get(ur, "path"), "replaceFullPath")) {
                struct tree_node *b = k8s_gw__map(c, where);
                k8s_gw__put_str(c, b, "path", str(get(ur, "path"), "replaceFullPath"));
                define_mw(c, id, "replacePath", b, r->mws);
            }
        } else if (strcmp(type, "RequestMirror") == 0) {
            const cJSON *rm = get(f, "requestMirror");
            int percent = mirror_percent(rm);
            if (percent < 0)
                return refuse(c, refs, where, "requestMirror percent/fraction is not a whole percent from 0 to 100");
            const char *mid = k8s_gw__backend(c, r->kind_name, r->ns, get(rm, "backendRef"), grpc ? "h2c" : "http", NULL, false,
                                              refs);
            if (mid == NULL)
                return false;
            struct tree_node *e = k8s_gw__map(c, where);
            k8s_gw__put_str(c, e, "name", mid);
            k8s_gw__put_str(c, e, "percent", arena_printf(c->pa, "%d", percent));
            if (r->mirrors == NULL)
                r->mirrors = k8s_gw__seq(c, where);
            tree_seq_add(c->pa, r->mirrors, e);
        } else if (strcmp(type, "ExtensionRef") == 0) {
            const cJSON *er = get(f, "extensionRef");
            const char *g = str(er, "group"), *k = str(er, "kind"), *n = str(er, "name");
            if (g == NULL || strcmp(g, "traefik.io") != 0 || k == NULL || strcmp(k, "Middleware") != 0 || n == NULL) {
                refs->reason = "InvalidKind";
                refs->message = arena_printf(c->pa, "extensionRef %s/%s is not a traefik.io Middleware", g ? g : "", k ? k : "");
                k8s_gw__problem(c, "%s: %s", where, refs->message);
                return false;
            }
            struct tree_node *s = tree_new_node(c->pa, TREE_SCALAR, where, 0, 0);
            s->scalar = arena_printf(c->pa, "%s@kubernetescrd", k8s_gw__id(c, "%s-%s", r->ns, n));
            tree_seq_add(c->pa, r->mws, s);
        } else {
            return refuse(c, refs, where, arena_printf(c->pa, "filter type %s is not supported", type));
        }
    }
    return true;
}

/* backendRefs[].filters run only for requests sent to that backend. When
 * every backendRef of the rule has the same ones (always so with one) they
 * are the rule's: returned. Else <differ> is set and NULL returned: each
 * backendRef's own run on its branch (backend_chains). */
static const cJSON *backend_filters(const cJSON *rt, bool *differ)
{
    const cJSON *refs_list = get(rt, "backendRefs"), *first = NULL;
    *differ = false;
    int i = 0;
    for (const cJSON *b = refs_list ? refs_list->child : NULL; b; b = b->next, i++) {
        const cJSON *f = get(b, "filters");
        if (cJSON_GetArraySize(f) == 0)
            f = NULL;
        if (i == 0) {
            first = f;
        } else if ((first == NULL) != (f == NULL) || (f && !cJSON_Compare(first, f, true))) {
            *differ = true;
            return NULL;
        }
    }
    return first;
}

static bool rule_filters(struct gw_cx *c, const cJSON *list, const char *tag, struct rule_out *r, bool grpc,
                         struct gw_refs *refs);

/* Each backendRef's own filters as a list of middlewares (NULL: none),
 * run after the rule's once that backend is picked (a weighted child's
 * service middlewares); NULL with <ok> false when one cannot be built. A
 * filter that depends on the match (rewriting the matched prefix) or that
 * mirrors cannot be one backend's: refused. */
static struct tree_node **backend_chains(struct gw_cx *c, const cJSON *rt, const struct rule_out *r, bool grpc,
                                         struct gw_refs *refs, bool *ok)
{
    const cJSON *list = get(rt, "backendRefs");
    int n = cJSON_GetArraySize(list), i = 0;
    struct tree_node **out = arena_alloc(c->pa, (size_t)(n ? n : 1) * sizeof(*out));
    *ok = true;
    for (const cJSON *b = list ? list->child : NULL; b; b = b->next, i++) {
        out[i] = NULL;
        if (cJSON_GetArraySize(get(b, "filters")) == 0)
            continue;
        struct rule_out br = *r;
        br.mws = k8s_gw__seq(c, r->prefix_id);
        br.prefix_filter = NULL;
        br.mirrors = NULL;
        if (!rule_filters(c, get(b, "filters"), arena_printf(c->pa, "b%df", i), &br, grpc, refs)) {
            *ok = false;
            return NULL;
        }
        if (br.prefix_filter || br.mirrors) {
            *ok = refuse(c, refs, arena_printf(c->pa, "%s %s/%s rule %d backendRef %d", r->kind_name, r->ns, r->name, r->rule_idx, i),
                         "a backendRef's own filter rewrites the matched prefix or mirrors, which gantry applies per rule only "
                         "(give every backendRef the same filters, or put it on the rule)");
            return NULL;
        }
        out[i] = br.mws;
    }
    return out;
}

/* The rule's mirrors as one mirroring service around r->service. */
static void wrap_mirrors(struct gw_cx *c, struct rule_out *r)
{
    if (r->mirrors == NULL)
        return;
    struct tree_node *mn = k8s_gw__map(c, r->prefix_id), *svc = k8s_gw__map(c, r->prefix_id);
    k8s_gw__put_str(c, mn, "service", r->service);
    k8s_gw__add(c, mn, "mirrors", r->mirrors);
    k8s_gw__add(c, svc, "mirroring", mn);
    r->service = arena_printf(c->pa, "%s-mirroring", r->prefix_id);
    k8s_gw__add(c, c->services, r->service, svc);
}

/* ---- routers ---- */

/* The routers of one match (<m_rule> without host, its priority inputs)
 * on every attachment and hostname. */
static void lay_out(struct gw_cx *c, const struct rule_out *r, struct gw_attach *at, size_t n_at, const char *prefix, int mi,
                    const char *suffix, const char *m_rule, enum path_type pt, size_t plen, bool method, int nh, int nq,
                    struct tree_node *mws)
{
    const char *where = r->prefix_id;
    for (size_t a = 0; a < n_at; a++) {
        struct gw_attach *x = &at[a];
        if (x->id_base == NULL) { /* once per route and listener: thousands of routers are named from it */
            x->id_base = k8s_gw__id(c, "%s-%s-%s-%s-%s-%s", prefix, r->ns, r->name, x->gw->ns, x->gw->name, x->l->name);
            x->host_rules = arena_alloc(c->pa, (x->n_hosts ? x->n_hosts : 1) * sizeof(*x->host_rules));
            for (size_t h = 0; h < (x->n_hosts ? x->n_hosts : 1); h++)
                x->host_rules[h] = k8s_gw__isolated_host(c, x->l, x->n_hosts ? x->hosts[h] : NULL);
        }
        size_t nh_ = x->n_hosts ? x->n_hosts : 1;
        for (size_t h = 0; h < nh_; h++) {
            const char *host = x->n_hosts ? x->hosts[h] : NULL;
            if (x->host_rules[h] == NULL)
                continue; /* a more specific listener's (isolation) */
            const char *rule = *x->host_rules[h] ? arena_printf(c->pa, "%s%s", x->host_rules[h], m_rule) : m_rule;
            const char *id = x->n_hosts > 1 ? arena_printf(c->pa, "%s-r%d-m%d-h%zu%s", x->id_base, r->rule_idx, mi, h, suffix)
                                            : arena_printf(c->pa, "%s-r%d-m%d%s", x->id_base, r->rule_idx, mi, suffix);
            struct tree_node *rt = k8s_gw__map(c, where), *eps = k8s_gw__seq(c, where);
            k8s_gw__put_str(c, rt, "rule", rule);
            k8s_gw__put_str(c, rt, "priority",
                            arena_printf(c->pa, "%lld", (long long)gw_priority(host, pt, plen, method, nh, nq)));
            struct tree_node *ep = tree_new_node(c->pa, TREE_SCALAR, where, 0, 0);
            ep->scalar = x->l->ep;
            tree_seq_add(c->pa, eps, ep);
            k8s_gw__add(c, rt, "entryPoints", eps);
            if (mws->n)
                k8s_gw__add(c, rt, "middlewares", mws);
            k8s_gw__put_str(c, rt, "service", r->service);
            if (x->l->proto == GW_HTTPS)
                k8s_gw__add(c, rt, "tls", k8s_gw__map(c, where));
            k8s_gw__add(c, c->routers, id, rt);
        }
    }
}

static struct tree_node *with(struct gw_cx *c, const struct tree_node *base, struct tree_node *extra)
{
    struct tree_node *l = k8s_gw__seq(c, base->file);
    for (size_t i = 0; i < base->n; i++)
        tree_seq_add(c->pa, l, base->items[i]);
    for (size_t i = 0; extra && i < extra->n; i++)
        tree_seq_add(c->pa, l, extra->items[i]);
    return l;
}

/* One HTTPRoute match; false when it was refused. */
static bool http_match(struct gw_cx *c, const struct rule_out *r, const cJSON *m, int mi, struct gw_attach *at,
                       size_t n_at)
{
    const char *what = r->prefix_id; /* where tree nodes come from */
    const cJSON *path = get(m, "path");
    const char *pt_s = str(path, "type") ? str(path, "type") : "PathPrefix";
    const char *pv = lit(c, str(path, "value") ? str(path, "value") : "/", r, mi);
    if (pv == NULL)
        return false;
    enum path_type pt = strcmp(pt_s, "Exact") == 0 ? PT_EXACT : strcmp(pt_s, "RegularExpression") == 0 ? PT_REGEX : PT_PREFIX;
    if (pt == PT_PREFIX && strcmp(pt_s, "PathPrefix") != 0) {
        k8s_gw__problem(c, "%s: path type %s is not supported", match_what(c, r, mi), pt_s);
        return false;
    }
    char *tail = arena_strdup(c->pa, "");
    const char *method = lit(c, str(m, "method"), r, mi);
    if (method == NULL)
        return false;
    if (*method)
        tail = arena_printf(c->pa, " && Method(`%s`)", method);
    int nh = kv_matches(c, get(m, "headers"), "Header", "HeaderRegexp", &tail, r, mi);
    int nq = kv_matches(c, get(m, "queryParams"), "Query", "QueryRegexp", &tail, r, mi);
    if (nh < 0 || nq < 0)
        return false;
    const char *p = trimmed(c, pv);
    const char *mwid = r->prefix_filter ? arena_printf(c->pa, "%s-m%d", r->prefix_id, mi) : NULL;
    if (pt == PT_EXACT || pt == PT_REGEX) {
        const char *pr = pt == PT_EXACT ? arena_printf(c->pa, "Path(`%s`)", pv) : arena_printf(c->pa, "PathRegexp(`^%s$`)", pv);
        struct tree_node *extra = k8s_gw__seq(c, what);
        if (r->prefix_filter) /* no prefix to replace: the whole path */
            prefix_filter(c, r->prefix_filter, mwid, pt == PT_EXACT ? p : "", true, extra, what);
        lay_out(c, r, at, n_at, r->kind_name[0] == 'G' ? "grpcroute" : "httproute", mi, "",
                arena_printf(c->pa, "%s%s", pr, tail), pt, strlen(pv), *method, nh, nq, with(c, r->mws, extra));
        return true;
    }
    const char *prefix_kind = r->kind_name[0] == 'G' ? "grpcroute" : "httproute";
    size_t plen = strlen(p) + 1; /* a trailing slash does not count */
    if (*p == '\0' && r->prefix_filter == NULL) {
        lay_out(c, r, at, n_at, prefix_kind, mi, "", arena_printf(c->pa, "PathPrefix(`/`)%s", tail), pt, 1, *method, nh, nq,
                r->mws);
        return true;
    }
    if (r->prefix_filter == NULL) {
        lay_out(c, r, at, n_at, prefix_kind, mi, "", arena_printf(c->pa, "(Path(`%s`) || PathPrefix(`%s/`))%s", p, p, tail), pt,
                plen, *method, nh, nq, r->mws);
        return true;
    }
    /* split: the prefix itself, then what lies below it */
    struct tree_node *e1 = k8s_gw__seq(c, what), *e2 = k8s_gw__seq(c, what);
    prefix_filter(c, r->prefix_filter, arena_printf(c->pa, "%s-e", mwid), p, true, e1, what);
    prefix_filter(c, r->prefix_filter, arena_printf(c->pa, "%s-s", mwid), p, false, e2, what);
    lay_out(c, r, at, n_at, prefix_kind, mi, "-e", arena_printf(c->pa, "Path(`%s`)%s", *p ? p : "/", tail), pt, plen,
            *method, nh, nq, with(c, r->mws, e1));
    lay_out(c, r, at, n_at, prefix_kind, mi, "-s", arena_printf(c->pa, "PathPrefix(`%s/`)%s", p, tail), pt, plen, *method,
            nh, nq, with(c, r->mws, e2));
    return true;
}

/* One GRPCRoute match: service/method as a path. */
static bool grpc_match(struct gw_cx *c, const struct rule_out *r, const cJSON *m, int mi, struct gw_attach *at,
                       size_t n_at)
{
    const cJSON *mm = get(m, "method");
    const char *svc = lit(c, str(mm, "service"), r, mi), *meth = lit(c, str(mm, "method"), r, mi);
    if (svc == NULL || meth == NULL)
        return false;
    bool re = str(mm, "type") && strcmp(str(mm, "type"), "RegularExpression") == 0;
    const char *pr;
    enum path_type pt = PT_EXACT;
    size_t plen = strlen(svc) + strlen(meth) + 2;
    if (re) {
        pr = arena_printf(c->pa, "PathRegexp(`^/(%s)/(%s)$`)", *svc ? svc : "[^/]+", *meth ? meth : "[^/]+");
        pt = PT_REGEX;
    } else if (*svc && *meth) {
        pr = arena_printf(c->pa, "Path(`/%s/%s`)", svc, meth);
    } else if (*svc) {
        pr = arena_printf(c->pa, "PathPrefix(`/%s/`)", svc);
        pt = PT_PREFIX;
    } else if (*meth) {
        pr = arena_printf(c->pa, "PathRegexp(`^/[^/]+/%s$`)", rx_quote(c, meth));
        pt = PT_REGEX;
    } else {
        pr = "PathPrefix(`/`)";
        pt = PT_PREFIX;
        plen = 1;
    }
    char *tail = arena_strdup(c->pa, "");
    int nh = kv_matches(c, get(m, "headers"), "Header", "HeaderRegexp", &tail, r, mi);
    if (nh < 0)
        return false;
    lay_out(c, r, at, n_at, "grpcroute", mi, "", arena_printf(c->pa, "%s%s", pr, tail), pt, plen, false, nh, 0, r->mws);
    return true;
}

/* timeouts.request as the internal middleware requestTimeout (the whole
 * request's deadline, 504), first in the rule's chain; timeouts.backendRequest
 * as a serversTransport "<rule id>-timeouts" (forwardingTimeouts.
 * responseHeaderTimeout, 504 when it passes) for the rule's own load
 * balancers, returned (NULL when there is none). */
static const char *timeouts(struct gw_cx *c, const struct rule_out *r, const cJSON *t)
{
    const char *req = str(t, "request");
    if (req) {
        struct tree_node *b = k8s_gw__map(c, r->prefix_id);
        k8s_gw__put_str(c, b, "timeout", req);
        define_mw(c, arena_printf(c->pa, "%s-request-timeout", r->prefix_id), "requestTimeout", b, r->mws);
    }
    const char *br = str(t, "backendRequest");
    if (br == NULL)
        return NULL;
    const char *id = arena_printf(c->pa, "%s-timeouts", r->prefix_id);
    struct tree_node *tr = k8s_gw__map(c, r->prefix_id), *ft = k8s_gw__map(c, r->prefix_id);
    k8s_gw__put_str(c, ft, "responseHeaderTimeout", br);
    k8s_gw__add(c, tr, "forwardingTimeouts", ft);
    k8s_gw__add(c, c->transports, id, tr);
    return id;
}

static void route(struct gw_cx *c, const cJSON *obj, bool grpc)
{
    const char *ns = meta(obj, "namespace"), *name = meta(obj, "name");
    enum k8s_gw_kind kind = grpc ? K8S_GW_GRPCROUTES : K8S_GW_HTTPROUTES;
    size_t n_at = 0;
    struct gw_attach *at = k8s_gw__attach(c, obj, grpc ? GW_K_GRPC : GW_K_HTTP, &n_at);
    struct gw_refs refs = {0};
    int ri = 0;
    const cJSON *rules = get(get(obj, "spec"), "rules");
    for (const cJSON *rt = rules ? rules->child : NULL; rt && n_at; rt = rt->next, ri++) {
        struct rule_out r = {.kind_name = grpc ? "GRPCRoute" : "HTTPRoute", .ns = ns, .name = name, .rule_idx = ri};
        r.prefix_id = k8s_gw__id(c, "%s-%s-%s-r%d", grpc ? "grpcroute" : "httproute", ns, name, ri);
        r.mws = k8s_gw__seq(c, r.prefix_id);
        const char *transport = timeouts(c, &r, get(rt, "timeouts"));
        bool differ, ok = true;
        const cJSON *bf = backend_filters(rt, &differ);
        struct tree_node **per_backend = differ ? backend_chains(c, rt, &r, grpc, &refs, &ok) : NULL;
        if (!ok)
            continue;
        r.service = k8s_gw__backends(c, r.kind_name, ns, get(rt, "backendRefs"), r.prefix_id, grpc ? "h2c" : "http", transport,
                                     false, per_backend, &refs);
        if (!rule_filters(c, get(rt, "filters"), "f", &r, grpc, &refs) || !rule_filters(c, bf, "bf", &r, grpc, &refs))
            continue;
        if (differ && r.mirrors) {
            refuse(c, &refs, arena_printf(c->pa, "%s %s/%s rule %d", r.kind_name, ns, name, ri),
                   "a rule that mirrors cannot also give its backendRefs different filters (gantry runs a backend's own "
                   "filters below a weighted service only)");
            continue;
        }
        wrap_mirrors(c, &r);
        const cJSON *ms = get(rt, "matches");
        if (cJSON_GetArraySize(ms) == 0) {
            cJSON *dflt = cJSON_CreateObject(); /* no match: every request (PathPrefix /) */
            if (grpc)
                grpc_match(c, &r, dflt, 0, at, n_at);
            else
                http_match(c, &r, dflt, 0, at, n_at);
            cJSON_Delete(dflt);
            continue;
        }
        int mi = 0;
        for (const cJSON *m = ms->child; m; m = m->next, mi++)
            if (!(grpc ? grpc_match(c, &r, m, mi, at, n_at) : http_match(c, &r, m, mi, at, n_at)) && refs.reason == NULL) {
                refs.reason = "UnsupportedValue";
                refs.message = "a match could not be translated";
            }
    }
    k8s_gw__route_status(c, kind, obj, &refs);
}

void k8s_gw__http_route(struct gw_cx *c, const cJSON *obj)
{
    route(c, obj, false);
}

void k8s_gw__grpc_route(struct gw_cx *c, const cJSON *obj)
{
    route(c, obj, true);
}
