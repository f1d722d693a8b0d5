/* Tests proxy/h1_framing.c: the strict request framing parser, fed whole
 * and byte by byte, and what h2o is left to see in the socket input. */
#include "../../../proxy/h1_framing.c"

#include "test.h"

static uint64_t rw_from, rw_to;
static void record_rewrite(void *arg, uint64_t from, uint64_t to)
{
    (void)arg;
    rw_from = from;
    rw_to = to;
}

/* Feeds <s> in pieces of <step> bytes; NULL when accepted, else why not. */
static const char *parse_by(const char *s, size_t step, enum h1_framing_state *end)
{
    struct h1_framing_parser p = {.state = H1F_LINE0};
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i += step)
        if (!h1_framing_parse(&p, s + i, len - i < step ? len - i : step, record_rewrite, NULL))
            break;
    if (end != NULL)
        *end = p.state;
    return p.state == H1F_ERROR ? p.error : NULL;
}

/* The same verdict whole and one byte at a time. */
static const char *parse(const char *s, enum h1_framing_state *end)
{
    enum h1_framing_state e1, e2;
    const char *a = parse_by(s, strlen(s), &e1), *b = parse_by(s, 1, &e2);
    CHECK(e1 == e2);
    CHECK((a == NULL) == (b == NULL));
    if (end != NULL)
        *end = e1;
    return a;
}

#define CHUNKED "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

static const char *body(const char *b)
{
    static char buf[16384];
    snprintf(buf, sizeof(buf), CHUNKED "%s", b);
    return parse(buf, NULL);
}

static h2o_socket_t sock;
static struct h1_framing_conn *fr;

/* Appends <s> to the fake socket's input as one read and filters it. */
static void feed(const char *s, size_t len)
{
    h2o_buffer_reserve(&sock.input, len);
    memcpy(sock.input->bytes + sock.input->size, s, len);
    sock.input->size += len;
    filter(fr, len);
}

static void feed_str(const char *s)
{
    feed(s, strlen(s));
}

static bool visible(const char *s)
{
    return sock.input->size == strlen(s) && memcmp(sock.input->bytes, s, sock.input->size) == 0;
}

static void glue_start(void)
{
    if (fr != NULL) {
        free(fr->hold);
        free(fr);
        h2o_buffer_dispose(&sock.input);
    }
    h2o_buffer_init(&sock.input, &h2o_socket_buffer_prototype);
    fr = calloc(1, sizeof(*fr));
    fr->sock = &sock;
    fr->p.state = H1F_LINE0;
}

/* ---- the hooks that stream a body ---- */

static struct {
    char data[256], trailer[256];
    size_t data_len, trailer_len;
    uint64_t end;
    int starts, ends;
    bool stream; /* what body_start answers */
    uint64_t te_from, te_to, cl_first, cl_to;
} rec;

static bool rec_start(void *arg, struct h1_framing_parser *p, const char *rest, size_t rest_len)
{
    (void)arg, (void)rest, (void)rest_len;
    rec.starts++;
    rec.te_from = p->te_from, rec.te_to = p->te_to;
    rec.cl_first = p->cl_first, rec.cl_to = p->cl_to;
    return rec.stream;
}

static void rec_data(void *arg, const char *b, size_t n)
{
    (void)arg;
    memcpy(rec.data + rec.data_len, b, n);
    rec.data_len += n;
}

static void rec_trailer(void *arg, char c)
{
    (void)arg;
    rec.trailer[rec.trailer_len++] = c;
}

static void rec_end(void *arg, uint64_t end)
{
    (void)arg;
    rec.end = end;
    rec.ends++;
}

static const struct h1_framing_hooks rec_hooks = {
    .body_start = rec_start, .body_data = rec_data, .body_trailer = rec_trailer, .body_end = rec_end};

/* Feeds <s> in pieces of <step> with the recording hooks; the parser's end state. */
static enum h1_framing_state hooked(const char *s, size_t step, bool stream)
{
    memset(&rec, 0, sizeof(rec));
    rec.stream = stream;
    struct h1_framing_parser p = {.state = H1F_LINE0};
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i += step)
        if (!h1_framing_parse_hooks(&p, s + i, len - i < step ? len - i : step, &rec_hooks, NULL))
            break;
    return p.state;
}

