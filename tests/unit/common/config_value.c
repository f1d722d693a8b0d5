/* Tests common/config_value.c: booleans, durations and lists as Traefik reads them. */
#include "../../../common/config_value.c"

#include "test.h"

int main(void)
{
    struct arena a;
    arena_init(&a);
    bool b;
    uint64_t ms;
    const char **items;

    /* strconv.ParseBool, plus true/false in any case */
    CHECK(config_parse_bool("TRUE", &b) == 0 && b);
    CHECK(config_parse_bool("tRuE", &b) == 0 && b);
    CHECK(config_parse_bool("1", &b) == 0 && b);
    CHECK(config_parse_bool("t", &b) == 0 && b);
    CHECK(config_parse_bool("F", &b) == 0 && !b);
    CHECK(config_parse_bool("0", &b) == 0 && !b);
    CHECK(config_parse_bool("yes", &b) != 0);
    CHECK(config_parse_bool("", &b) != 0);

    /* strconv.ParseBool exactly */
    CHECK(config_parse_go_bool("True", &b) == 0 && b);
    CHECK(config_parse_go_bool("TRUE", &b) == 0 && b);
    CHECK(config_parse_go_bool("1", &b) == 0 && b);
    CHECK(config_parse_go_bool("FALSE", &b) == 0 && !b);
    CHECK(config_parse_go_bool("f", &b) == 0 && !b);
    CHECK(config_parse_go_bool("tRuE", &b) != 0);
    CHECK(config_parse_go_bool("yes", &b) != 0);
    CHECK(config_parse_go_bool(" true", &b) != 0);
    CHECK(config_parse_go_bool("", &b) != 0);

    /* types.Duration: a bare integer is seconds, else time.ParseDuration */
    CHECK(config_parse_duration_ms("42", &ms) == 0 && ms == 42000);
    CHECK(config_parse_duration_ms("0", &ms) == 0 && ms == 0);
    CHECK(config_parse_duration_ms("1m30s", &ms) == 0 && ms == 90000);
    CHECK(config_parse_duration_ms("250ms", &ms) == 0 && ms == 250);
    CHECK(config_parse_duration_ms("1.5h", &ms) == 0 && ms == 5400000);
    CHECK(config_parse_duration_ms(".5s", &ms) == 0 && ms == 500);
    CHECK(config_parse_duration_ms("1500us", &ms) == 0 && ms == 2); /* rounded to the millisecond */
    CHECK(config_parse_duration_ms("2µs", &ms) == 0 && ms == 0);
    CHECK(config_parse_duration_ms("1.5", &ms) != 0); /* Go: missing unit */
    CHECK(config_parse_duration_ms("-1s", &ms) != 0);
    CHECK(config_parse_duration_ms("1e3s", &ms) != 0);
    CHECK(config_parse_duration_ms("inf", &ms) != 0);
    CHECK(config_parse_duration_ms("10x", &ms) != 0);
    CHECK(config_parse_duration_ms("10s ", &ms) != 0);
    CHECK(config_parse_duration_ms("", &ms) != 0);

    /* paerser's split: each item trimmed on both sides (tabs too); empty items name nothing */
    CHECK(config_split_list(&a, "a, b ", &items) == 2);
    CHECK_STR(items[0], "a");
    CHECK_STR(items[1], "b");
    CHECK(items[2] == NULL);
    CHECK(config_split_list(&a, " x ,,\ty\t, ", &items) == 2);
    CHECK_STR(items[0], "x");
    CHECK_STR(items[1], "y");
    CHECK(config_split_list(&a, "", &items) == 0 && items[0] == NULL);
    CHECK(config_split_list(&a, "one", &items) == 1);
    CHECK_STR(items[0], "one");

    arena_free(&a);
    return test_report("common/config_value");
}
