/* Sticky cookies (see sticky.h). HTTP/2 clients may split Cookie into
 * several header fields, so every one is searched. */
#include "sticky.h"

#include <string.h>

/* The value of cookie <name> in one Cookie header value ("a=1; b=2"). */
static bool cookie_value(const h2o_iovec_t *v, const char *name, size_t name_len, h2o_iovec_t *out)
{
    const char *p = v->base, *end = v->base + v->len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ';'))
            p++;
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *item_end = semi ? semi : end;
        const char *eq = memchr(p, '=', (size_t)(item_end - p));
        if (eq != NULL && (size_t)(eq - p) == name_len && memcmp(p, name, name_len) == 0) {
            const char *vs = eq + 1, *ve = item_end;
            while (ve > vs && ve[-1] == ' ')
                ve--;
            if (ve - vs >= 2 && vs[0] == '"' && ve[-1] == '"')
                vs++, ve--;
            *out = h2o_iovec_init(vs, (size_t)(ve - vs));
            return true;
        }
        p = item_end;
    }
    return false;
}

int sticky_find(const struct table_sticky *st, uint32_t n, const h2o_req_t *req)
{
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        if (h->name != &H2O_TOKEN_COOKIE->buf)
            continue;
        h2o_iovec_t v;
        if (!cookie_value(&h->value, st->name, st->name_len, &v))
            continue;
        for (uint32_t j = 0; j < n; j++)
            if (h2o_memis(v.base, v.len, st->values[j], strlen(st->values[j])))
                return (int)j;
        return -1;
    }
    return -1;
}

void sticky_set_cookie(h2o_req_t *req, const struct table_sticky *st, uint32_t i)
{
    size_t vlen = strlen(st->values[i]), alen = strlen(st->attrs), len = st->name_len + 1 + vlen + alen;
    char *buf = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(buf, st->name, st->name_len);
    buf[st->name_len] = '=';
    memcpy(buf + st->name_len + 1, st->values[i], vlen);
    memcpy(buf + st->name_len + 1 + vlen, st->attrs, alen + 1);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, buf, len);
}

int sticky_child(const struct table_service *svc, const h2o_req_t *req)
{
    int i = sticky_find(svc->sticky, svc->n_children, req);
    if (i < 0 || svc->child_weights[i] <= 0)
        return -1;
    const struct table_service *c = svc->children[i];
    return c->n_servers == 0 && c->n_children == 0 && c->main == NULL && c->empty_status == 0 ? -1 : i;
}
