/* Tests controller/ndjson.c: lines split anywhere, several per read,
 * CRLF, empty lines, and over-long lines dropped without desync. */
#include "../../../controller/ndjson.c"

#include <stdlib.h>

#include "test.h"

static char out[8192];
static size_t n_lines;

static void on_line(const char *line, size_t len, void *data)
{
    (void)data;
    strncat(out, line, len);
    strcat(out, "|");
    n_lines++;
}

static void feed_in_pieces(struct ndjson *f, const char *s, size_t piece)
{
    for (size_t i = 0; i < strlen(s); i += piece) {
        size_t n = strlen(s) - i < piece ? strlen(s) - i : piece;
        ndjson_feed(f, s + i, n, on_line, NULL);
    }
}

int main(void)
{
    const char *stream = "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n{\"partial\":";
    for (size_t piece = 1; piece <= strlen(stream); piece++) {
        struct ndjson f;
        ndjson_init(&f, 1024);
        out[0] = '\0';
        n_lines = 0;
        feed_in_pieces(&f, stream, piece);
        CHECK_STR(out, "{\"a\":1}|{\"b\":2}|{\"c\":3}|");
        ndjson_feed(&f, "4}\n", 3, on_line, NULL); /* the partial line completes later */
        CHECK_STR(out, "{\"a\":1}|{\"b\":2}|{\"c\":3}|{\"partial\":4}|");
        ndjson_free(&f);
    }

    /* an over-long line is dropped whole, whether it arrives at once or in pieces */
    char *huge = malloc(10000);
    memset(huge, 'x', 9998);
    huge[9998] = '\n';
    huge[9999] = '\0';
    for (size_t piece = 1; piece <= 10000; piece *= 7) {
        struct ndjson f;
        ndjson_init(&f, 100);
        out[0] = '\0';
        feed_in_pieces(&f, "ok1\n", piece);
        feed_in_pieces(&f, huge, piece);
        feed_in_pieces(&f, "ok2\n", piece);
        CHECK_STR(out, "ok1|ok2|");
        CHECK(f.dropped == 1);
        CHECK(f.line.cap <= 4096); /* memory stays bounded: never grown past the limit */
        ndjson_free(&f);
    }
    free(huge);

    /* binary garbage and NULs are passed through as lines, not crashes */
    struct ndjson f;
    ndjson_init(&f, 100);
    out[0] = '\0';
    n_lines = 0;
    const char garbage[] = "\x01\x02\xff\n\x00\x00\n";
    ndjson_feed(&f, garbage, sizeof(garbage) - 1, on_line, NULL);
    CHECK(n_lines == 2);
    ndjson_reset(&f);
    ndjson_free(&f);
    return test_report("controller/ndjson");
}