static void test_hooks(void)
{
    const char *cl = "POST / HTTP/1.1\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\nhelloworldGET / HTTP/1.1\r\n\r\n";
    for (size_t step = 1; step <= strlen(cl); step += 7) {
        CHECK(hooked(cl, step, true) == H1F_LINE0);
        CHECK(rec.starts == 1 && rec.ends == 1 && rec.data_len == 10 && memcmp(rec.data, "helloworld", 10) == 0);
        CHECK(rec.end == (uint64_t)(strstr(cl, "GET") - cl));
        /* the length's digits, though another header followed */
        CHECK(rec.cl_first == (uint64_t)(strstr(cl, "10") - cl) && rec.cl_to == rec.cl_first + 2);
    }
    const char *ch = CHUNKED "5;x\r\nhello\r\n05\r\nworld\r\n0\r\nX-T: 1\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    for (size_t step = 1; step <= strlen(ch); step += 5) {
        CHECK(hooked(ch, step, true) == H1F_LINE0);
        CHECK(rec.ends == 1 && rec.data_len == 10 && memcmp(rec.data, "helloworld", 10) == 0);
        CHECK(rec.trailer_len == 10 && memcmp(rec.trailer, "X-T: 1\r\n\r\n", 10) == 0);
        CHECK(rec.end == (uint64_t)(strstr(ch, "GET") - ch));
        CHECK(rec.te_from == (uint64_t)(strstr(ch, "Transfer") - ch) && rec.te_to == rec.te_from + 26);
    }
    /* not streamed: the hooks hear nothing but the start */
    CHECK(hooked(ch, 3, false) == H1F_LINE0 && rec.starts == 1 && rec.ends == 0 && rec.data_len == 0 && rec.trailer_len == 0);
    /* a body that breaks off stays streaming, in error */
    struct h1_framing_parser p = {.state = H1F_LINE0};
    memset(&rec, 0, sizeof(rec));
    rec.stream = true;
    CHECK(!h1_framing_parse_hooks(&p, CHUNKED "5\r\nhello\r\n0x2c\r\n", strlen(CHUNKED "5\r\nhello\r\n0x2c\r\n"), &rec_hooks, NULL));
    CHECK(p.state == H1F_ERROR && p.streaming && rec.ends == 0 && rec.data_len == 5);
    /* heads are counted, bodies or not */
    p = (struct h1_framing_parser){.state = H1F_LINE0};
    const char *two = "GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx";
    CHECK(h1_framing_parse(&p, two, strlen(two), NULL, NULL) && p.heads == 2);
}

