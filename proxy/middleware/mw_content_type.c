/*
 * ContentType (Traefik): Traefik sends a response without Content-Type as
 * it came (it turns Go's detection off), and so does Gantry; this
 * middleware turns detection back on for its routers: a response that has
 * no Content-Type gets the one Go's http.DetectContentType (the WHATWG MIME
 * sniffing algorithm) gives for the first bytes of its body, as Go's server
 * does on its first write. No body (HEAD, 204, 304, an empty body): none.
 * autoDetect (deprecated in Traefik) false turns the middleware into a
 * no-op, as Traefik does.
 *
 * The detection runs in an output stream (proxy/response_filter.c) that
 * sees the first piece of the body before the response head is sent.
 */
#include "middleware.h"

#include <string.h>
#include <strings.h>

#include "../../common/log.h"
#include "../response_filter.h"

#define SNIFF_LEN 512 /* Go's sniffLen */

struct content_type {
    bool on;
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct content_type *c = arena_alloc(a, sizeof(*c));
    if (mw_opt_bool(o, "autoDetect", true, &c->on, d) != 0)
        return -1;
    /* the label form "...autodetect.contenttype=true" gives the type itself a value */
    const char *label = mw_opt_string(o, "");
    if (label != NULL && strcasecmp(label, "true") != 0)
        return diag_set(d, "'%s': the contentType label takes the value true", label);
    if (mw_opt_string(o, "autoDetect") != NULL)
        log_warn("contentType: autoDetect is deprecated: the middleware only turns detection on; remove the option");
    *cfg = c;
    return 0;
}

static bool is_ws(unsigned char c)
{
    return c == '\t' || c == '\n' || c == '\x0c' || c == '\r' || c == ' ';
}

/* Go's htmlSig: <tag> without case, then ' ' or '>' */
static bool html_sig(const unsigned char *d, size_t n, const char *tag)
{
    size_t len = strlen(tag);
    if (n < len + 1)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)tag[i], db = d[i];
        if (b >= 'A' && b <= 'Z')
            db &= 0xdf;
        if (b != db)
            return false;
    }
    return d[len] == ' ' || d[len] == '>';
}

static bool masked(const unsigned char *d, size_t n, const char *pat, const char *mask, size_t len)
{
    if (n < len)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((d[i] & (unsigned char)mask[i]) != (unsigned char)pat[i])
            return false;
    return true;
}

static bool prefix(const unsigned char *d, size_t n, const char *sig, size_t len)
{
    return n >= len && memcmp(d, sig, len) == 0;
}

static bool mp4(const unsigned char *d, size_t n)
{
    if (n < 12)
        return false;
    size_t box = (size_t)d[0] << 24 | (size_t)d[1] << 16 | (size_t)d[2] << 8 | d[3];
    if (n < box || box % 4 != 0 || memcmp(d + 4, "ftyp", 4) != 0)
        return false;
    for (size_t st = 8; st < box; st += 4)
        if (st != 12 && memcmp(d + st, "mp4", 3) == 0)
            return true;
    return false;
}

static const char *const html_tags[] = {"<!DOCTYPE HTML", "<HTML", "<HEAD", "<SCRIPT", "<IFRAME", "<H1", "<DIV", "<FONT", "<TABLE",
                                        "<A", "<STYLE", "<TITLE", "<B", "<BODY", "<BR", "<P", "<!--"};

static const struct {
    const char *sig;
    size_t len;
    const char *type;
} exact[] = {
#define E(s, t) {s, sizeof(s) - 1, t}
    E("%PDF-", "application/pdf"),
    E("%!PS-Adobe-", "application/postscript"),
};

static const struct {
    const char *pat, *mask;
    size_t len;
    const char *type;
} boms[] = {
    {"\xFE\xFF\x00\x00", "\xFF\xFF\x00\x00", 4, "text/plain; charset=utf-16be"},
    {"\xFF\xFE\x00\x00", "\xFF\xFF\x00\x00", 4, "text/plain; charset=utf-16le"},
    {"\xEF\xBB\xBF\x00", "\xFF\xFF\xFF\x00", 4, "text/plain; charset=utf-8"},
};

static const struct {
    const char *sig;
    size_t len;
    const char *type;
} images[] = {
    E("\x00\x00\x01\x00", "image/x-icon"), E("\x00\x00\x02\x00", "image/x-icon"), E("BM", "image/bmp"),
    E("GIF87a", "image/gif"),              E("GIF89a", "image/gif"),
};

