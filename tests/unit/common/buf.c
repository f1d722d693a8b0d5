/* Tests common/buf.c: growth, the cap, printf, reset and take. */
#include "../../../common/buf.c"

#include <stdlib.h>

#include "test.h"

int main(void)
{
    struct buf b;
    buf_init(&b, BUF_UNBOUNDED);
    CHECK(b.data == NULL && b.len == 0);
    CHECK(buf_append(&b, "", 0) == 0);
    CHECK_STR(b.data, "");
    for (int i = 0; i < 1000; i++)
        CHECK(buf_printf(&b, "%d,", i) == 0);
    CHECK(b.len == strlen(b.data));
    CHECK(strncmp(b.data, "0,1,2,", 6) == 0);
    CHECK(strcmp(b.data + b.len - 4, "999,") == 0);
    CHECK(b.cap > b.len);
    /* one printf longer than the room and the 256-byte start */
    buf_reset(&b);
    CHECK(b.len == 0 && b.data[0] == '\0');
    size_t cap = b.cap;
    CHECK(buf_printf(&b, "%5000s|", "x") == 0);
    CHECK(b.len == 5001 && b.data[4999] == 'x' && b.data[5000] == '|' && b.data[5001] == '\0');
    CHECK(b.cap >= cap);
    size_t len;
    char *p = buf_take(&b, &len);
    CHECK(len == 5001 && p[5001] == '\0');
    free(p);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    buf_free(&b);

    /* the cap: an append past it fails and changes nothing */
    buf_init(&b, 10);
    CHECK(buf_append(&b, "12345", 5) == 0);
    CHECK(buf_append(&b, "123456", 6) != 0);
    CHECK_STR(b.data, "12345");
    CHECK(buf_printf(&b, "%s", "abcdef") != 0);
    CHECK_STR(b.data, "12345");
    CHECK(b.len == 5);
    CHECK(buf_append(&b, "67890", 5) == 0);
    CHECK_STR(b.data, "1234567890");
    CHECK(buf_append(&b, "x", 1) != 0);
    CHECK(buf_printf(&b, "%s", "") == 0);
    CHECK(buf_reserve(&b, 1) != 0);
    CHECK(buf_reserve(&b, SIZE_MAX) != 0);
    buf_reset(&b);
    CHECK(buf_printf(&b, "%d", 1234567890) == 0);
    CHECK(buf_printf(&b, "%d", 1) != 0);
    CHECK_STR(b.data, "1234567890");
    buf_free(&b);
    /* printf into a capped, never-allocated buffer */
    buf_init(&b, 4);
    CHECK(buf_printf(&b, "%s", "hello") != 0);
    CHECK(b.len == 0);
    CHECK(buf_printf(&b, "%s", "hey") == 0);
    CHECK_STR(b.data, "hey");
    buf_free(&b);
    return test_report("common/buf");
}
