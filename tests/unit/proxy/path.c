/* Tests proxy/path.c: encoded characters, normalisation, dot segments. */
#include "../../../proxy/path.c"

#include <stdlib.h>

#include "test.h"

/* Normalised form of <in> ("!" + error text when refused). */
static const char *norm(const char *in, unsigned allow, bool sanitize)
{
    static char out[512];
    size_t n;
    const char *err = path_normalize(in, strlen(in), allow, sanitize, out, &n);
    if (err != NULL) {
        snprintf(out, sizeof(out), "!%s", err);
        return out;
    }
    out[n] = '\0';
    return out;
}

static const char *decoded(const char *in)
{
    static char out[512];
    out[path_decode(in, strlen(in), out)] = '\0';
    return out;
}

int main(void)
{
    /* dot segments and repeated slashes (RFC 3986 5.2.4) */
    CHECK_STR(norm("/", 0, true), "/");
    CHECK_STR(norm("/a/b", 0, true), "/a/b");
    CHECK_STR(norm("/a/b/", 0, true), "/a/b/");
    CHECK_STR(norm("/api/../admin", 0, true), "/admin");
    CHECK_STR(norm("/a/./b/../c", 0, true), "/a/c");
    CHECK_STR(norm("/a/b/..", 0, true), "/a/");
    CHECK_STR(norm("/a/.", 0, true), "/a/");
    CHECK_STR(norm("/..", 0, true), "/");
    CHECK_STR(norm("/../../x", 0, true), "/x");
    CHECK_STR(norm("//a//b//", 0, true), "/a/b/");
    CHECK_STR(norm("/a/.../b/..c/.d", 0, true), "/a/.../b/..c/.d"); /* only "." and ".." are special */
    /* encoded unreserved characters are decoded first, so %2e%2e is ".." */
    CHECK_STR(norm("/api/%2e%2e/admin", 0, true), "/admin");
    CHECK_STR(norm("/api/.%2E/admin", 0, true), "/admin");
    CHECK_STR(norm("/%61%7A%2D%5f%7e", 0, true), "/az-_~");
    /* others upper-cased and kept */
    CHECK_STR(norm("/caf%c3%a9", 0, true), "/caf%C3%A9");
    CHECK_STR(norm("/a%20b%c3", 0, true), "/a%20b%C3");
    /* guarded encodings refused unless allowed */
    CHECK_CONTAINS(norm("/a%2fb", 0, true), "encoded slash");
    CHECK_CONTAINS(norm("/a%5Cb", 0, true), "encoded backslash");
    CHECK_CONTAINS(norm("/a%00", 0, true), "encoded NUL");
    CHECK_CONTAINS(norm("/a%3b", 0, true), "encoded semicolon");
    CHECK_CONTAINS(norm("/a%25", 0, true), "encoded percent");
    CHECK_CONTAINS(norm("/a%3F", 0, true), "encoded question mark");
    CHECK_CONTAINS(norm("/a%23", 0, true), "encoded hash");
    CHECK_STR(norm("/a%2fb/..", PATH_ALLOW_SLASH, true), "/"); /* one segment "a%2Fb", then ".." */
    CHECK_STR(norm("/api/..%2fadmin", PATH_ALLOW_SLASH, true), "/api/..%2Fadmin");
    CHECK_STR(norm("/%252e", PATH_ALLOW_PERCENT, true), "/%252e"); /* "2e" after it is text */
    /* malformed input */
    CHECK_CONTAINS(norm("/a%zz", 0, true), "invalid percent-encoding");
    CHECK_CONTAINS(norm("/a%2", 0, true), "invalid percent-encoding");
    CHECK_CONTAINS(norm("/a b", 0, true), "control character or space");
    CHECK_CONTAINS(norm("/a\x7f", 0, true), "control character");
    CHECK_CONTAINS(norm("a/b", 0, true), "must start with /");
    CHECK_CONTAINS(norm("", 0, true), "must start with /");
    /* sanitizePath=false: normalisation only */
    CHECK_STR(norm("/a/./b/../c", 0, false), "/a/./b/../c");
    CHECK_STR(norm("/a/%2e%2e", 0, false), "/a/..");
    /* the form rules match on */
    CHECK_STR(decoded("/caf%C3%A9"), "/caf\xc3\xa9");
    CHECK_STR(decoded("/a%2Fb"), "/a/b");
    CHECK_STR(decoded("/a%2"), "/a%2");
    /* the fast path */
    CHECK(path_is_plain("/api/v1/users", 13));
    CHECK(!path_is_plain("/api/../x", 9));
    CHECK(!path_is_plain("/a//b", 5));
    CHECK(!path_is_plain("/a%41", 5));
    CHECK(!path_is_plain("/a b", 4));
    CHECK(!path_is_plain("/a\\b", 4));
    /* a raw backslash is refused like %5C, and allowed by the same switch */
    CHECK_CONTAINS(norm("/a\\b", 0, true), "backslash");
    CHECK_CONTAINS(norm("/..\\admin", 0, false), "backslash");
    CHECK_STR(norm("/a\\b", PATH_ALLOW_BACKSLASH, true), "/a\\b");
    /* dot segments with parameters, in any spelling */
    CHECK_CONTAINS(norm("/api/..;/admin", 0, true), "dot segment with parameters");
    CHECK_CONTAINS(norm("/api/.;/admin", 0, true), "dot segment with parameters");
    CHECK_CONTAINS(norm("/api/..;x/admin", 0, true), "dot segment with parameters");
    CHECK_CONTAINS(norm("/api/%2e%2e;/admin", 0, true), "dot segment with parameters");
    CHECK_CONTAINS(norm("/..;", 0, true), "dot segment with parameters");
    /* neighbours: parameters elsewhere, dots inside names */
    CHECK_STR(norm("/a;b=c/d", 0, true), "/a;b=c/d");
    CHECK_STR(norm("/a/...;x/b", 0, true), "/a/...;x/b");
    CHECK_STR(norm("/a/x..;/b", 0, true), "/a/x..;/b");
    CHECK_STR(norm("/a/.x;/b", 0, true), "/a/.x;/b");
    /* sanitizePath=false: dot segments are nobody's business here */
    CHECK_STR(norm("/api/..;/admin", 0, false), "/api/..;/admin");
    return test_report("proxy/path");
}
