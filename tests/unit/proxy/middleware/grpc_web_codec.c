/* Tests proxy/middleware/grpc_web_codec.c: content types, the trailer
 * frame, base64 with padding mid-stream. */
#include "../../../../proxy/middleware/grpc_web_codec.h"

#include <string.h>

#include "test.h"

static enum grpc_web_kind kind(const char *ct, char *suffix)
{
    h2o_iovec_t s = {NULL, 0};
    enum grpc_web_kind k = grpc_web_kind_of(h2o_iovec_init(ct, strlen(ct)), &s);
    memcpy(suffix, s.base ? s.base : "", s.len);
    suffix[s.len] = '\0';
    return k;
}

int main(void)
{
    char sfx[64];
    CHECK(kind("application/grpc-web", sfx) == GRPC_WEB_BINARY && strcmp(sfx, "") == 0);
    CHECK(kind("application/grpc-web+proto", sfx) == GRPC_WEB_BINARY && strcmp(sfx, "+proto") == 0);
    CHECK(kind("Application/GRPC-Web-Text+proto", sfx) == GRPC_WEB_TEXT && strcmp(sfx, "+proto") == 0);
    CHECK(kind("application/grpc-web-text", sfx) == GRPC_WEB_TEXT && strcmp(sfx, "") == 0);
    CHECK(kind("application/grpc-web;charset=utf-8", sfx) == GRPC_WEB_BINARY && strcmp(sfx, ";charset=utf-8") == 0);
    CHECK(kind("application/grpc", sfx) == GRPC_WEB_NONE);
    CHECK(kind("application/grpc-webby", sfx) == GRPC_WEB_NONE);
    CHECK(kind("application/json", sfx) == GRPC_WEB_NONE);

    /* the trailer frame: 0x80, big-endian length, lower-case "name: value\r\n" lines */
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    h2o_headers_t t = {NULL};
    h2o_add_header_by_str(&pool, &t, H2O_STRLIT("grpc-status"), 0, NULL, H2O_STRLIT("0"));
    h2o_add_header_by_str(&pool, &t, H2O_STRLIT("X-Custom"), 0, NULL, H2O_STRLIT("v"));
    h2o_iovec_t f = grpc_web_trailer_frame(&pool, &t);
    static const char body[] = "grpc-status: 0\r\nx-custom: v\r\n";
    CHECK(f.len == 5 + sizeof(body) - 1);
    CHECK((unsigned char)f.base[0] == 0x80 && f.base[1] == 0 && f.base[2] == 0 && f.base[3] == 0 &&
          f.base[4] == (char)(sizeof(body) - 1));
    CHECK(memcmp(f.base + 5, body, sizeof(body) - 1) == 0);
    h2o_headers_t none = {NULL};
    f = grpc_web_trailer_frame(&pool, &none);
    CHECK(f.len == 5 && (unsigned char)f.base[0] == 0x80 && f.base[4] == 0);
    h2o_mem_clear_pool(&pool);

    /* base64: padded encode, lengths */
    char out[64];
    CHECK(grpc_web_b64_len(0) == 0 && grpc_web_b64_len(1) == 4 && grpc_web_b64_len(3) == 4 && grpc_web_b64_len(4) == 8);
    CHECK(grpc_web_b64_encode("", 0, out) == 0 && out[0] == '\0');
    CHECK(grpc_web_b64_encode("a", 1, out) == 4 && strcmp(out, "YQ==") == 0);
    CHECK(grpc_web_b64_encode("abcd", 4, out) == 8 && strcmp(out, "YWJjZA==") == 0);
    CHECK(grpc_web_b64_encode("\x00\xff\x80", 3, out) == 4 && strcmp(out, "AP+A") == 0);

    /* decode: pieces padded on their own, concatenated; whitespace skipped */
    unsigned char dec[64];
    CHECK(grpc_web_b64_decode("YWJj", 4, dec) == 3 && memcmp(dec, "abc", 3) == 0);
    CHECK(grpc_web_b64_decode("YQ==YWI=YWJj", 12, dec) == 6 && memcmp(dec, "aababc", 6) == 0);
    CHECK(grpc_web_b64_decode("YW\r\nJj", 6, dec) == 3 && memcmp(dec, "abc", 3) == 0);
    CHECK(grpc_web_b64_decode("AP+A", 4, dec) == 3 && dec[0] == 0 && dec[1] == 0xff && dec[2] == 0x80);
    CHECK(grpc_web_b64_decode("", 0, dec) == 0);
    CHECK(grpc_web_b64_decode("YWJ", 3, dec) == -1);  /* a group cut short */
    CHECK(grpc_web_b64_decode("Y===", 4, dec) == -1); /* padding too early */
    CHECK(grpc_web_b64_decode("YQ=j", 4, dec) == -1); /* data after padding in a group */
    CHECK(grpc_web_b64_decode("YW*j", 4, dec) == -1); /* not the alphabet */
    CHECK(grpc_web_b64_decode("YW-_", 4, dec) == -1); /* the URL alphabet is not gRPC-Web's */

    /* round trip over every length up to 40 */
    unsigned char src[40];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof(src); n++) {
        char enc[64];
        size_t e = grpc_web_b64_encode(src, n, enc);
        CHECK(grpc_web_b64_decode(enc, e, dec) == (long)n && memcmp(dec, src, n) == 0);
    }
    return test_report("proxy/middleware/grpc_web_codec");
}
