/* Tests proxy/middleware/mw_encoded_characters.c: every option and its
 * default (refuse), and requests that pass. Refusals answer 400, tested in
 * tests/integration/test_mw_paths.py. */
#include "mw_test.h"

#include "../../test.h"

#include "../../../../proxy/middleware/mw_encoded_characters.c"

int main(void)
{
    struct mw_test t;
    mw_test_init(&t);

    /* defaults: every one refused */
    struct table_middleware *m = mw_test_build(&t, "encodedCharacters", NULL);
    CHECK(m != NULL);
    CHECK(((const struct encoded_characters *)m->cfg)->deny == 0x7f);
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/plain/path?q=%2F") == MW_NEXT); /* the query is not the path */
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/a%20b%C3%A9") == MW_NEXT);     /* other encodings pass */

    /* each option clears its own character only */
    static const char *const keys[] = {"allowEncodedSlash",     "allowEncodedBackSlash", "allowEncodedNullCharacter",
                                       "allowEncodedSemicolon", "allowEncodedPercent",   "allowEncodedQuestionMark",
                                       "allowEncodedHash"};
    for (size_t i = 0; i < 7; i++) {
        const char *kv[] = {keys[i], "true", NULL};
        m = mw_test_build(&t, "encodedCharacters", kv);
        CHECK(m != NULL);
        CHECK(((const struct encoded_characters *)m->cfg)->deny == (0x7fu & ~(1u << i)));
    }
    /* Traefik's documentation example, in the label form (lowercased) */
    const char *labels[] = {"allowencodedslash", "true", NULL};
    m = mw_test_build(&t, "encodedcharacters", labels);
    CHECK(m != NULL);
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/a%2Fb%2fc") == MW_NEXT);
    /* all allowed: nothing is looked at */
    const char *all[] = {"allowEncodedSlash", "true", "allowEncodedBackSlash", "true", "allowEncodedNullCharacter", "true",
                         "allowEncodedSemicolon", "true", "allowEncodedPercent", "true", "allowEncodedQuestionMark", "true",
                         "allowEncodedHash", "true", NULL};
    m = mw_test_build(&t, "encodedCharacters", all);
    CHECK(((const struct encoded_characters *)m->cfg)->deny == 0);
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/%2F%5C%00%3B%25%3F%23") == MW_NEXT);

    /* refused, named */
    const char *bad[] = {"allowEncodedSlash", "yes", NULL}; /* "1" is true, as in Traefik (strconv.ParseBool) */
    CHECK(mw_test_build(&t, "encodedCharacters", bad) == NULL);
    CHECK_CONTAINS(t.error, "encodedCharacters: allowEncodedSlash: 'yes' is not a boolean");
    const char *unknown[] = {"allowEncodedColon", "true", NULL};
    CHECK(mw_test_build(&t, "encodedCharacters", unknown) == NULL);
    CHECK_CONTAINS(t.error, "unknown option 'allowEncodedColon'");

    mw_test_free(&t);
    return test_report("proxy/middleware/mw_encoded_characters");
}