int main(void)
{
    test_hooks();
    enum h1_framing_state end;
    /* valid chunked bodies, extensions, trailers, pipelining */
    CHECK(parse(CHUNKED "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &end) == NULL && end == H1F_LINE0);
    CHECK(body("5;a=b\r\nhello\r\n0\r\n\r\n") == NULL);
    CHECK(body("5 ;a=\"q;x\"\r\nhello\r\n0;last\r\n\r\n") == NULL);
    CHECK(body("5 \t\r\nhello\r\n0\r\n\r\n") == NULL);
    CHECK(body("A\r\n0123456789\r\n000\r\nX-T: 1\r\nY: 2\r\n\r\n") == NULL);
    CHECK(parse(CHUNKED "5\r\nhel", &end) == NULL && end == H1F_CDATA);
    /* sizes: 1*HEXDIG, then only BWS and ';' extensions, then CRLF */
    CHECK_STR(body("0x2c\r\n"), "invalid chunk size");
    CHECK_STR(body("5zzz\r\nhello\r\n0\r\n\r\n"), "invalid chunk size");
    CHECK_STR(body("2c\tfoo\r\n"), "invalid chunk size line");
    CHECK_STR(body("\r\nhello\r\n0\r\n\r\n"), "invalid chunk size");
    CHECK_STR(body(";a\r\nhello\r\n"), "invalid chunk size");
    CHECK_STR(body(" 5\r\nhello\r\n"), "invalid chunk size");
    CHECK_STR(body("5\nhello\r\n0\r\n\r\n"), "invalid chunk size");
    CHECK_STR(body("5;a\nhello\r\n"), "invalid chunk extension");
    CHECK_STR(body("5\r\rhello\r\n"), "chunk size line not ended by CRLF");
    CHECK_STR(body("5;a\x01\r\nhello\r\n"), "invalid chunk extension");
    CHECK_STR(body("10000000000000000\r\n"), "chunk size too large");
    CHECK(body("7fffffffffffffff\r\n") == NULL);
    CHECK_STR(body("8000000000000000\r\n"), "chunk size too large");
    /* chunk data is followed by exactly CRLF */
    CHECK_STR(body("5\r\nhello\n0\r\n\r\n"), "chunk data not followed by CRLF");
    CHECK_STR(body("5\r\nhelloX\r\n0\r\n\r\n"), "chunk data not followed by CRLF");
    CHECK_STR(body("5\r\nhello\r\r\n0\r\n\r\n"), "chunk data not followed by CRLF");
    /* bounded extensions and trailers */
    char big[8192], fill[4200];
    memset(fill, 'a', sizeof(fill));
    snprintf(big, sizeof(big), "5;%.*s\r\nhello\r\n0\r\n\r\n", 4100, fill);
    CHECK_STR(body(big), "chunk extensions too long");
    snprintf(big, sizeof(big), "5;%.*s\r\nhello\r\n0\r\n\r\n", 4000, fill);
    CHECK(body(big) == NULL);
    snprintf(big, sizeof(big), "0\r\nX: %.*s\r\n\r\n", 4100, fill);
    CHECK_STR(body(big), "trailer section too large");
    snprintf(big, sizeof(big), "0\r\nX: %.*s\r\n\r\n", 4000, fill);
    CHECK(body(big) == NULL);
    CHECK_STR(body("0\r\nX: 1\n\r\n"), "invalid trailer field");
    CHECK_STR(body("0\r\n\n"), "invalid trailer section");
    CHECK_STR(body("0\r\n\rX"), "trailer line not ended by CRLF");
    /* versions: 1.0 and 1.1 only; the HTTP/2 preface is h2o's */
    CHECK(parse("GET / HTTP/1.0\r\n\r\n", &end) == NULL && end == H1F_LINE0);
    CHECK_STR(parse("GET / HTTP/1.2\r\nHost: a\r\n\r\n", NULL), "unsupported HTTP version or malformed request line");
    CHECK(parse("\r\nGET / HTTP/1.1\r\n\r\n", &end) == NULL && end == H1F_LINE0);
    CHECK(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &end) == NULL && end == H1F_PASS);
    /* Content-Length bodies are skipped; framing h2o or request_check refuse is not followed */
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n", &end) == NULL && end == H1F_LINE0);
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0x\r\n", &end) == NULL &&
          end == H1F_PASS);
    CHECK(parse("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x81\x05", &end) == NULL && end == H1F_PASS);
    CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", &end) == NULL && end == H1F_PASS);
    /* "Content-Length:  5 ": the digits and their trailing whitespace are rewritten */
    const char *ws = "POST / HTTP/1.1\r\nContent-Length:  5 \t\r\n\r\nhello";
    rw_from = rw_to = 0;
    CHECK(parse(ws, &end) == NULL && end == H1F_LINE0);
    CHECK(rw_from == (uint64_t)(strstr(ws, "5 ") - ws) && rw_to == rw_from + 3);

    /* the glue: what h2o's parser is left to see */
    glue_start();
    feed_str(CHUNKED);
    feed_str("5\r\nhel");
    CHECK(visible(CHUNKED "5\r\nhel"));
    feed_str("lo\r\n5;ex"); /* an incomplete size line is held back */
    CHECK(visible(CHUNKED "5\r\nhello\r\n"));
    feed_str("t\r\nworld\r\n0\r\nX: 1\r\n"); /* so is a last chunk until its trailers end */
    CHECK(visible(CHUNKED "5\r\nhello\r\n5;ext\r\nworld\r\n"));
    feed_str("\r\nGET /");
    CHECK(visible(CHUNKED "5\r\nhello\r\n5;ext\r\nworld\r\n0\r\nX: 1\r\n\r\nGET /"));
    /* refused in a size line: cut where the line starts, one non-hex byte */
    glue_start();
    feed_str(CHUNKED "5\r\nhello\r\n0x2c\r\nGET /admin HTTP/1.1\r\n\r\n");
    CHECK(visible(CHUNKED "5\r\nhello\r\n\x01"));
    feed_str("more"); /* nothing is h2o's after the poison */
    CHECK(visible(CHUNKED "5\r\nhello\r\n\x01"));
    /* after chunk data: cut at the offending byte */
    glue_start();
    feed_str(CHUNKED "5\r\nhello\r");
    feed_str("\r\n0\r\n\r\n");
    CHECK(visible(CHUNKED "5\r\nhello\r\x01"));
    /* a refused version: the head is made unparseable and ended */
    glue_start();
    feed_str("GET / HTTP/1.1\r\n\r\nGET / HTTP/1");
    feed_str(".2\r\nHost: a\r\n\r\n");
    CHECK(visible("GET / HTTP/1.1\r\n\r\n\x01" "ET / HTTP/1.2\r\r\n\r\n"));
    /* Content-Length with whitespace becomes digits h2o accepts */
    glue_start();
    feed_str("POST / HTTP/1.1\r\nContent-Length:  5 \r\n\r\nhello");
    CHECK(visible("POST / HTTP/1.1\r\nContent-Length:  05\r\n\r\nhello"));
    glue_start();
    return test_report("proxy/h1_framing");
}
