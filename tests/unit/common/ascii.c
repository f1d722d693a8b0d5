/* Tests common/ascii.h: the word-at-a-time lowering against the byte rule. */
#include "../../../common/ascii.h"

#include "test.h"

static char lower_byte(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

int main(void)
{
    /* every byte value at every position of a word, among neighbours that
     * would carry into it if the arithmetic overflowed a byte */
    for (int pos = 0; pos < 8; pos++) {
        for (int v = 0; v < 256; v++) {
            char in[8], out[8];
            for (int k = 0; k < 8; k++)
                in[k] = (char)(k == pos ? v : (k % 2 ? 0xff : 'Z'));
            ascii_lower_copy(out, in, 8);
            for (int k = 0; k < 8; k++)
                CHECK(out[k] == lower_byte(in[k]));
        }
    }
    /* lengths around the word size, in place and into another buffer */
    const char *s = "Content-Type X-Forwarded-For ÄÖÜ @[`{ AZaz";
    size_t n = strlen(s);
    for (size_t len = 0; len <= n; len++) {
        char a[64], b[64];
        memcpy(a, s, len);
        ascii_lower_copy(b, a, len);
        ascii_lower_copy(a, a, len);
        for (size_t k = 0; k < len; k++) {
            CHECK(a[k] == lower_byte(s[k]));
            CHECK(b[k] == lower_byte(s[k]));
        }
    }
    /* ascii_caseeq: every length, a difference at every position */
    const char *names[] = {"", "a", "te", "host", "accept", "connection", "content-length", "transfer-encoding",
                           "x-forwarded-for-and-a-longer-one"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        size_t len = strlen(names[k]);
        char up[64];
        for (size_t i = 0; i < len; i++)
            up[i] = names[k][i] >= 'a' && names[k][i] <= 'z' ? (char)(names[k][i] - 32) : names[k][i];
        CHECK(ascii_caseeq(names[k], names[k], len));
        CHECK(ascii_caseeq(up, names[k], len));
        for (size_t i = 0; i < len; i++) {
            char other[64];
            memcpy(other, up, len);
            other[i] ^= 0x01; /* another letter, or '-' -> ',' */
            CHECK(!ascii_caseeq(other, names[k], len));
            other[i] = (char)(up[i] | 0x80); /* a byte >= 0x80 is never folded */
            CHECK(!ascii_caseeq(other, names[k], len));
        }
    }
    /* ascii_has_upper: one capital at each position of each length */
    for (size_t len = 0; len <= 20; len++) {
        char t[21];
        memset(t, 'a', len);
        CHECK(!ascii_has_upper(t, len));
        for (size_t i = 0; i < len; i++) {
            t[i] = 'Q';
            CHECK(ascii_has_upper(t, len));
            t[i] = (char)0xd6; /* not ASCII: not a capital */
            CHECK(!ascii_has_upper(t, len));
            t[i] = 'a';
        }
    }
    CHECK(!ascii_has_upper("x-forwarded-for@[`{", 19));
    CHECK(!ascii_caseeq("@", "`", 1)); /* '@' + 0x20 is '`': only A..Z fold */
    CHECK(!ascii_caseeq("[", "{", 1));
    return test_report("common/ascii");
}