static const struct {
    const char *sig;
    size_t len;
    const char *type;
} fonts_archives[] = {
    E("\x00\x01\x00\x00", "font/ttf"),
    E("OTTO", "font/otf"),
    E("ttcf", "font/collection"),
    E("wOFF", "font/woff"),
    E("wOF2", "font/woff2"),
    E("\x1F\x8B\x08", "application/x-gzip"),
    E("PK\x03\x04", "application/zip"),
    E("Rar!\x1A\x07\x00", "application/x-rar-compressed"),
    E("Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
    E("\x00\x61\x73\x6D", "application/wasm"),
#undef E
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Go's http.DetectContentType on the first <n> bytes of a body. */
static const char *detect(const unsigned char *d, size_t n)
{
    if (n > SNIFF_LEN)
        n = SNIFF_LEN;
    size_t ws = 0;
    while (ws < n && is_ws(d[ws]))
        ws++;
    for (size_t i = 0; i < ARRAY_LEN(html_tags); i++)
        if (html_sig(d + ws, n - ws, html_tags[i]))
            return "text/html; charset=utf-8";
    if (masked(d + ws, n - ws, "<?xml", "\xFF\xFF\xFF\xFF\xFF", 5))
        return "text/xml; charset=utf-8";
    for (size_t i = 0; i < ARRAY_LEN(exact); i++)
        if (prefix(d, n, exact[i].sig, exact[i].len))
            return exact[i].type;
    for (size_t i = 0; i < ARRAY_LEN(boms); i++)
        if (masked(d, n, boms[i].pat, boms[i].mask, boms[i].len))
            return boms[i].type;
    for (size_t i = 0; i < ARRAY_LEN(images); i++)
        if (prefix(d, n, images[i].sig, images[i].len))
            return images[i].type;
    static const char riff_mask[] = "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF";
    if (masked(d, n, "RIFF\x00\x00\x00\x00WEBPVP", riff_mask, 14))
        return "image/webp";
    if (prefix(d, n, "\x89PNG\x0D\x0A\x1A\x0A", 8))
        return "image/png";
    if (prefix(d, n, "\xFF\xD8\xFF", 3))
        return "image/jpeg";
    if (masked(d, n, "FORM\x00\x00\x00\x00" "AIFF", riff_mask, 12))
        return "audio/aiff";
    if (prefix(d, n, "ID3", 3))
        return "audio/mpeg";
    if (prefix(d, n, "OggS\x00", 5))
        return "application/ogg";
    if (prefix(d, n, "MThd\x00\x00\x00\x06", 8))
        return "audio/midi";
    if (masked(d, n, "RIFF\x00\x00\x00\x00" "AVI ", riff_mask, 12))
        return "video/avi";
    if (masked(d, n, "RIFF\x00\x00\x00\x00WAVE", riff_mask, 12))
        return "audio/wave";
    if (mp4(d, n))
        return "video/mp4";
    if (prefix(d, n, "\x1A\x45\xDF\xA3", 4))
        return "video/webm";
    /* 34 bytes of anything, then "LP": embedded OpenType */
    if (n >= 36 && d[34] == 'L' && d[35] == 'P')
        return "application/vnd.ms-fontobject";
    for (size_t i = 0; i < ARRAY_LEN(fonts_archives); i++)
        if (prefix(d, n, fonts_archives[i].sig, fonts_archives[i].len))
            return fonts_archives[i].type;
    for (size_t i = ws; i < n; i++) {
        unsigned char b = d[i];
        if (b <= 0x08 || b == 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f))
            return "application/octet-stream";
    }
    return "text/plain; charset=utf-8";
}

struct sniffer {
    h2o_ostream_t super;
    bool done;
};

static void do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    struct sniffer *s = (void *)self;
    if (!s->done) {
        s->done = true;
        unsigned char head[SNIFF_LEN];
        size_t n = 0;
        for (size_t i = 0; i < bufcnt && n < SNIFF_LEN; i++) {
            size_t take = bufs[i].len < SNIFF_LEN - n ? bufs[i].len : SNIFF_LEN - n;
            if (take) /* an empty piece may have no base */
                memcpy(head + n, bufs[i].base, take);
            n += take;
        }
        /* Go sniffs what its first write holds; nothing written, nothing set */
        if (n > 0 && state != H2O_SEND_STATE_ERROR && mw_header_get(&req->res.headers, H2O_STRLIT("content-type")) == NULL) {
            const char *t = detect(head, n);
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, t, strlen(t));
        }
    }
    h2o_ostream_send_next(&s->super, req, bufs, bufcnt, state);
}

static h2o_ostream_t **setup(void *data, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)data;
    struct sniffer *s = (void *)h2o_add_ostream(req, sizeof(*s), slot);
    s->super.do_send = do_send;
    s->done = false;
    return &s->super.next;
}

static void on_response(const void *cfg, struct mw_run *run)
{
    const struct content_type *c = cfg;
    h2o_req_t *req = run->req;
    int status = req->res.status;
    if (!c->on || run->intercepted || status < 200 || status == 204 || status == 304 ||
        h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")) ||
        mw_header_get(&req->res.headers, H2O_STRLIT("content-type")) != NULL || req->res.content_length == 0)
        return;
    /* first: the body as it came, even when an inner compress encodes it */
    response_filter_request_first(req, setup, NULL);
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    (void)cfg, (void)run;
    return MW_NEXT;
}

const struct mw_type mw_content_type = {"contentType", build, on_request, on_response};
