/*
 * Helpers for middleware unit tests: build a middleware from key/value
 * options the way the aggregator does, and run its request hook on a
 * synthetic request (method, authority, path, headers) without a server.
 */
#ifndef GANTRY_MW_TEST_H
#define GANTRY_MW_TEST_H

#include <string.h>

#include "../../../../proxy/middleware/middleware.h"
#include "../../../../proxy/table.h"

struct mw_test {
    struct arena arena;
    h2o_req_t req;
    struct table_route route;
    struct table_middleware *mws[1];
    struct mw_run run;
    bool passed;
    char error[1024];
};

static void mw_test_pass(struct mw_run *run)
{
    struct mw_test *t = (struct mw_test *)((char *)run - offsetof(struct mw_test, run));
    t->passed = true;
}

/* <kv>: "key", "value", ..., NULL. Returns the compiled middleware or NULL
 * with t->error set. */
static inline struct table_middleware *mw_test_build(struct mw_test *t, const char *type, const char *const *kv)
{
    size_t n = 0;
    while (kv && kv[2 * n])
        n++;
    const char *keys[n ? n : 1], *values[n ? n : 1];
    for (size_t i = 0; i < n; i++) {
        keys[i] = kv[2 * i];
        values[i] = kv[2 * i + 1];
    }
    struct diag d;
    diag_clear(&d);
    struct table_middleware *m = middleware_build(&t->arena, "test@file", type, keys, values, n, &d);
    snprintf(t->error, sizeof(t->error), "%s", d.msg);
    return m;
}

static inline void mw_test_init(struct mw_test *t)
{
    memset(t, 0, sizeof(*t));
    arena_init(&t->arena);
    h2o_mem_init_pool(&t->req.pool);
}

/* A request (path includes the query) through one middleware. */
static inline enum mw_verdict mw_test_request(struct mw_test *t, struct table_middleware *m, const char *method,
                                              const char *authority, const char *path)
{
    h2o_req_t *req = &t->req;
    req->method = h2o_iovec_init(method, strlen(method));
    req->authority = h2o_iovec_init(authority, strlen(authority));
    req->path = h2o_iovec_init(path, strlen(path));
    t->mws[0] = m;
    t->route.middlewares = t->mws;
    t->route.n_middlewares = 1;
    t->run = (struct mw_run){.req = req, .route = &t->route, .pass = mw_test_pass};
    t->run.client.path = req->path;
    t->passed = false;
    return m->type->on_request(m->cfg, &t->run);
}

static inline void mw_test_add_header(struct mw_test *t, const char *name, const char *value)
{
    mw_header_set(&t->req, &t->req.headers, name, strlen(name), value, strlen(value));
}

static inline const char *mw_test_header(struct mw_test *t, const char *name)
{
    const h2o_iovec_t *v = mw_header_get(&t->req.headers, name, strlen(name));
    return v ? h2o_strdup(&t->req.pool, v->base, v->len).base : NULL;
}

static inline const char *mw_test_path(struct mw_test *t)
{
    return h2o_strdup(&t->req.pool, t->run.client.path.base, t->run.client.path.len).base;
}

static inline void mw_test_free(struct mw_test *t)
{
    h2o_mem_clear_pool(&t->req.pool);
    arena_free(&t->arena);
}

#endif
