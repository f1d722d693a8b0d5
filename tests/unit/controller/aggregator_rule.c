/* Tests controller/aggregator_rule.c: a router's rule is parsed once and
 * the next table takes the same parsed rule while the router (its model
 * object) is unchanged; another router object is parsed anew; a refused
 * rule is reported and nothing kept; a rule is freed with the last table
 * holding it, not before (ASan: no use after free, no leak). A router's
 * unit (aggregator_route_unit) is the same while its model object and
 * provider are, carries the qualified names, pinned hosts, priority and
 * statistics, is built anew under another provider, and an API snapshot's
 * hold keeps it after the last table. */
#include "../../../controller/aggregator_rule.h"

#include "../../../controller/compile_reuse.h"
#include "../../../controller/model.h"
#include "../../../proxy/stats.h"
#include "../../../proxy/table.h"
#include "test.h"

static void units(void)
{
    const char *mws[] = {"m1"};
    struct model_router r = {.name = "r", .rule = "Host(`a.test`) || Host(`*.b.test`)", .service = "s@other", .middlewares = mws,
                             .n_middlewares = 1};
    struct compile_reuse first = {0}, second = {0}, third = {0};
    struct diag d;
    struct table *t1 = table_new(1);
    const struct route_unit *u1 = aggregator_route_unit(t1, NULL, &first, &r, "kubernetes", &d);
    CHECK(u1 != NULL);
    CHECK_STR(u1->name, "r@kubernetes");
    CHECK_STR(u1->service, "s@other"); /* a provider named: not requalified */
    CHECK(u1->priority == (int64_t)strlen(r.rule));
    CHECK(u1->hosts != NULL && !u1->hosts->any && u1->hosts->names.len == 2);
    CHECK(u1->stats != NULL && u1->sig == aggregator_router_digest("s@other", &r));
    struct table *t2 = table_new(1);
    const struct route_unit *u2 = aggregator_route_unit(t2, &first, &second, &r, "kubernetes", &d);
    CHECK(u2 == u1); /* the same object, the same provider: carried over */
    struct table *t3 = table_new(1);
    const struct route_unit *u3 = aggregator_route_unit(t3, &second, &third, &r, "file", &d);
    CHECK(u3 != NULL && u3 != u1); /* another provider: its own names */
    CHECK_STR(u3->name, "r@file");
    struct arena snap;
    arena_init(&snap);
    aggregator_route_unit_hold(&snap, u1);
    size_t live_before = aggregator_rules_live();
    table_free(t1);
    table_free(t2);
    CHECK(aggregator_rules_live() == live_before); /* the snapshot still shows u1's names */
    CHECK_STR(u1->name, "r@kubernetes");
    arena_free(&snap);
    CHECK(aggregator_rules_live() == live_before - 1);
    table_free(t3);
    CHECK(aggregator_rules_live() == live_before - 2);
    compile_reuse_free(&first);
    compile_reuse_free(&second);
    compile_reuse_free(&third);
}

int main(void)
{
    static const char text[] = "Host(`a.example.com`) && PathRegexp(`^/v[0-9]+/`)";
    int router_a, router_b; /* stand-ins for model routers: only their addresses matter */
    struct compile_reuse first = {0}, second = {0}, third = {0};
    struct diag d;

    struct table *t1 = table_new(1);
    const struct rule_node *a1 = aggregator_rule(t1, NULL, &first, &router_a, text, &d);
    CHECK(a1 != NULL && aggregator_rules_live() == 1);
    CHECK(aggregator_rule(t1, NULL, &first, &router_b, "Host(`b`) &&", &d) == NULL); /* refused, not kept */
    CHECK(aggregator_rules_live() == 1 && compile_reuse_get(&first, &router_b) == NULL);

    struct table *t2 = table_new(1);
    const struct rule_node *a2 = aggregator_rule(t2, &first, &second, &router_a, text, &d);
    const struct rule_node *b2 = aggregator_rule(t2, &first, &second, &router_b, "Host(`b.example.com`)", &d);
    CHECK(a2 == a1); /* unchanged: the same parsed rule */
    CHECK(b2 != NULL && aggregator_rules_live() == 2);

    table_free(t1); /* t2 still holds a1 */
    CHECK(aggregator_rules_live() == 2);
    CHECK(a2->op == RULE_AND);

    /* router_b replaced by another object (a change): parsed anew; router_a dropped */
    int router_b2;
    struct table *t3 = table_new(1);
    const struct rule_node *b3 = aggregator_rule(t3, &second, &third, &router_b2, "Host(`b.example.com`)", &d);
    CHECK(b3 != NULL && b3 != b2 && aggregator_rules_live() == 3);
    table_free(t2);
    CHECK(aggregator_rules_live() == 1);
    table_free(t3);
    CHECK(aggregator_rules_live() == 0);
    compile_reuse_free(&first);
    compile_reuse_free(&second);
    compile_reuse_free(&third);
    units();
    return test_report("controller/aggregator_rule");
}
