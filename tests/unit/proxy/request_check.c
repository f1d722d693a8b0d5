/* Tests proxy/request_check.c: what is refused before routing. */
#include "../../../proxy/request_check.c"

#include "test.h"

static const char *head(const char *text)
{
    return request_check_h1_head(text, strlen(text));
}

static h2o_mem_pool_t pool;

/* An HTTP/2 request with the given pseudo-headers and one extra header. */
static const char *check(const char *method, const char *path, const char *authority, const char *hname, const char *hvalue)
{
    h2o_req_t req;
    memset(&req, 0, sizeof(req));
    req.version = 0x200;
    req.method = h2o_iovec_init(method, strlen(method));
    req.path = h2o_iovec_init(path, strlen(path));
    req.authority = h2o_iovec_init(authority, strlen(authority));
    if (hname != NULL)
        h2o_add_header_by_str(&pool, &req.headers, hname, strlen(hname), 1, NULL, hvalue, strlen(hvalue));
    return request_check(&req);
}

int main(void)
{
    h2o_mem_init_pool(&pool);
    /* framing: one of Content-Length or Transfer-Encoding, once */
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n") == NULL);
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n") == NULL);
    CHECK_STR(head("POST / HTTP/1.1\r\ncontent-length: 5\r\nTransfer-Encoding: chunked\r\n"),
              "both Content-Length and Transfer-Encoding");
    CHECK_STR(head("POST / HTTP/1.1\r\nContent-Length: 5\r\nCONTENT-LENGTH: 5\r\n"), "more than one Content-Length");
    CHECK_STR(head("POST / HTTP/1.1\nTransfer-Encoding: chunked\nTransfer-Encoding: chunked\n"),
              "more than one Transfer-Encoding");
    /* a header merely starting with the name is another header */
    CHECK(head("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length-Extra: 1\r\n") == NULL);
    /* obs-fold, with either line ending */
    CHECK_CONTAINS(head("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n"), "obs-fold");
    CHECK_CONTAINS(head("GET / HTTP/1.1\nX-A: a\n\tb\n"), "obs-fold");
    /* the scan stops at the blank line: the body is not headers */
    CHECK(head("POST / HTTP/1.1\r\nContent-Length: 30\r\n\r\nContent-Length: 1\r\n") == NULL);

    /* pseudo-headers libh2o does not check over HTTP/2 */
    CHECK(check("GET", "/a?b=c", "a.test:8080", "x-a", "b") == NULL);
    CHECK(check("M-SEARCH", "*", "a.test", NULL, NULL) == NULL);
    CHECK_STR(check("GE T", "/", "a", NULL, NULL), "invalid method");
    CHECK_STR(check("", "/", "a", NULL, NULL), "invalid method");
    CHECK_STR(check("GET", "/a b", "a", NULL, NULL), "control character or space in the request target");
    CHECK_STR(check("GET", "/a\r\nX: y", "a", NULL, NULL), "control character or space in the request target");
    CHECK_STR(check("GET", "/", "a\r\nx", NULL, NULL), "invalid host");
    CHECK_STR(check("GET", "/", "a/b", NULL, NULL), "invalid host");
    CHECK_STR(check("GET", "/", "user@a", NULL, NULL), "invalid host");
    CHECK(check("GET", "/", "[::1]:80", NULL, NULL) == NULL);
    /* a header without a name: what libh2o makes of an obs-folded line */
    CHECK_CONTAINS(check("GET", "/", "a", "", "folded"), "obs-fold");
    /* RFC 9112 3.2: one Host, not two (equal or not) */
    CHECK_STR(head("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n"), "more than one Host");
    CHECK_STR(head("GET / HTTP/1.1\r\nhost: a\r\nHOST: b\r\n"), "more than one Host");
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nHost-Extra: b\r\n") == NULL);
    /* TRACE and TRACK are 405 unless allowed; other methods, known or not, pass */
    h2o_req_t r;
    memset(&r, 0, sizeof(r));
    r.method = h2o_iovec_init(H2O_STRLIT("TRACE"));
    CHECK(!request_check_method_allowed(&r, false) && request_check_method_allowed(&r, true));
    r.method = h2o_iovec_init(H2O_STRLIT("TRACK"));
    CHECK(!request_check_method_allowed(&r, false));
    r.method = h2o_iovec_init(H2O_STRLIT("PROPFIND"));
    CHECK(request_check_method_allowed(&r, false));
    r.method = h2o_iovec_init(H2O_STRLIT("trace")); /* methods are case-sensitive: another method */
    CHECK(request_check_method_allowed(&r, false));
    /* absolute-form targets and Host */
    CHECK(same_host(h2o_iovec_init(H2O_STRLIT("A.example")), h2o_iovec_init(H2O_STRLIT("a.example:80")), false));
    CHECK(!same_host(h2o_iovec_init(H2O_STRLIT("a.example")), h2o_iovec_init(H2O_STRLIT("a.example:80")), true));
    CHECK(!same_host(h2o_iovec_init(H2O_STRLIT("a.example")), h2o_iovec_init(H2O_STRLIT("b.example")), false));
    h2o_mem_clear_pool(&pool);
    return test_report("proxy/request_check");
}
