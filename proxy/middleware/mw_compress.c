/*
 * Compress (Traefik): responses are compressed with the best encoding the
 * client accepts among <encodings> (default gzip, br, zstd, in that order of
 * preference; q-values honoured), unless: no Accept-Encoding (then
 * <defaultEncoding>, if any), an empty one, already encoded, Cache-Control
 * no-transform, application/grpc, a content type excluded (or not
 * included), a known length under <minResponseBodyBytes> (a body of unknown
 * length is always compressed, as Traefik does, so streams are not held
 * back), a HEAD, 1xx/204/206/304.
 *
 * Streaming: each piece the upstream gives is compressed and flushed at
 * once (gzip Z_SYNC_FLUSH, brotli FLUSH, zstd flush), so server-sent
 * events keep flowing. The encoder is an h2o output stream inserted through
 * response_filter.c; its output buffers live in the request's pool and are
 * reused once h2o asks for more.
 */
#include "middleware.h"

#include <brotli/encode.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "../response_filter.h"

enum encoding { ENC_GZIP, ENC_BR, ENC_ZSTD, ENC_COUNT };
static const char *const encoding_names[ENC_COUNT] = {"gzip", "br", "zstd"};

struct compress {
    enum encoding order[ENC_COUNT];
    size_t n_order;
    int default_encoding; /* -1: none */
    const char **excluded, **included;
    size_t n_excluded, n_included;
    int64_t min_bytes;
};

static int encoding_of(const char *s, size_t len)
{
    for (int i = 0; i < ENC_COUNT; i++)
        if (strlen(encoding_names[i]) == len && strncasecmp(encoding_names[i], s, len) == 0)
            return i;
    return -1;
}

/* "text/html; charset=utf-8" -> "text/html", lowercased, spaces removed */
static size_t media_type(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && s[i] != ';' && n + 1 < cap; i++)
        if (s[i] != ' ' && s[i] != '\t')
            out[n++] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    out[n] = '\0';
    return n;
}

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct compress *c = arena_alloc(a, sizeof(*c));
    size_t n;
    const char **enc = mw_opt_list(a, o, "encodings", &n);
    if (enc == NULL) {
        c->order[0] = ENC_GZIP, c->order[1] = ENC_BR, c->order[2] = ENC_ZSTD;
        c->n_order = 3;
    }
    for (size_t i = 0; enc && i < n; i++) {
        int e = encoding_of(enc[i], strlen(enc[i]));
        if (e < 0)
            return diag_set(d, "encodings: '%s' is not one of gzip, br, zstd", enc[i]);
        bool dup = false;
        for (size_t j = 0; j < c->n_order; j++)
            dup = dup || c->order[j] == (enum encoding)e;
        if (!dup)
            c->order[c->n_order++] = (enum encoding)e;
    }
    if (c->n_order == 0)
        return diag_set(d, "encodings: at least one of gzip, br, zstd is needed");
    const char *def = mw_opt_string(o, "defaultEncoding");
    c->default_encoding = def && *def ? encoding_of(def, strlen(def)) : -1;
    if (def && *def && c->default_encoding < 0)
        return diag_set(d, "defaultEncoding: '%s' is not one of gzip, br, zstd", def);
    const char **ex = mw_opt_list(a, o, "excludedContentTypes", &c->n_excluded);
    const char **in = mw_opt_list(a, o, "includedContentTypes", &c->n_included);
    if (c->n_excluded && c->n_included)
        return diag_set(d, "excludedContentTypes and includedContentTypes are mutually exclusive");
    c->excluded = arena_alloc(a, (c->n_excluded + 1) * sizeof(char *));
    c->included = arena_alloc(a, (c->n_included + 1) * sizeof(char *));
    for (size_t i = 0; i < c->n_excluded; i++) {
        char buf[256];
        media_type(ex[i], strlen(ex[i]), buf, sizeof(buf));
        c->excluded[i] = arena_strdup(a, buf);
    }
    for (size_t i = 0; i < c->n_included; i++) {
        char buf[256];
        media_type(in[i], strlen(in[i]), buf, sizeof(buf));
        c->included[i] = arena_strdup(a, buf);
    }
    if (mw_opt_int(o, "minResponseBodyBytes", 1024, 0, INT64_MAX, &c->min_bytes, d) != 0)
        return -1;
    *cfg = c;
    return 0;
}

