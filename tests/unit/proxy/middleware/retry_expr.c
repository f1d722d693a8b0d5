/* Tests proxy/middleware/retry_expr.c: oxy's predicate functions and
 * operators, precedence, parentheses, refused expressions (with where they
 * go wrong) and the nesting/size limits. */
#include "../../test.h"

#include "../../../../proxy/middleware/retry_expr.c"

static struct arena arena;

static bool eval(const char *text, const char *method, int attempts, int code)
{
    struct diag d;
    diag_clear(&d);
    const struct retry_expr *e = retry_expr_parse(&arena, text, &d);
    if (e == NULL) {
        fprintf(stderr, "unexpected refusal: %s\n", d.msg);
        CHECK(e != NULL);
        return false;
    }
    struct retry_expr_ctx c = {method, strlen(method), attempts, code};
    return retry_expr_eval(e, &c);
}

static const char *refused(const char *text)
{
    static struct diag d;
    diag_clear(&d);
    CHECK(retry_expr_parse(&arena, text, &d) == NULL);
    return d.msg;
}

int main(void)
{
    arena_init(&arena);

    /* Traefik's documented example */
    CHECK(eval("IsNetworkError() && Attempts() < 2", "GET", 1, 502));
    CHECK(eval("IsNetworkError() && Attempts() < 2", "GET", 1, 504));
    CHECK(!eval("IsNetworkError() && Attempts() < 2", "GET", 2, 502));
    CHECK(!eval("IsNetworkError() && Attempts() < 2", "GET", 1, 503));
    CHECK(!eval("IsNetworkError() && Attempts() < 2", "GET", 1, 200));

    /* every comparison on ints */
    CHECK(eval("ResponseCode() == 503", "GET", 1, 503));
    CHECK(!eval("ResponseCode() != 503", "GET", 1, 503));
    CHECK(eval("ResponseCode() >= 500", "GET", 1, 500));
    CHECK(!eval("ResponseCode() > 500", "GET", 1, 500));
    CHECK(eval("ResponseCode() <= 500", "GET", 1, 500));
    CHECK(eval("Attempts() <= 3", "GET", 3, 500));
    CHECK(!eval("Attempts() < 3", "GET", 3, 500));

    /* strings */
    CHECK(eval("RequestMethod() == \"GET\"", "GET", 1, 500));
    CHECK(!eval("RequestMethod() == \"GET\"", "POST", 1, 500));
    CHECK(eval("RequestMethod() != `POST`", "GET", 1, 500));
    CHECK(eval("RequestMethod() == \"G\\\"T\"", "G\"T", 1, 500));

    /* && binds tighter than ||; parentheses change it; spaces anywhere */
    CHECK(eval("ResponseCode() == 500 || ResponseCode() == 503 && Attempts() < 1", "GET", 5, 500));
    CHECK(!eval("(ResponseCode() == 500 || ResponseCode() == 503) && Attempts() < 1", "GET", 5, 500));
    CHECK(eval("  ( IsNetworkError ( ) )  ||ResponseCode()==429", "GET", 1, 429));

    /* refused, saying where */
    CHECK_CONTAINS(refused(""), "expected IsNetworkError()");
    CHECK_CONTAINS(refused("Attempts()"), "expected a comparison");
    CHECK_CONTAINS(refused("Attempts() < \"2\""), "expected an integer literal");
    CHECK_CONTAINS(refused("RequestMethod() < \"GET\""), "== or != only");
    CHECK_CONTAINS(refused("RequestMethod() == 'GET'"), "expected a string literal");
    CHECK_CONTAINS(refused("RequestMethod() == \"GET"), "expected a string literal");
    CHECK_CONTAINS(refused("!IsNetworkError()"), "at offset 0");
    CHECK_CONTAINS(refused("2 > Attempts()"), "expected IsNetworkError()");
    CHECK_CONTAINS(refused("IsNetworkError() &&"), "at offset 19");
    CHECK_CONTAINS(refused("IsNetworkError() and Attempts() < 2"), "unexpected text at offset 17");
    CHECK_CONTAINS(refused("(IsNetworkError()"), "expected ')'");
    CHECK_CONTAINS(refused("Retries() < 2"), "unknown function");
    CHECK_CONTAINS(refused("Attempts() < 99999999999999"), "expected an integer literal");

    /* limits */
    char deep[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "(");
    CHECK_CONTAINS(refused(deep), "too deeply nested");
    static char many[20000];
    strcpy(many, "IsNetworkError()");
    for (int i = 0; i < 600; i++)
        strcat(many, " || IsNetworkError()");
    CHECK_CONTAINS(refused(many), "too many terms");

    arena_free(&arena);
    return test_report("proxy/middleware/retry_expr");
}
