/*
 * EncodedCharacters (Traefik v3.7): refuses with 400 a request whose
 * encoded path holds an encoded character the middleware does not allow
 * (%2F, %5C, %00, %3B, %25, %3F, %23, either case; all refused by default).
 *
 * The entry point's encodedCharacters options (proxy/path.c) run first,
 * on every request: a character the entry point refuses never reaches a
 * router, so this middleware can only be stricter than its entry point,
 * never let through what the entry point refuses. It checks the path as
 * it is sent upstream (Traefik checks Go's re-encoding of it, which may
 * differ for paths Go would re-encode).
 */
#include "path_edit.h"

#include "../path.h"

struct encoded_characters {
    unsigned deny; /* enum path_allow flags of the refused characters */
};

static const struct {
    const char *key;
    unsigned flag;
} options[] = {
    {"allowEncodedSlash", PATH_ALLOW_SLASH},         {"allowEncodedBackSlash", PATH_ALLOW_BACKSLASH},
    {"allowEncodedNullCharacter", PATH_ALLOW_NUL},   {"allowEncodedSemicolon", PATH_ALLOW_SEMICOLON},
    {"allowEncodedPercent", PATH_ALLOW_PERCENT},     {"allowEncodedQuestionMark", PATH_ALLOW_QUESTION},
    {"allowEncodedHash", PATH_ALLOW_HASH},
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct encoded_characters *c = arena_alloc(a, sizeof(*c));
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        bool allow;
        if (mw_opt_bool(o, options[i].key, false, &allow, d) != 0)
            return -1;
        if (!allow)
            c->deny |= options[i].flag;
    }
    *cfg = c;
    return 0;
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct encoded_characters *c = cfg;
    if (c->deny == 0)
        return MW_NEXT;
    h2o_iovec_t p = mw_path(run);
    for (size_t i = 0; i < p.len; i++) {
        if (p.base[i] != '%')
            continue;
        int hi = i + 2 < p.len ? path_hex_digit(p.base[i + 1]) : -1, lo = i + 2 < p.len ? path_hex_digit(p.base[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (c->deny & path_guard_flag((unsigned char)(hi << 4 | lo))) != 0) {
            mw_answer(run, 400, "Bad Request", "", false);
            return MW_ANSWERED;
        }
        i += 2;
    }
    return MW_NEXT;
}

const struct mw_type mw_encoded_characters = {"encodedCharacters", build, on_request, NULL};
