/* Keeping and restoring a request's editable fields (see request_view.h). */
#include "request_view.h"

#include <string.h>

static h2o_headers_t headers_copy(h2o_mem_pool_t *pool, const h2o_headers_t *h)
{
    h2o_header_t *entries = h2o_mem_alloc_pool(pool, (h->size ? h->size : 1) * sizeof(*entries));
    if (h->size)
        memcpy(entries, h->entries, h->size * sizeof(*entries));
    return (h2o_headers_t){entries, h->size, h->size};
}

void request_view_save(struct request_view *v, h2o_req_t *req, const struct upstream_client *client)
{
    *v = (struct request_view){
        .headers = headers_copy(&req->pool, &req->headers),
        .authority = req->authority,
        .path = req->path,
        .method = req->method,
        .entity = req->entity,
        .res = req->res,
        .client_path = client->path,
        .forwarded_off = client->forwarded_off,
    };
}

void request_view_restore(const struct request_view *v, h2o_req_t *req, struct upstream_client *client)
{
    req->headers = headers_copy(&req->pool, &v->headers);
    req->authority = v->authority;
    req->path = v->path;
    req->method = v->method;
    req->entity = v->entity;
    req->res = v->res;
    if (client != NULL) {
        client->path = v->client_path;
        client->forwarded_off = v->forwarded_off;
    }
}
