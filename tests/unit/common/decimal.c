/* Tests common/decimal.c against printf. */
#include "../../../common/decimal.c"

#include <inttypes.h>
#include <stdio.h>

#include "test.h"

static void check(uint64_t v)
{
    char got[DECIMAL_MAX + 1], want[32];
    got[decimal_format(got, v)] = '\0';
    snprintf(want, sizeof(want), "%" PRIu64, v);
    CHECK_STR(got, want);
}

int main(void)
{
    uint64_t v[] = {0, 1, 9, 10, 99, 100, 12345, 4294967295u, 4294967296u, UINT64_MAX / 10, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        check(v[i]);
    for (uint64_t x = 1; x < UINT64_MAX / 3; x = x * 3 + 1)
        check(x);
    return test_report("common/decimal");
}
