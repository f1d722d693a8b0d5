/* Tests proxy/middleware/regex_replace.c: Go's ReplaceAllString and
 * Regexp.Expand cases (replacement syntax, empty matches, anchors, UTF-8),
 * Go's `$` (end of text only), refused patterns, and the match limit. */
#include "../../test.h"

#include "../../../../proxy/middleware/regex_replace.c"

#include <time.h>

static struct arena arena;
static h2o_mem_pool_t pool;

static const char *replace(const char *pattern, const char *tmpl, const char *s)
{
    struct regex_replace r;
    struct diag d;
    diag_clear(&d);
    if (regex_replace_compile(&arena, "regex", pattern, &r, &d) != 0)
        return h2o_strdup(&pool, d.msg, SIZE_MAX).base;
    regex_replace_template(&arena, &r, tmpl);
    bool matched;
    h2o_iovec_t out = regex_replace_all(&r, &pool, s, strlen(s), &matched);
    return h2o_strdup(&pool, out.base, out.len).base;
}

int main(void)
{
    arena_init(&arena);
    h2o_mem_init_pool(&pool);

    /* Go's regexp replaceTests (all_test.go), as results of ReplaceAllString */
    static const char *const cases[][4] = {
        {"", "", "", ""},
        {"", "x", "", "x"},
        {"", "", "abc", "abc"},
        {"", "x", "abc", "xaxbxcx"},
        {"b", "", "", ""},
        {"b", "x", "", ""},
        {"b", "", "abc", "ac"},
        {"b", "x", "abc", "axc"},
        {"y", "x", "abc", "abc"},
        {"[a-c]*", "x", "\xe6\x97\xa5", "x\xe6\x97\xa5x"},
        {"[^\xe6\x97\xa5]", "x", "abc\xe6\x97\xa5" "def", "xxx\xe6\x97\xa5xxx"},
        {"^[a-c]*", "x", "abcdabc", "xdabc"},
        {"[a-c]*$", "x", "abcdabc", "abcdx"},
        {"^[a-c]*$", "x", "abcdabc", "abcdabc"},
        {"^[a-c]*", "x", "", "x"},
        {"^[a-c]*", "x", "dabce", "xdabce"},
        {"[a-c]*$", "x", "dabce", "dabcex"},
        {"[a-c]+", "x", "abcdabc", "xdx"},
        {"[a-c]*", "x", "abcdabc", "xdx"},
        {"[a-c]*", "x", "abcbcdcdedef", "xdxdxexdxexfx"},
        {"abc", "def", "abcdefg", "defdefg"},
        {"bc", "BC", "abcbcdcdedef", "aBCBCdcdedef"},
        {"abc", "", "abcdabc", "d"},
        {"x", "xXx", "xxxXxxx", "xXxxXxxXxXxXxxXxxXx"},
        {"abc", "d", "", ""},
        {"abc", "d", "abc", "d"},
        {".+", "x", "abc", "x"},
        {"[a-c]*?", "x", "abc", "xaxbxcx"},
        /* Expand: $1, ${1}, names, $$, malformed '$' kept, unknown groups empty */
        {"a+", "($0)", "banana", "b(a)n(a)n(a)"},
        {"a+", "(${0})", "banana", "b(a)n(a)n(a)"},
        {"a+", "(${0})$0", "banana", "b(a)an(a)an(a)a"},
        {"a+", "(${0})$0", "banana", "b(a)an(a)an(a)a"},
        {"hello, (.+)", "goodbye, ${1}", "hello, world", "goodbye, world"},
        {"hello, (.+)", "goodbye, $1x", "hello, world", "goodbye, "},
        {"hello, (.+)", "goodbye, ${1}x", "hello, world", "goodbye, worldx"},
        {"hello, (.+)", "<$0><$1><$2><$3>", "hello, world", "<hello, world><world><><>"},
        {"hello, (?P<noun>.+)", "goodbye, $noun!", "hello, world", "goodbye, world!"},
        {"hello, (?P<noun>.+)", "goodbye, ${noun}", "hello, world", "goodbye, world"},
        {"(?P<x>hi)|(?P<y>bye)", "$x$x$x", "hi", "hihihi"},
        {"(?P<x>hi)|(?P<y>bye)", "$x$x$x", "bye", ""},
        {"(?P<x>hi)|(?P<y>bye)", "$y", "hi", ""},
        {"(?P<x>hi)|(?P<y>bye)", "$y", "bye", "bye"},
        {"(?P<x>hi)|(?P<y>bye)", "$y $x", "bye hi", "bye   hi"},
        {"(?P<x>hi)|(?P<y>bye)", "${y}", "bye", "bye"},
        {"(?P<x>hi)|(?P<y>bye)", "$$", "bye", "$"},
        {"(?P<x>hi)|(?P<y>bye)", "$", "bye", "$"},
        {"(?P<x>hi)|(?P<y>bye)", "${", "bye", "${"},
        {"(?P<x>hi)|(?P<y>bye)", "${y", "bye", "${y"},
        {"(?P<x>hi)|(?P<y>bye)", "$}", "bye", "$}"},
        {"(?P<x>hi)|(?P<y>bye)", "$-", "bye", "$-"},
        {"(b)", "$01", "b", ""},   /* a leading zero: a name, unknown */
        {"(b)", "$9", "b", ""},    /* past the last group */
        {"(b)", "$999999999", "b", ""},
        {"(?<n>b)", "[${n}]", "abc", "a[b]c"}, /* Go 1.22's (?<name>) */
        /* Go's `$` is the end of the text; PCRE2's default would match before a final newline */
        {"a$", "x", "a\n", "a\n"},
        {"(?m)a$", "x", "a\nb", "x\nb"},
        /* Traefik's documentation examples */
        {"^/foo/(.*)", "/bar/$1", "/foo/baz", "/bar/baz"},
        {"^http://localhost/(.*)", "http://mydomain/${1}", "http://localhost/a/b?c=d", "http://mydomain/a/b?c=d"},
        {"^(?:http?:\\/\\/)(foo)(\\.com)(:\\d+)(.*)$", "https://${1}bar$2:443$4", "http://foo.com:80", "https://foobar.com:443"},
        {"^http://", "https://$1", "http://foo", "https://foo"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = replace(cases[i][0], cases[i][1], cases[i][2]);
        if (strcmp(got, cases[i][3]) != 0)
            fprintf(stderr, "case %zu: /%s/ -> '%s' on '%s'\n", i, cases[i][0], cases[i][1], cases[i][2]);
        CHECK_STR(got, cases[i][3]);
    }

    /* invalid UTF-8 in the subject: no failure, the rest still matches */
    CHECK_STR(replace("b", "x", "a\xff" "b"), "a\xff" "x");

    /* refused patterns name the option */
    struct regex_replace r;
    struct diag d;
    diag_clear(&d);
    CHECK(regex_replace_compile(&arena, "regex", "^(.*", &r, &d) == -1);
    CHECK_CONTAINS(d.msg, "regex: '^(.*': missing closing parenthesis");

    /* find: the leftmost match and its bounds */
    CHECK(regex_replace_compile(&arena, "regex", "/[a-z]+/", &r, &d) == 0);
    size_t m[2];
    CHECK(regex_replace_find(&r, &pool, "/foo/bar", 8, 0, m) && m[0] == 0 && m[1] == 5);
    CHECK(!regex_replace_find(&r, &pool, "/123", 4, 0, m));

    /* a catastrophic pattern stops at the match limit instead of pinning the worker */
    CHECK(regex_replace_compile(&arena, "regex", "^(a|aa|aaa)+(b|c)+$", &r, &d) == 0);
    char subject[4096];
    memset(subject, 'a', sizeof(subject) - 2);
    subject[sizeof(subject) - 2] = '!';
    subject[sizeof(subject) - 1] = '\0';
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool matched = true;
    regex_replace_template(&arena, &r, "x");
    regex_replace_all(&r, &pool, subject, strlen(subject), &matched);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(!matched);
    CHECK((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2000);

    /* trimming as strings.TrimSpace */
    CHECK_STR(regex_replace_trim(&arena, " \t^/a\n "), "^/a");

    h2o_mem_clear_pool(&pool);
    arena_free(&arena);
    return test_report("proxy/middleware/regex_replace");
}
