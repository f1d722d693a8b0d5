/* Tests proxy/h1_body.c: response framing and where a body ends. */
#include "../../../proxy/h1_body.c"

#include "test.h"

static struct phr_header hdr(const char *name, const char *value)
{
    return (struct phr_header){name, strlen(name), value, strlen(value)};
}

static h2o_buffer_t *buf(const char *bytes)
{
    h2o_buffer_t *b;
    h2o_buffer_init(&b, &h2o_socket_buffer_prototype);
    size_t n = strlen(bytes);
    h2o_iovec_t v = h2o_buffer_reserve(&b, n);
    memcpy(v.base, bytes, n);
    b->size += n;
    return b;
}

int main(void)
{
    struct h1_body b;
    size_t cl;
    struct phr_header hs[4];

    /* Content-Length; extra bytes after the body make the connection unusable */
    hs[0] = hdr("Content-Length", "5");
    CHECK(h1_body_init(&b, 1, 200, false, hs, 1, &cl) == 0);
    CHECK(b.framing == BODY_LENGTH && cl == 5 && b.reusable);
    h2o_buffer_t *in = buf("hel");
    CHECK(h1_body_feed(&b, in) == 0 && !b.done && b.left == 2);
    memcpy(h2o_buffer_reserve(&in, 4).base, "loXX", 4);
    in->size += 4;
    CHECK(h1_body_feed(&b, in) == 0 && b.done && in->size == 5 && !b.reusable);
    h2o_buffer_dispose(&in);

    /* two equal Content-Lengths are one; different ones are an error */
    hs[1] = hdr("content-length", "5");
    CHECK(h1_body_init(&b, 1, 200, false, hs, 2, &cl) == 0 && cl == 5);
    hs[1] = hdr("content-length", "6");
    CHECK(h1_body_init(&b, 1, 200, false, hs, 2, &cl) == -1);
    hs[0] = hdr("Content-Length", "+5");
    CHECK(h1_body_init(&b, 1, 200, false, hs, 1, &cl) == -1);

    /* chunked wins; the decoder works in place */
    hs[0] = hdr("Transfer-Encoding", "gzip, chunked");
    CHECK(h1_body_init(&b, 1, 200, false, hs, 1, &cl) == 0 && b.framing == BODY_CHUNKED && cl == SIZE_MAX);
    in = buf("3\r\nabc\r\n0\r\n\r\n");
    CHECK(h1_body_feed(&b, in) == 0 && b.done && in->size == 3 && memcmp(in->bytes, "abc", 3) == 0 && b.reusable);
    h2o_buffer_dispose(&in);
    CHECK(h1_body_init(&b, 1, 200, false, hs, 1, &cl) == 0);
    in = buf("zz\r\n");
    CHECK(h1_body_feed(&b, in) == -1);
    h2o_buffer_dispose(&in);

    /* trailers: kept apart from the body, across reads, framing fields dropped */
    hs[0] = hdr("Transfer-Encoding", "chunked");
    CHECK(h1_body_init(&b, 1, 200, false, hs, 1, &cl) == 0);
    in = buf("2\r\nhi\r\n0\r\ngrpc-status: 0\r\nX-Sum: ab");
    CHECK(h1_body_feed(&b, in) == 0 && !b.done && in->size == 2 && memcmp(in->bytes, "hi", 2) == 0);
    {
        h2o_iovec_t v = h2o_buffer_reserve(&in, 64);
        static const char more[] = "c\r\nContent-Length: 9\r\n\r\n";
        memcpy(v.base, more, sizeof(more) - 1);
        in->size += sizeof(more) - 1;
    }
    CHECK(h1_body_feed(&b, in) == 0 && b.done && in->size == 2 && b.reusable);
    {
        h2o_mem_pool_t pool;
        h2o_mem_init_pool(&pool);
        h2o_headers_t t = {NULL};
        CHECK(h1_body_trailers(&b, &pool, &t) == 2 && t.size == 2);
        CHECK(h2o_memis(t.entries[0].name->base, t.entries[0].name->len, H2O_STRLIT("grpc-status")));
        CHECK(h2o_memis(t.entries[1].name->base, t.entries[1].name->len, H2O_STRLIT("x-sum")));
        CHECK(h2o_memis(t.entries[1].value.base, t.entries[1].value.len, H2O_STRLIT("abc")));
        h2o_mem_clear_pool(&pool);
    }
    h2o_buffer_dispose(&in);
    /* an empty trailer section; bytes after it make the connection unusable */
    CHECK(h1_body_init(&b, 1, 200, false, hs, 1, &cl) == 0);
    in = buf("0\r\n\r\nHTTP/1.1");
    CHECK(h1_body_feed(&b, in) == 0 && b.done && in->size == 0 && !b.reusable);
    {
        h2o_mem_pool_t pool;
        h2o_mem_init_pool(&pool);
        h2o_headers_t t = {NULL};
        CHECK(h1_body_trailers(&b, &pool, &t) == 0);
        h2o_mem_clear_pool(&pool);
    }
    h2o_buffer_dispose(&in);
    /* what RFC 9110 6.5.1 keeps out of trailers: content format and request
     * modifiers too (they were forwarded before the lists were one) */
    CHECK(h1_body_init(&b, 1, 200, false, hs, 1, &cl) == 0);
    in = buf("0\r\nContent-Type: text/html\r\nProxy-Connection: x\r\nExpect: y\r\nHTTP2-Settings: z\r\n"
             "Content-Encoding: gzip\r\nX-Ok: 1\r\n\r\n");
    CHECK(h1_body_feed(&b, in) == 0 && b.done);
    {
        h2o_mem_pool_t pool;
        h2o_mem_init_pool(&pool);
        h2o_headers_t t = {NULL};
        CHECK(h1_body_trailers(&b, &pool, &t) == 1 && t.size == 1);
        CHECK(h2o_memis(t.entries[0].name->base, t.entries[0].name->len, H2O_STRLIT("x-ok")));
        h2o_mem_clear_pool(&pool);
    }
    h2o_buffer_dispose(&in);

    /* another coding last, or no length: to the end of the connection */
    hs[0] = hdr("Transfer-Encoding", "chunked, gzip");
    CHECK(h1_body_init(&b, 1, 200, false, hs, 1, &cl) == 0 && b.framing == BODY_EOF && !b.reusable);
    CHECK(h1_body_init(&b, 1, 200, false, hs, 0, &cl) == 0 && b.framing == BODY_EOF && !b.reusable);

    /* no body: HEAD (its Content-Length kept), 204, 304, 1xx */
    hs[0] = hdr("Content-Length", "1000");
    CHECK(h1_body_init(&b, 1, 200, true, hs, 1, &cl) == 0 && b.framing == BODY_NONE && cl == 1000);
    CHECK(h1_body_init(&b, 1, 304, false, hs, 1, &cl) == 0 && b.framing == BODY_NONE && cl == SIZE_MAX);
    in = buf("");
    CHECK(h1_body_feed(&b, in) == 0 && b.done && b.reusable);
    h2o_buffer_dispose(&in);

    /* keep-alive: HTTP/1.0 only when asked, HTTP/1.1 unless closed */
    hs[0] = hdr("Content-Length", "0");
    hs[1] = hdr("Connection", "keep-alive");
    CHECK(h1_body_init(&b, 0, 200, false, hs, 1, &cl) == 0 && !b.reusable);
    CHECK(h1_body_init(&b, 0, 200, false, hs, 2, &cl) == 0 && b.reusable);
    hs[1] = hdr("Connection", "close");
    CHECK(h1_body_init(&b, 1, 200, false, hs, 2, &cl) == 0 && !b.reusable);
    return test_report("proxy/h1_body");
}