/* The encoding for this request's Accept-Encoding, or -1. */
static int negotiate(const struct compress *c, const h2o_req_t *req)
{
    const h2o_iovec_t *ae = mw_header_get(&req->headers, H2O_STRLIT("accept-encoding"));
    if (ae == NULL)
        return c->default_encoding;
    double q[ENC_COUNT] = {-1, -1, -1}, star = -1;
    const char *p = ae->base, *end = ae->base + ae->len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ','))
            p++;
        const char *tok = p;
        while (p < end && *p != ',' && *p != ';' && *p != ' ')
            p++;
        size_t tlen = (size_t)(p - tok);
        double qv = 1.0;
        while (p < end && *p != ',') {
            if (*p == ';') {
                const char *qs = p + 1;
                while (qs < end && *qs == ' ')
                    qs++;
                if (qs + 1 < end && (qs[0] == 'q' || qs[0] == 'Q') && qs[1] == '=')
                    qv = strtod(qs + 2, NULL);
            }
            p++;
        }
        if (tlen == 0)
            continue;
        int e = encoding_of(tok, tlen);
        if (e >= 0)
            q[e] = qv;
        else if (tlen == 1 && tok[0] == '*')
            star = qv;
    }
    int best = -1;
    double best_q = 0;
    for (size_t i = 0; i < c->n_order; i++) {
        enum encoding e = c->order[i];
        double qe = q[e] >= 0 ? q[e] : star;
        if (qe > best_q)
            best = (int)e, best_q = qe;
    }
    if (best >= 0 && q[best] < 0 && star > 0 && c->default_encoding >= 0)
        best = c->default_encoding; /* only a wildcard matched: the configured default */
    return best;
}

static bool type_allowed(const struct compress *c, const h2o_req_t *req)
{
    const h2o_iovec_t *ct = mw_header_get(&req->res.headers, H2O_STRLIT("content-type"));
    char mt[256];
    size_t n = ct ? media_type(ct->base, ct->len, mt, sizeof(mt)) : 0;
    if (n == 0)
        mt[0] = '\0';
    if (strncmp(mt, "application/grpc", 16) == 0)
        return false;
    for (size_t i = 0; i < c->n_excluded; i++)
        if (strcmp(mt, c->excluded[i]) == 0)
            return false;
    if (c->n_included == 0)
        return true;
    for (size_t i = 0; i < c->n_included; i++)
        if (strcmp(mt, c->included[i]) == 0)
            return true;
    return false;
}

static bool has_token(const h2o_iovec_t *v, const char *tok)
{
    return v != NULL && h2o_contains_token(v->base, v->len, tok, strlen(tok), ',');
}

/* ---- the encoder: an h2o output stream ---- */

struct encoder {
    h2o_ostream_t super;
    enum encoding enc;
    z_stream z;
    BrotliEncoderState *br;
    ZSTD_CCtx *zstd;
    bool started, ended;
    h2o_iovec_t out; /* one output buffer, reused after each send */
    size_t cap;
};

static void encoder_dispose(void *_e)
{
    struct encoder *e = _e;
    if (e->enc == ENC_GZIP && e->started)
        deflateEnd(&e->z);
    if (e->br != NULL)
        BrotliEncoderDestroyInstance(e->br);
    if (e->zstd != NULL)
        ZSTD_freeCCtx(e->zstd);
    e->started = false, e->br = NULL, e->zstd = NULL;
}

static void reserve(struct encoder *e, h2o_req_t *req, size_t need)
{
    if (e->out.len + need <= e->cap)
        return;
    size_t cap = e->cap ? e->cap : 16384;
    while (cap < e->out.len + need)
        cap *= 2;
    char *p = h2o_mem_alloc_pool(&req->pool, cap);
    if (e->out.len) /* the first buffer: nothing to keep, base is NULL */
        memcpy(p, e->out.base, e->out.len);
    e->out.base = p;
    e->cap = cap;
}

/* Compresses <in>; <last>: finish the stream, else flush what was given. */
static int encode(struct encoder *e, h2o_req_t *req, h2o_iovec_t in, bool last)
{
    switch (e->enc) {
    case ENC_GZIP: {
        e->z.next_in = (Bytef *)in.base;
        e->z.avail_in = (uInt)in.len;
        int flush = last ? Z_FINISH : Z_SYNC_FLUSH, rc;
        do {
            reserve(e, req, 16384);
            e->z.next_out = (Bytef *)e->out.base + e->out.len;
            e->z.avail_out = (uInt)(e->cap - e->out.len);
            rc = deflate(&e->z, flush);
            e->out.len = e->cap - e->z.avail_out;
        } while (rc == Z_OK && (e->z.avail_out == 0 || e->z.avail_in != 0 || (last && rc != Z_STREAM_END)));
        return rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR ? 0 : -1;
    }
    case ENC_BR: {
        const uint8_t *next_in = (const uint8_t *)in.base;
        size_t avail_in = in.len;
        BrotliEncoderOperation op = last ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_FLUSH;
        do {
            reserve(e, req, 16384);
            uint8_t *next_out = (uint8_t *)e->out.base + e->out.len;
            size_t avail_out = e->cap - e->out.len;
            if (!BrotliEncoderCompressStream(e->br, op, &avail_in, &next_in, &avail_out, &next_out, NULL))
                return -1;
            e->out.len = e->cap - avail_out;
        } while (avail_in != 0 || BrotliEncoderHasMoreOutput(e->br) ||
                 (last && !BrotliEncoderIsFinished(e->br)));
        return 0;
    }
    case ENC_ZSTD: {
        ZSTD_inBuffer zin = {in.base, in.len, 0};
        ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_flush;
        size_t left;
        do {
            reserve(e, req, ZSTD_CStreamOutSize());
            ZSTD_outBuffer zout = {e->out.base + e->out.len, e->cap - e->out.len, 0};
            left = ZSTD_compressStream2(e->zstd, &zout, &zin, mode);
            if (ZSTD_isError(left))
                return -1;
            e->out.len += zout.pos;
        } while (left != 0 || zin.pos < zin.size);
        return 0;
    }
    default:
        return -1;
    }
}

