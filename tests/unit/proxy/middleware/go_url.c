/* Tests proxy/middleware/go_url.c against what Go's net/url gives. */
#include "../../test.h"

#include "../../../../proxy/middleware/go_url.c"

static h2o_mem_pool_t pool;

static const char *s(h2o_iovec_t v)
{
    return h2o_strdup(&pool, v.base, v.len).base;
}

static const char *location(const char *u)
{
    h2o_iovec_t out;
    return go_url_location(&pool, u, strlen(u), &out) ? s(out) : "(error)";
}

int main(void)
{
    h2o_mem_init_pool(&pool);
    h2o_iovec_t v;
    CHECK(go_url_unescape(&pool, H2O_STRLIT("/a%2Fb%20c+"), &v));
    CHECK_STR(s(v), "/a/b c+");
    CHECK(!go_url_unescape(&pool, H2O_STRLIT("/a%2"), &v));
    CHECK(!go_url_unescape(&pool, H2O_STRLIT("/a%zz"), &v));
    CHECK_STR(s(go_url_escape(&pool, H2O_STRLIT("/a b/c;d?e#f%\"!"))), "/a%20b/c;d%3Fe%23f%25%22%21");
    CHECK(go_url_valid_encoded(H2O_STRLIT("/a%2Fb!$&'()*+,;=:@[]")));
    CHECK(!go_url_valid_encoded(H2O_STRLIT("/a b")));
    CHECK(!go_url_valid_encoded(H2O_STRLIT("/a\"b")));
    /* RawPath kept: an escaping Go would not choose */
    CHECK(!go_url_raw_path_set(&pool, H2O_STRLIT("/a/b")));
    CHECK(!go_url_raw_path_set(&pool, H2O_STRLIT("/a%20b")));
    CHECK(go_url_raw_path_set(&pool, H2O_STRLIT("/a%2Fb")));
    CHECK(go_url_raw_path_set(&pool, H2O_STRLIT("/a!b")));
    CHECK(go_url_raw_path_set(&pool, H2O_STRLIT("/a%2fb")));
    /* EscapedPath */
    CHECK_STR(s(go_url_escaped_path(&pool, h2o_iovec_init(H2O_STRLIT("/a%2Fb")), h2o_iovec_init(H2O_STRLIT("/a/b")))), "/a%2Fb");
    CHECK_STR(s(go_url_escaped_path(&pool, h2o_iovec_init(H2O_STRLIT("/a%2Fb c")), h2o_iovec_init(H2O_STRLIT("/a/b c")))),
              "/a/b%20c");
    CHECK_STR(s(go_url_escaped_path(&pool, h2o_iovec_init(NULL, 0), h2o_iovec_init(H2O_STRLIT("/a b")))), "/a%20b");

    /* url.Parse(x).String() */
    CHECK_STR(location("https://foobar.com:443"), "https://foobar.com:443");
    CHECK_STR(location("http://mydomain/a/b?c=d#e"), "http://mydomain/a/b?c=d#e");
    CHECK_STR(location("http://h/a b?q= x"), "http://h/a%20b?q= x");
    CHECK_STR(location("/relative/path"), "/relative/path");
    CHECK_STR(location("http://[::1]:8080/x"), "http://[::1]:8080/x");
    CHECK_STR(location("http://user:pw@h/x"), "http://user:pw@h/x");
    CHECK_STR(location("mailto:a@b"), "mailto:a@b");
    CHECK_STR(location("http://h/x#"), "http://h/x");
    CHECK_STR(location("http://192.168.0.%31/"), "(error)"); /* Traefik's own test: 502 */
    CHECK_STR(location("http://h:8x/"), "(error)");
    CHECK_STR(location("http://h/a%zz"), "(error)");
    CHECK_STR(location("http://h/a\r\nX: y"), "(error)");
    CHECK_STR(location(":foo"), "(error)");
    CHECK_STR(location("a:b/c"), "a:b/c");  /* a scheme, opaque */
    CHECK_STR(location("1a:b"), "(error)"); /* no scheme, a colon in the first segment */
    CHECK_STR(location("http://h{/"), "(error)");

    h2o_mem_clear_pool(&pool);
    return test_report("proxy/middleware/go_url");
}
