/* Go regular expressions and Regexp.Expand templates on PCRE2 (see regex_replace.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex_replace.h"

#include <pcre2.h>
#include <string.h>

#include "pool_buf.h"

/* The bounds of one match (the same as proxy/match.c's for PathRegexp):
 * a backtracking blow-up stops there and counts as no match. */
#define REGEX_REPLACE_MATCH_LIMIT 200000
#define REGEX_REPLACE_DEPTH_LIMIT 5000

static void free_code(void *p)
{
    pcre2_code_free(p);
}

static void free_mctx(void *p)
{
    pcre2_match_context_free(p);
}

int regex_replace_compile(struct arena *a, const char *option, const char *pattern, struct regex_replace *r, struct diag *d)
{
    memset(r, 0, sizeof(*r));
    int err;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &err, &off, NULL);
    if (code == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof(msg));
        return diag_set(d, "%s: '%s': %s at offset %zu", option, pattern, (const char *)msg, (size_t)off);
    }
    arena_on_free(a, free_code, code);
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* without JIT the interpreter runs, under the same limits */
    pcre2_match_context *mctx = pcre2_match_context_create(NULL);
    arena_on_free(a, free_mctx, mctx);
    pcre2_set_match_limit(mctx, REGEX_REPLACE_MATCH_LIMIT);
    pcre2_set_depth_limit(mctx, REGEX_REPLACE_DEPTH_LIMIT);
    uint32_t n = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &n);
    r->code = code;
    r->mctx = mctx;
    r->n_groups = n;
    return 0;
}

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

