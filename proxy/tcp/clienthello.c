/*
 * ClientHello parsing (RFC 8446 4.1.2, RFC 6066 3). Records: type 22,
 * version 3.x, length <= 2^14; the handshake message may span several
 * records, so record payloads are gathered (up to CLIENTHELLO_MAX) before
 * the message is read.
 */
#include "clienthello.h"

#include <string.h>

#define RECORD_HEADER 5
#define RECORD_MAX_PAYLOAD 16384
#define HANDSHAKE_CLIENT_HELLO 1
#define EXT_SERVER_NAME 0
#define NAME_TYPE_HOST 0

struct reader {
    const uint8_t *p, *end;
};

static bool take(struct reader *r, size_t n, const uint8_t **out)
{
    if ((size_t)(r->end - r->p) < n)
        return false;
    *out = r->p;
    r->p += n;
    return true;
}

static bool u8(struct reader *r, size_t *v)
{
    const uint8_t *b;
    if (!take(r, 1, &b))
        return false;
    *v = b[0];
    return true;
}

static bool u16(struct reader *r, size_t *v)
{
    const uint8_t *b;
    if (!take(r, 2, &b))
        return false;
    *v = (size_t)b[0] << 8 | b[1];
    return true;
}

/* A sub-reader over the next <len-size>-prefixed vector. */
static bool vector(struct reader *r, int len_size, struct reader *sub)
{
    size_t n;
    if (!(len_size == 1 ? u8(r, &n) : u16(r, &n)))
        return false;
    const uint8_t *b;
    if (!take(r, n, &b))
        return false;
    sub->p = b;
    sub->end = b + n;
    return true;
}

static enum clienthello_result invalid(struct clienthello *out, const char *why)
{
    out->error = why;
    return CLIENTHELLO_INVALID;
}

static enum clienthello_result server_name(struct reader *ext, struct clienthello *out)
{
    struct reader list;
    if (!vector(ext, 2, &list) || ext->p != ext->end)
        return invalid(out, "malformed server_name extension");
    while (list.p < list.end) {
        size_t type;
        struct reader name;
        if (!u8(&list, &type) || !vector(&list, 2, &name))
            return invalid(out, "malformed server_name entry");
        if (type != NAME_TYPE_HOST || out->sni_len != 0)
            continue; /* one host_name is allowed; unknown types are skipped */
        size_t n = (size_t)(name.end - name.p);
        if (n > 0 && name.p[n - 1] == '.')
            n--;
        if (n == 0 || n > CLIENTHELLO_MAX_NAME)
            return invalid(out, "server name empty or longer than 253 bytes");
        for (size_t i = 0; i < n; i++) {
            uint8_t c = name.p[i];
            if (c >= 'A' && c <= 'Z')
                c = (uint8_t)(c - 'A' + 'a');
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
                return invalid(out, "server name holds a character not allowed in a host name");
            out->sni[i] = (char)c;
        }
        out->sni[n] = '\0';
        out->sni_len = n;
    }
    return CLIENTHELLO_OK;
}

static enum clienthello_result parse_message(const uint8_t *msg, size_t len, struct clienthello *out)
{
    struct reader r = {msg, msg + len}, skip, exts;
    const uint8_t *b;
    size_t cipher_len;
    /* legacy_version, random, legacy_session_id */
    if (!take(&r, 2 + 32, &b) || !vector(&r, 1, &skip) || (size_t)(skip.end - skip.p) > 32)
        return invalid(out, "malformed ClientHello (version, random or session id)");
    if (!u16(&r, &cipher_len) || cipher_len < 2 || cipher_len % 2 != 0 || !take(&r, cipher_len, &b))
        return invalid(out, "malformed ClientHello (cipher suites)");
    if (!vector(&r, 1, &skip) || skip.p == skip.end)
        return invalid(out, "malformed ClientHello (compression methods)");
    if (r.p == r.end)
        return CLIENTHELLO_OK; /* no extensions at all (SSLv3-style): no SNI */
    if (!vector(&r, 2, &exts) || r.p != r.end)
        return invalid(out, "malformed ClientHello (extensions length)");
    while (exts.p < exts.end) {
        size_t type;
        struct reader ext;
        if (!u16(&exts, &type) || !vector(&exts, 2, &ext))
            return invalid(out, "malformed extension");
        if (type == EXT_SERVER_NAME) {
            enum clienthello_result res = server_name(&ext, out);
            if (res != CLIENTHELLO_OK)
                return res;
        }
    }
    return CLIENTHELLO_OK;
}

enum clienthello_result clienthello_parse(const uint8_t *buf, size_t len, struct clienthello *out)
{
    uint8_t msg[CLIENTHELLO_MAX + 4];
    size_t have = 0, want = 0; /* handshake bytes gathered, and the message's full size once known */
    out->sni[0] = '\0';
    out->sni_len = 0;
    out->error = NULL;
    if (len == 0)
        return CLIENTHELLO_NEED_MORE;
    if (buf[0] != 22)
        return CLIENTHELLO_NOT_TLS;
    size_t off = 0;
    for (;;) {
        if (len - off < RECORD_HEADER) {
            if (len - off >= 1 && buf[off] != 22)
                return invalid(out, "a record other than handshake inside the ClientHello");
            if (len - off >= 2 && buf[off + 1] != 3)
                return invalid(out, "not a TLS record version");
            return CLIENTHELLO_NEED_MORE;
        }
        const uint8_t *h = buf + off;
        size_t rec_len = (size_t)h[3] << 8 | h[4];
        if (h[0] != 22)
            return invalid(out, "a record other than handshake inside the ClientHello");
        if (h[1] != 3)
            return invalid(out, "not a TLS record version");
        if (rec_len == 0 || rec_len > RECORD_MAX_PAYLOAD)
            return invalid(out, "TLS record length out of range");
        size_t avail = len - off - RECORD_HEADER;
        size_t part = avail < rec_len ? avail : rec_len;
        size_t room = sizeof(msg) - have;
        if (part > room)
            return invalid(out, "ClientHello larger than 16 KiB");
        memcpy(msg + have, h + RECORD_HEADER, part);
        have += part;
        if (want == 0 && have >= 4) {
            if (msg[0] != HANDSHAKE_CLIENT_HELLO)
                return invalid(out, "the first handshake message is not a ClientHello");
            want = 4 + ((size_t)msg[1] << 16 | (size_t)msg[2] << 8 | msg[3]);
            if (want > CLIENTHELLO_MAX)
                return invalid(out, "ClientHello larger than 16 KiB");
        }
        if (want != 0 && have >= want)
            return parse_message(msg + 4, want - 4, out);
        if (part < rec_len)
            return CLIENTHELLO_NEED_MORE; /* the rest of this record is still on its way */
        off += RECORD_HEADER + rec_len;
    }
}
