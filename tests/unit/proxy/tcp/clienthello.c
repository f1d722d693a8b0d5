/* Tests proxy/tcp/clienthello.c: real ClientHellos (openssl, curl, python
 * captured into tests/fixtures/tls), every prefix of them, records split at
 * every point, and malformed ones. */
#include "../../../../proxy/tcp/clienthello.h"

#include <stdio.h>
#include <stdlib.h>

#include "test.h"

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
    const char *dir = getenv("GANTRY_FIXTURES");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tls/%s", dir ? dir : "tests/fixtures", name);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static const char *sni_of(const uint8_t *buf, size_t len, enum clienthello_result *res)
{
    static struct clienthello h;
    *res = clienthello_parse(buf, len, &h);
    return h.sni;
}

/* Every strict prefix asks for more; the whole gives <want>. */
static void check_capture(const char *file, const char *want)
{
    uint8_t buf[8192];
    size_t n = load(file, buf, sizeof(buf));
    enum clienthello_result res;
    CHECK_STR(sni_of(buf, n, &res), want);
    CHECK(res == CLIENTHELLO_OK);
    int prefixes_ok = 1;
    for (size_t i = 0; i < n; i++) {
        sni_of(buf, i, &res);
        if (res != CLIENTHELLO_NEED_MORE) {
            fprintf(stderr, "%s: prefix %zu gave %d\n", file, i, (int)res);
            prefixes_ok = 0;
            break;
        }
    }
    CHECK(prefixes_ok);
    /* the same handshake split into two records at every point */
    size_t body = n - 5;
    int splits_ok = 1;
    for (size_t cut = 1; cut < body; cut++) {
        uint8_t two[8192 + 10];
        memcpy(two, buf, 3);
        two[3] = (uint8_t)(cut >> 8);
        two[4] = (uint8_t)cut;
        memcpy(two + 5, buf + 5, cut);
        memcpy(two + 5 + cut, buf, 3);
        two[5 + cut + 3] = (uint8_t)((body - cut) >> 8);
        two[5 + cut + 4] = (uint8_t)(body - cut);
        memcpy(two + 10 + cut, buf + 5 + cut, body - cut);
        if (strcmp(sni_of(two, n + 5, &res), want) != 0 || res != CLIENTHELLO_OK) {
            fprintf(stderr, "%s: split at %zu failed\n", file, cut);
            splits_ok = 0;
            break;
        }
    }
    CHECK(splits_ok);
}

int main(void)
{
    check_capture("openssl_sni.bin", "a.example.com");
    check_capture("curl_sni.bin", "mixed.example.org"); /* lowercased */
    check_capture("openssl_tls12.bin", "tls12.example.com");
    check_capture("python_no_sni.bin", ""); /* an IP address: no server_name */

    struct clienthello h;
    CHECK(clienthello_parse((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &h) == CLIENTHELLO_NOT_TLS);
    CHECK(clienthello_parse((const uint8_t *)"", 0, &h) == CLIENTHELLO_NEED_MORE);
    /* a ServerHello where a ClientHello belongs */
    const uint8_t server_hello[] = {0x16, 3, 1, 0, 5, 2, 0, 0, 1, 0};
    CHECK(clienthello_parse(server_hello, sizeof(server_hello), &h) == CLIENTHELLO_INVALID);
    CHECK_CONTAINS(h.error, "not a ClientHello");
    /* an alert record after the first handshake record */
    const uint8_t alert[] = {0x16, 3, 1, 0, 2, 1, 0, 0x15, 3, 1, 0, 2};
    CHECK(clienthello_parse(alert, sizeof(alert), &h) == CLIENTHELLO_INVALID);
    /* record version not 3.x; zero-length record; over 16 KiB */
    const uint8_t v2[] = {0x16, 2, 0, 0, 1, 1};
    CHECK(clienthello_parse(v2, sizeof(v2), &h) == CLIENTHELLO_INVALID);
    const uint8_t empty[] = {0x16, 3, 1, 0, 0};
    CHECK(clienthello_parse(empty, sizeof(empty), &h) == CLIENTHELLO_INVALID);
    const uint8_t huge[] = {0x16, 3, 1, 0x40, 0, 1, 0x01, 0x00, 0x00};
    CHECK(clienthello_parse(huge, sizeof(huge), &h) == CLIENTHELLO_INVALID);
    CHECK_CONTAINS(h.error, "16 KiB");

    /* a well-formed hello with a hand-made server_name: bad characters, a
     * trailing dot, and a name of 254 bytes */
    uint8_t buf[1024];
    size_t n = load("openssl_sni.bin", buf, sizeof(buf));
    uint8_t *name = memmem(buf, n, "a.example.com", 13);
    CHECK(name != NULL);
    if (name) {
        name[1] = '/';
        CHECK(clienthello_parse(buf, n, &h) == CLIENTHELLO_INVALID);
        CHECK_CONTAINS(h.error, "character");
        name[1] = '.';
        name[12] = '.'; /* "a.example.co." */
        CHECK(clienthello_parse(buf, n, &h) == CLIENTHELLO_OK);
        CHECK_STR(h.sni, "a.example.co");
        /* lengths that disagree: the name's length runs past its extension */
        name[-1] = 0x40;
        CHECK(clienthello_parse(buf, n, &h) == CLIENTHELLO_INVALID);
    }
    return test_report("proxy/tcp/clienthello");
}
