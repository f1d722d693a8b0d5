/* Tests common/rule.c: the grammar, argument checks, error columns. */
#include "../../../common/rule.c"

#include "test.h"

static struct arena a;

static struct rule_node *ok(const char *text)
{
    struct diag d;
    struct rule_node *n = rule_parse(&a, text, &d);
    if (n == NULL)
        fprintf(stderr, "unexpected parse error for `%s`: %s\n", text, d.msg);
    CHECK(n != NULL);
    return n;
}

static void bad(const char *text, const char *want)
{
    struct diag d;
    CHECK(rule_parse(&a, text, &d) == NULL);
    CHECK_CONTAINS(d.msg, want);
}

int main(void)
{
    arena_init(&a);

    struct rule_node *n = ok("Host(`Example.COM`)");
    CHECK(n->op == RULE_MATCH && n->matcher == RULE_HOST && n->nargs == 1);
    CHECK_STR(n->args[0].s, "example.com"); /* hosts are lowercased */

    n = ok("Host(`a.com`, `b.com`) && PathPrefix(`/api`)");
    CHECK(n->op == RULE_AND && n->a->nargs == 2 && n->b->matcher == RULE_PATH_PREFIX);

    /* precedence: && binds tighter than || */
    n = ok("Path(`/a`) || Path(`/b`) && Method(`GET`)");
    CHECK(n->op == RULE_OR && n->b->op == RULE_AND);
    n = ok("(Path(`/a`) || Path(`/b`)) && Method(`get`)");
    CHECK(n->op == RULE_AND && n->a->op == RULE_OR);
    CHECK_STR(n->b->args[0].s, "GET");
    n = ok("!Host(`a`) && !!ClientIP(`10.0.0.0/8`, `::1`)");
    CHECK(n->op == RULE_AND && n->a->op == RULE_NOT && n->b->op == RULE_NOT && n->b->a->op == RULE_NOT);

    ok("Header(`X-Api`, `v1`)");
    n = ok("HeaderRegexp(`User-Agent`, `^curl/`)");
    CHECK_STR(n->args[0].s, "user-agent");
    ok("Query(`debug`)");
    ok("Query(`mode`, `fast`)");
    ok("QueryRegexp(`id`, `^[0-9]+$`)");
    ok("HostRegexp(`^[a-z]+\\.example\\.com$`)");
    ok("PathRegexp(`^/v[0-9]+/`)");
    ok("Host(\"quoted.example\") && Path(\"/a\\\"b\")");
    ok("Host(`*.example.com`)");
    ok("Host(`*`)");
    ok("  Host(`a`)  \n");

    CHECK(rule_default_priority("Host(`a`)") == 9);

    /* errors name the column and what was expected */
    bad("", "column 1: empty rule");
    bad("Hots(`a`)", "column 1: unknown matcher 'Hots'");
    bad("host(`a`)", "did you mean Host");
    bad("HostSNI(`a`)", "HostSNI is for tcp routers");
    bad("Host `a`", "column 6: expected '(' after the matcher name");
    bad("Host(`a`", "column 9: expected ',' or ')'");
    bad("Host(a)", "column 6: expected a `quoted` value");
    bad("Host('a')", "single quotes are not allowed");
    bad("Host(`a) && Path(`/b`)", "expected ',' or ')'");
    bad("Host(`a`) &", "expected '&&', found a single '&'");
    bad("Host(`a`) && ", "column 14: expected a matcher");
    bad("Host(`a`) Path(`/`)", "column 11: expected '&&', '||' or the end of the rule");
    bad("(Host(`a`)", "expected ')' to close '(' at column 1");
    bad("Header(`x`)", "Header takes 2 arguments, got 1");
    bad("Query(`a`,`b`,`c`)", "Query takes 1 to 2 arguments, got 3");
    bad("Path(`api`)", "must start with '/'");
    bad("PathRegexp(`(`)", "invalid regular expression");
    bad("ClientIP(`10.0.0.0/33`)", "ClientIP expects an IP address or CIDR");
    bad("ClientIP(`not-an-ip`)", "ClientIP expects");
    bad("Host(`a b`)", "invalid character ' '");
    bad("Host(`a.*.com`)", "'*' is only allowed as the first label");
    bad("Host(\"a\\q\")", "unknown escape");
    bad("Host(``)", "empty host name");

    /* deep nesting is bounded */
    char deep[400] = "";
    for (int i = 0; i < 100; i++)
        strcat(deep, "!");
    strcat(deep, "Host(`a`)");
    bad(deep, "nested deeper");

    /* CIDR containment */
    struct rule_cidr c;
    uint8_t ip[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
    CHECK(rule_parse_cidr("10.0.0.0/8", 10, &c) == 0 && rule_cidr_contains(&c, ip));
    CHECK(rule_parse_cidr("10.1.2.4", 8, &c) == 0 && !rule_cidr_contains(&c, ip));
    CHECK(rule_parse_cidr("10.1.2.3", 8, &c) == 0 && rule_cidr_contains(&c, ip));
    CHECK(rule_parse_cidr("0.0.0.0/0", 9, &c) == 0 && rule_cidr_contains(&c, ip));
    uint8_t v6[16] = {0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    CHECK(rule_parse_cidr("fd00::/8", 8, &c) == 0 && rule_cidr_contains(&c, v6) && !rule_cidr_contains(&c, ip));

    /* every prefix of a valid rule either parses or fails cleanly */
    const char *full = "(Host(`a.com`) || HostRegexp(`^b`)) && !PathPrefix(`/x`) && Header(`k`, \"v\")";
    for (size_t i = 0; i <= strlen(full); i++) {
        char *p = arena_strndup(&a, full, i);
        struct diag d;
        (void)rule_parse(&a, p, &d);
    }
    arena_free(&a);
    /* the TCP dialect: HostSNI, HostSNIRegexp, ClientIP only */
    {
        struct diag d;
        struct rule_node *t = rule_parse_tcp(&a, "HostSNI(`A.Example`, `*.wild.test`) || HostSNI(`*`)", &d);
        CHECK(t != NULL && t->op == RULE_OR && t->a->matcher == RULE_HOST_SNI);
        CHECK(t && strcmp(t->a->args[0].s, "a.example") == 0);
        CHECK(rule_parse_tcp(&a, "HostSNIRegexp(`^[a-z]+\\.test$`) && !ClientIP(`10.0.0.0/8`)", &d) != NULL);
        CHECK(rule_parse_tcp(&a, "Host(`a.test`)", &d) == NULL);
        CHECK_CONTAINS(d.msg, "HostSNI, HostSNIRegexp or ClientIP");
        CHECK(rule_parse_tcp(&a, "HostSNI(`a.*.test`)", &d) == NULL);
        CHECK(rule_parse(&a, "HostSNI(`a.test`)", &d) == NULL); /* and not in HTTP rules */
    }
    return test_report("common/rule");
}
