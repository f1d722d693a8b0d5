/* Tests proxy/middleware/mw_grpc_web.c: options (files and lowercased
 * labels), and the request rewrite (content-type, te, the -text body
 * decoded). The response path, preflights and CORS run against a real
 * gRPC server in tests/integration/test_mw_grpc_web.py. */
#include "mw_test.h"

#include "../../test.h"

#include "../../../../proxy/middleware/mw_grpc_web.c"

int main(void)
{
    struct mw_test t;
    mw_test_init(&t);

    const char *file[] = {"allowOrigins[0]", "https://a.example", "allowOrigins[1]", "https://b.example", NULL};
    struct table_middleware *m = mw_test_build(&t, "grpcWeb", file);
    CHECK(m != NULL);
    const struct grpc_web *g = m->cfg;
    CHECK(g->n_origins == 2 && !g->any_origin && strcmp(g->origins[1], "https://b.example") == 0);
    const char *label[] = {"alloworigins", "*", NULL};
    m = mw_test_build(&t, "grpcweb", label);
    CHECK(m != NULL && ((const struct grpc_web *)m->cfg)->any_origin);
    CHECK(mw_test_build(&t, "grpcWeb", NULL) != NULL); /* no origin allowed: calls still converted */
    const char *bad[] = {"allowOrigins", "https://a.example\r\nx: y", NULL};
    CHECK(mw_test_build(&t, "grpcWeb", bad) == NULL);
    CHECK_CONTAINS(t.error, "grpcWeb: allowOrigins: 'https://a.example");
    const char *unknown[] = {"allowOrigin", "*", NULL};
    CHECK(mw_test_build(&t, "grpcWeb", unknown) == NULL);
    CHECK_CONTAINS(t.error, "unknown option 'allowOrigin'");

    /* a binary call: goes upstream as gRPC, te: trailers, the body as it is */
    m = mw_test_build(&t, "grpcWeb", label);
    mw_test_add_header(&t, "content-type", "application/grpc-web+proto");
    t.req.entity = h2o_iovec_init(H2O_STRLIT("\0\0\0\0\0"));
    CHECK(mw_test_request(&t, m, "POST", "a.test", "/pkg.Svc/M") == MW_NEXT);
    CHECK_STR(mw_test_header(&t, "content-type"), "application/grpc+proto");
    CHECK_STR(mw_test_header(&t, "te"), "trailers");
    CHECK(t.req.entity.len == 5);
    struct call *c = *mw_slot(&t.run);
    CHECK(c != NULL && c->kind == GRPC_WEB_BINARY && c->origin.len == 0); /* no Origin sent */

    /* a -text call: the body decoded (two pieces, each padded) */
    mw_test_free(&t);
    mw_test_init(&t);
    m = mw_test_build(&t, "grpcWeb", label);
    mw_test_add_header(&t, "content-type", "application/grpc-web-text");
    mw_test_add_header(&t, "origin", "https://x.example");
    t.req.entity = h2o_iovec_init(H2O_STRLIT("AAAAAAE=Kg=="));
    CHECK(mw_test_request(&t, m, "POST", "a.test", "/pkg.Svc/M") == MW_NEXT);
    CHECK_STR(mw_test_header(&t, "content-type"), "application/grpc");
    CHECK(t.req.entity.len == 6 && memcmp(t.req.entity.base, "\0\0\0\0\1*", 6) == 0);
    c = *mw_slot(&t.run);
    CHECK(c != NULL && c->kind == GRPC_WEB_TEXT && h2o_memis(c->origin.base, c->origin.len, H2O_STRLIT("https://x.example")));

    /* not gRPC-Web, or not a POST: untouched */
    mw_test_free(&t);
    mw_test_init(&t);
    m = mw_test_build(&t, "grpcWeb", file);
    mw_test_add_header(&t, "content-type", "application/grpc");
    CHECK(mw_test_request(&t, m, "POST", "a.test", "/pkg.Svc/M") == MW_NEXT);
    CHECK_STR(mw_test_header(&t, "content-type"), "application/grpc");
    CHECK(mw_test_header(&t, "te") == NULL && *mw_slot(&t.run) == NULL);
    mw_test_add_header(&t, "content-type", "application/grpc-web");
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/pkg.Svc/M") == MW_NEXT);
    CHECK_STR(mw_test_header(&t, "content-type"), "application/grpc-web");
    /* an OPTIONS that is not a gRPC-Web preflight passes on */
    mw_test_add_header(&t, "access-control-request-method", "POST");
    mw_test_add_header(&t, "access-control-request-headers", "content-type");
    CHECK(mw_test_request(&t, m, "OPTIONS", "a.test", "/") == MW_NEXT);

    /* allowed origins: exact match, or "*" */
    mw_test_add_header(&t, "origin", "https://b.example");
    CHECK(allowed_origin(m->cfg, &t.req).len == strlen("https://b.example"));
    mw_test_add_header(&t, "origin", "https://b.example.evil");
    CHECK(allowed_origin(m->cfg, &t.req).len == 0);

    mw_test_free(&t);
    return test_report("proxy/middleware/mw_grpc_web");
}
