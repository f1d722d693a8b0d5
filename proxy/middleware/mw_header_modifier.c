/*
 * The Gateway API's RequestHeaderModifier and ResponseHeaderModifier
 * filters, as Traefik has them: internal middleware types only the
 * kubernetesgateway provider defines (a file or label configuration naming
 * them is refused). Unlike the headers middleware, which replaces, "add"
 * appends a value to a header that is already there (another field line).
 *   set.<Name>: <value>   replaces (or adds) the header
 *   add.<Name>: <value>   appends
 *   remove: <names>       deletes
 * applied in that order, to the request before it goes upstream or to the
 * response before it is sent.
 */
#include "middleware.h"

#include <string.h>

#define GATEWAY_PROVIDER "kubernetesgateway"

struct hm_header {
    const char *name, *value;
    size_t name_len, value_len;
};

struct header_modifier {
    struct hm_header *set, *add, *remove;
    size_t n_set, n_add, n_remove;
};

static bool valid_name(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s == ':' || *s == 0x7f)
            return false;
    return true;
}

static bool valid_value(const char *s)
{
    for (; *s; s++)
        if ((*s < ' ' && *s != '\t') || *s == 0x7f)
            return false;
    return true;
}

static int headers_of(struct arena *a, struct mw_options *o, const char *key, struct hm_header **out, size_t *n,
                      struct diag *d)
{
    const char **names, **values;
    *n = mw_opt_map(a, o, key, &names, &values);
    *out = arena_alloc(a, (*n ? *n : 1) * sizeof(**out));
    for (size_t i = 0; i < *n; i++) {
        if (!valid_name(names[i]) || !valid_value(values[i]))
            return diag_set(d, "%s.%s: invalid header name or value", key, names[i]);
        (*out)[i] = (struct hm_header){names[i], values[i], strlen(names[i]), strlen(values[i])};
    }
    return 0;
}

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    if (o->provider != NULL && strcmp(o->provider, GATEWAY_PROVIDER) != 0)
        return diag_set(d, "this middleware type is internal to the kubernetesGateway provider");
    struct header_modifier *c = arena_alloc(a, sizeof(*c));
    memset(c, 0, sizeof(*c));
    if (headers_of(a, o, "set", &c->set, &c->n_set, d) != 0 || headers_of(a, o, "add", &c->add, &c->n_add, d) != 0)
        return -1;
    const char **rm = mw_opt_list(a, o, "remove", &c->n_remove);
    c->remove = arena_alloc(a, (c->n_remove ? c->n_remove : 1) * sizeof(*c->remove));
    for (size_t i = 0; i < c->n_remove; i++) {
        if (!valid_name(rm[i]))
            return diag_set(d, "remove: invalid header name '%s'", rm[i]);
        c->remove[i] = (struct hm_header){rm[i], "", strlen(rm[i]), 0};
    }
    *cfg = c;
    return 0;
}

static void append(h2o_req_t *req, h2o_headers_t *hs, const struct hm_header *h)
{
    h2o_iovec_t lname = h2o_strdup(&req->pool, h->name, h->name_len);
    h2o_strtolower(lname.base, lname.len);
    const h2o_token_t *tok = h2o_lookup_token(lname.base, lname.len);
    if (tok != NULL)
        h2o_add_header(&req->pool, hs, tok, h->name, h->value, h->value_len);
    else
        h2o_add_header_by_str(&req->pool, hs, lname.base, lname.len, 0, h->name, h->value, h->value_len);
}

static void apply(const struct header_modifier *c, h2o_req_t *req, h2o_headers_t *hs)
{
    for (size_t i = 0; i < c->n_set; i++)
        mw_header_set(req, hs, c->set[i].name, c->set[i].name_len, c->set[i].value, c->set[i].value_len);
    for (size_t i = 0; i < c->n_add; i++)
        append(req, hs, &c->add[i]);
    for (size_t i = 0; i < c->n_remove; i++)
        mw_header_unset(hs, c->remove[i].name, c->remove[i].name_len);
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    apply(cfg, run->req, &run->req->headers);
    return MW_NEXT;
}

static enum mw_verdict pass(const void *cfg, struct mw_run *run)
{
    (void)cfg;
    (void)run;
    return MW_NEXT;
}

static void on_response(const void *cfg, struct mw_run *run)
{
    apply(cfg, run->req, &run->req->res.headers);
}

const struct mw_type mw_request_header_modifier = {"requestHeaderModifier", build, on_request, NULL};
const struct mw_type mw_response_header_modifier = {"responseHeaderModifier", build, pass, on_response};