const char *regex_replace_trim(struct arena *a, const char *s)
{
    while (space(*s))
        s++;
    size_t n = strlen(s);
    while (n && space(s[n - 1]))
        n--;
    return arena_strndup(a, s, n);
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Go's extract(): the group name after a '$' at <s> (braced or not). Returns
 * the length consumed, 0 when malformed (the '$' is then literal). */
static size_t extract_name(const char *s, const char **name, size_t *name_len)
{
    bool brace = *s == '{';
    const char *p = s + brace, *q = p;
    while (name_char(*q))
        q++;
    if (q == p || (brace && *q != '}'))
        return 0;
    *name = p;
    *name_len = (size_t)(q - p);
    return (size_t)(q - s) + brace;
}

/* The group <name> refers to, or -1 (expands to nothing). A name of digits
 * without a leading zero is a number (Go caps it at 1e8). */
static int64_t group_of(const struct regex_replace *r, const char *name, size_t len)
{
    int64_t num = 0;
    for (size_t i = 0; i < len && num >= 0; i++)
        num = name[i] >= '0' && name[i] <= '9' && num < 100000000 ? num * 10 + (name[i] - '0') : -1;
    if (num >= 0 && !(name[0] == '0' && len > 1))
        return num <= r->n_groups ? num : -1;
    char buf[256];
    if (len >= sizeof(buf))
        return -1;
    memcpy(buf, name, len);
    buf[len] = '\0';
    int rc = pcre2_substring_number_from_name(r->code, (PCRE2_SPTR)buf);
    return rc >= 0 ? rc : -1;
}

static void add_piece(struct arena *a, struct regex_replace *r, size_t *cap, struct regex_replace_piece p)
{
    if (r->n_pieces == *cap) {
        size_t ncap = *cap ? 2 * *cap : 8;
        struct regex_replace_piece *np = arena_alloc(a, ncap * sizeof(*np));
        if (r->n_pieces)
            memcpy(np, r->pieces, r->n_pieces * sizeof(*np));
        r->pieces = np;
        *cap = ncap;
    }
    r->pieces[r->n_pieces++] = p;
}

void regex_replace_template(struct arena *a, struct regex_replace *r, const char *tmpl)
{
    size_t cap = 0;
    r->n_pieces = 0;
    const char *s = tmpl;
    /* literal runs are cut at each '$' and merged again below */
    while (*s) {
        const char *dollar = strchr(s, '$');
        if (dollar == NULL) {
            add_piece(a, r, &cap, (struct regex_replace_piece){arena_strdup(a, s), strlen(s), 0});
            break;
        }
        if (dollar > s)
            add_piece(a, r, &cap, (struct regex_replace_piece){arena_strndup(a, s, (size_t)(dollar - s)), (size_t)(dollar - s), 0});
        s = dollar + 1;
        if (*s == '$') { /* "$$" */
            add_piece(a, r, &cap, (struct regex_replace_piece){"$", 1, 0});
            s++;
            continue;
        }
        const char *name;
        size_t name_len, used = extract_name(s, &name, &name_len);
        if (used == 0) { /* malformed: the '$' is text */
            add_piece(a, r, &cap, (struct regex_replace_piece){"$", 1, 0});
            continue;
        }
        s += used;
        int64_t g = group_of(r, name, name_len);
        if (g >= 0)
            add_piece(a, r, &cap, (struct regex_replace_piece){NULL, 0, (uint32_t)g});
    }
}

static void *pool_malloc(PCRE2_SIZE size, void *pool)
{
    return h2o_mem_alloc_pool(pool, size);
}

static void pool_free(void *p, void *pool)
{
    (void)p, (void)pool; /* the request's pool goes with the request */
}

static pcre2_match_data *match_data(const struct regex_replace *r, h2o_mem_pool_t *pool)
{
    pcre2_general_context *g = pcre2_general_context_create(pool_malloc, pool_free, pool);
    return pcre2_match_data_create(r->n_groups + 1, g);
}

static int run(const struct regex_replace *r, pcre2_match_data *md, const char *s, size_t len, size_t from)
{
    return pcre2_match(r->code, (PCRE2_SPTR)(s ? s : ""), len, from, 0, md, r->mctx);
}

bool regex_replace_find(const struct regex_replace *r, h2o_mem_pool_t *pool, const char *s, size_t len, size_t from, size_t m[2])
{
    pcre2_match_data *md = match_data(r, pool);
    if (run(r, md, s, len, from) < 0)
        return false;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    m[0] = ov[0];
    m[1] = ov[1];
    return true;
}

/* The length of the UTF-8 character at s[0] (1 for a stray byte), as Go
 * steps over the text after an empty match. */
static size_t char_width(const char *s, size_t left)
{
    unsigned char c = (unsigned char)s[0];
    size_t w = c >= 0xf0 && c < 0xf8 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 1;
    if (c >= 0xf8 || w > left)
        return 1;
    for (size_t i = 1; i < w; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            return 1;
    return w;
}

/* Appends the template expanded for the match in <ov>. */
static void expand(const struct regex_replace *r, const char *s, const PCRE2_SIZE *ov, struct pool_buf *o)
{
    for (size_t i = 0; i < r->n_pieces; i++) {
        const struct regex_replace_piece *p = &r->pieces[i];
        if (p->lit != NULL) {
            pool_buf_put(o, p->lit, p->len);
        } else if (ov[2 * p->group] != PCRE2_UNSET) { /* a group that took part */
            PCRE2_SIZE b = ov[2 * p->group], e = ov[2 * p->group + 1];
            pool_buf_put(o, s + b, e - b);
        }
    }
}

h2o_iovec_t regex_replace_all(const struct regex_replace *r, h2o_mem_pool_t *pool, const char *s, size_t len, bool *matched)
{
    pcre2_match_data *md = match_data(r, pool);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    struct pool_buf o = {h2o_mem_alloc_pool(pool, len + 65), 0, len + 65, pool};
    size_t last_end = 0, pos = 0;
    *matched = false;
    while (pos <= len) {
        if (run(r, md, s, len, pos) < 0)
            break;
        *matched = true;
        size_t b = ov[0], e = ov[1];
        pool_buf_put(&o, s + last_end, b - last_end);
        /* Go: no replacement for an empty match right after a match */
        if (e > last_end || b == 0)
            expand(r, s, ov, &o);
        last_end = e;
        size_t w = pos < len ? char_width(s + pos, len - pos) : 1;
        pos = pos + w > e ? pos + w : e;
    }
    if (!*matched)
        return h2o_iovec_init(s, len);
    pool_buf_put(&o, s + last_end, len - last_end);
    o.p[o.len] = '\0';
    return h2o_iovec_init(o.p, o.len);
}
