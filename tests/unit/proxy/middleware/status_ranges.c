/* Tests proxy/middleware/status_ranges.c: Traefik's "500-599" / "404" forms. */
#include "../../../../proxy/middleware/status_ranges.c"

#include "test.h"

int main(void)
{
    struct status_range r[3];
    CHECK(status_range_parse("500-599", &r[0]) == 0 && r[0].lo == 500 && r[0].hi == 599);
    CHECK(status_range_parse("404", &r[1]) == 0 && r[1].lo == 404 && r[1].hi == 404);
    CHECK(status_range_parse("100-100", &r[2]) == 0);
    const char *bad[] = {"", "-", "5xx", "500-", "-500", "599-500", "99", "600", "500-600", "500 - 599", "404 ", "4o4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct status_range x;
        CHECK(status_range_parse(bad[i], &x) == -1);
    }
    CHECK(status_in_ranges(r, 2, 500) && status_in_ranges(r, 2, 599) && status_in_ranges(r, 2, 404));
    CHECK(!status_in_ranges(r, 2, 499) && !status_in_ranges(r, 2, 600) && !status_in_ranges(r, 2, 405));
    CHECK(!status_in_ranges(r, 0, 500));
    return test_report("proxy/middleware/status_ranges");
}