static void do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    struct encoder *e = (void *)self;
    e->out.len = 0;
    bool last = state == H2O_SEND_STATE_FINAL;
    if (state == H2O_SEND_STATE_ERROR || e->ended) {
        h2o_ostream_send_next(&e->super, req, NULL, 0, state);
        return;
    }
    for (size_t i = 0; i < bufcnt; i++)
        if (encode(e, req, bufs[i], false) != 0)
            goto fail;
    if (last && encode(e, req, h2o_iovec_init(NULL, 0), true) != 0)
        goto fail;
    if (last) {
        e->ended = true;
        encoder_dispose(e);
    }
    h2o_ostream_send_next(&e->super, req, &e->out, e->out.len ? 1 : 0, state);
    return;
fail:
    e->ended = true;
    encoder_dispose(e);
    h2o_ostream_send_next(&e->super, req, NULL, 0, H2O_SEND_STATE_ERROR);
}

static void guard_dispose(void *_g)
{
    encoder_dispose(*(struct encoder **)_g);
}

static h2o_ostream_t **setup(void *data, h2o_req_t *req, h2o_ostream_t **slot)
{
    enum encoding enc = (enum encoding)(uintptr_t)data;
    struct encoder *e = (void *)h2o_add_ostream(req, sizeof(*e), slot);
    memset((char *)e + sizeof(e->super), 0, sizeof(*e) - sizeof(e->super));
    e->super.do_send = do_send;
    e->enc = enc;
    /* the pool frees the encoder's library state if the response is cut short */
    struct encoder **guard = h2o_mem_alloc_shared(&req->pool, sizeof(*guard), guard_dispose);
    *guard = e;
    switch (enc) {
    case ENC_GZIP:
        if (deflateInit2(&e->z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK) /* 31: gzip framing */
            e->started = true;
        break;
    case ENC_BR:
        e->br = BrotliEncoderCreateInstance(NULL, NULL, NULL);
        if (e->br != NULL)
            BrotliEncoderSetParameter(e->br, BROTLI_PARAM_QUALITY, 5);
        break;
    case ENC_ZSTD:
        e->zstd = ZSTD_createCCtx();
        if (e->zstd != NULL)
            ZSTD_CCtx_setParameter(e->zstd, ZSTD_c_compressionLevel, 3);
        break;
    default:
        break;
    }
    return &e->super.next;
}

static void on_response(const void *cfg, struct mw_run *run)
{
    const struct compress *c = cfg;
    h2o_req_t *req = run->req;
    int status = req->res.status;
    if (run->intercepted || status < 200 || status == 204 || status == 206 || status == 304 ||
        h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        return;
    if (mw_header_get(&req->res.headers, H2O_STRLIT("content-encoding")) != NULL ||
        mw_header_get(&req->res.headers, H2O_STRLIT("content-range")) != NULL ||
        has_token(mw_header_get(&req->res.headers, H2O_STRLIT("cache-control")), "no-transform") || !type_allowed(c, req))
        return;
    if (req->res.content_length != SIZE_MAX && (int64_t)req->res.content_length < c->min_bytes)
        return;
    int enc = negotiate(c, req);
    /* Vary whether or not this client gets it compressed: caches must know */
    if (!has_token(mw_header_get(&req->res.headers, H2O_STRLIT("vary")), "accept-encoding"))
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Accept-Encoding"));
    if (enc < 0)
        return;
    mw_header_unset(&req->res.headers, H2O_STRLIT("content-length"));
    req->res.content_length = SIZE_MAX;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_ENCODING, NULL, encoding_names[enc],
                   strlen(encoding_names[enc]));
    /* an ETag names the uncompressed bytes: weaken it */
    for (size_t i = 0; i < req->res.headers.size; i++) {
        h2o_header_t *h = &req->res.headers.entries[i];
        if (h->name == &H2O_TOKEN_ETAG->buf && h->value.len >= 1 && h->value.base[0] == '"') {
            char *w = h2o_mem_alloc_pool(&req->pool, h->value.len + 2);
            memcpy(w, "W/", 2);
            memcpy(w + 2, h->value.base, h->value.len);
            h->value = h2o_iovec_init(w, h->value.len + 2);
        }
    }
    response_filter_request(req, setup, (void *)(uintptr_t)enc);
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    return MW_NEXT;
}

const struct mw_type mw_compress = {"compress", build, on_request, on_response};
