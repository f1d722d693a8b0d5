/* Tests proxy/h1_head_format.c: for libh2o's two response-head formats the
 * executable's __sprintf_chk writes byte for byte what glibc writes, and
 * every other call (other formats, arguments glibc prints its own way)
 * still reaches glibc. */
#include <stdint.h>
#include <stdio.h>

#include "../../../proxy/h1_head_format.c"

#include "test.h"

#pragma GCC diagnostic ignored "-Wformat-nonliteral"

static void check_head(int status, const char *reason, const char *date, const char *connection, const size_t *length)
{
    char got[512], expected[512];
    int n, m;
    if (length) {
        n = __sprintf_chk(got, 1, sizeof(got), h1_head_format_with_length, status, reason, date, connection, *length);
        m = snprintf(expected, sizeof(expected), h1_head_format_with_length, status, reason, date, connection, *length);
    } else {
        n = __sprintf_chk(got, 1, sizeof(got), h1_head_format_without_length, status, reason, date, connection);
        m = snprintf(expected, sizeof(expected), h1_head_format_without_length, status, reason, date, connection);
    }
    CHECK(n == m);
    CHECK_STR(got, expected);
}

int main(void)
{
    const int statuses[] = {0, 1, 9, 10, 99, 100, 101, 200, 204, 301, 404, 502, 999, 1000, 65535, INT32_MAX};
    const char *reasons[] = {"OK", "", "Moved Permanently", "a reason % with %s percent signs"};
    const char *connections[] = {"keep-alive", "close", "upgrade"};
    const size_t lengths[] = {0, 1, 9, 10, 99, 100, 12345, 4294967295u, 4294967296u, (size_t)1e15, SIZE_MAX};
    const char *date = "Sat, 05 Dec 2026 23:59:59 GMT";
    for (size_t s = 0; s < sizeof(statuses) / sizeof(*statuses); s++)
        for (size_t r = 0; r < sizeof(reasons) / sizeof(*reasons); r++)
            for (size_t c = 0; c < sizeof(connections) / sizeof(*connections); c++) {
                check_head(statuses[s], reasons[r], date, connections[c], NULL);
                for (size_t l = 0; l < sizeof(lengths) / sizeof(*lengths); l++)
                    check_head(statuses[s], reasons[r], date, connections[c], &lengths[l]);
            }

    /* what glibc prints its own way goes to glibc: a negative status, NULL
     * strings (volatile: a NULL the compiler can see is a format warning) */
    static const char *volatile null_string = NULL;
    size_t len = 5;
    check_head(-1, "OK", date, "close", &len);
    check_head(INT32_MIN, "OK", date, "close", NULL);
    check_head(200, null_string, date, "close", &len);
    check_head(200, "OK", null_string, "close", NULL);
    check_head(200, "OK", date, null_string, &len);

    /* exactly fitting, and one byte short (the fortified call then aborts in glibc) */
    char buf[128];
    char want[128];
    int total = snprintf(want, sizeof(want), h1_head_format_with_length, 200, "OK", date, "close", len);
    CHECK(h1_head_format(buf, (size_t)total + 1, 200, "OK", date, "close", &len) == total);
    CHECK_STR(buf, want);
    memset(buf, 'x', sizeof(buf));
    CHECK(h1_head_format(buf, (size_t)total, 200, "OK", date, "close", &len) == -1);
    CHECK(buf[0] == 'x'); /* nothing written */

    /* any other format is glibc's */
    CHECK(__sprintf_chk(buf, 1, sizeof(buf), "%s-%d-%zu", "x", -5, (size_t)7) == 6);
    CHECK_STR(buf, "x--5-7");
    CHECK(__sprintf_chk(buf, 1, sizeof(buf), "HTTP/1.0 %d %s\r\n", 200, "OK") == 17);
    CHECK_STR(buf, "HTTP/1.0 200 OK\r\n");
    return test_report("proxy/h1_head_format");
}
