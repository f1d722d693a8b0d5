/* Tests proxy/grpc.c: which requests are gRPC calls, and grpc-timeout. */
#include "../../../proxy/grpc.c"

#include "test.h"

static bool is_grpc(const char *ct)
{
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    h2o_req_t req;
    memset(&req, 0, sizeof(req));
    if (ct != NULL)
        h2o_add_header(&pool, &req.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ct, strlen(ct));
    bool r = grpc_is_request(&req);
    h2o_mem_clear_pool(&pool);
    return r;
}

int main(void)
{
    CHECK(is_grpc("application/grpc"));
    CHECK(is_grpc("application/grpc+proto"));
    CHECK(is_grpc("Application/GRPC;charset=utf-8"));
    CHECK(!is_grpc("application/grpc-web"));      /* gRPC-Web: trailers in the body, not this path */
    CHECK(!is_grpc("application/grpc-web-text"));
    CHECK(!is_grpc("application/json"));
    CHECK(!is_grpc(NULL));

    CHECK(grpc_timeout_ms(H2O_STRLIT("300m")) == 300);
    CHECK(grpc_timeout_ms(H2O_STRLIT("2S")) == 2000);
    CHECK(grpc_timeout_ms(H2O_STRLIT("1M")) == 60000);
    CHECK(grpc_timeout_ms(H2O_STRLIT("1H")) == 3600000);
    CHECK(grpc_timeout_ms(H2O_STRLIT("1500u")) == 2);     /* rounded up: never earlier than asked */
    CHECK(grpc_timeout_ms(H2O_STRLIT("99999999n")) == 100);
    CHECK(grpc_timeout_ms(H2O_STRLIT("0m")) == 0);
    CHECK(grpc_timeout_ms(H2O_STRLIT("123456789S")) == -1); /* at most 8 digits */
    CHECK(grpc_timeout_ms(H2O_STRLIT("m")) == -1);
    CHECK(grpc_timeout_ms(H2O_STRLIT("10x")) == -1);
    CHECK(grpc_timeout_ms(H2O_STRLIT("1 S")) == -1);

    CHECK(grpc_status_of_http(503) == GRPC_UNAVAILABLE);
    CHECK(grpc_status_of_http(502) == GRPC_UNAVAILABLE);
    CHECK(grpc_status_of_http(504) == GRPC_DEADLINE_EXCEEDED);
    return test_report("proxy/grpc");
}
