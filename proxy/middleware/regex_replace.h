/*
 * Go regular expressions for the path and redirect middlewares, on PCRE2.
 *
 * Traefik's users write Go (RE2) syntax. PCRE2 accepts all of it that
 * matters here, with these options making the two agree: UTF-8 subjects
 * (PCRE2_UTF, invalid UTF-8 never matches instead of failing the match),
 * and `$` meaning the end of the text as in Go (PCRE2_DOLLAR_ENDONLY; with
 * (?m) both mean the end of a line). PCRE2 also accepts what RE2 refuses
 * (backreferences, lookaround, possessive quantifiers): Gantry runs those.
 * Every match is bounded (match and depth limits) so that a pathological
 * pattern costs a bounded amount of work; a match that hits the limit
 * counts as no match.
 *
 * A replacement template is Go's Regexp.Expand syntax: $1, ${1}, $name,
 * ${name}, $$; "$1x" names the group "1x" (Go's rule, empty), an unknown
 * group expands to nothing, a "$" not followed by a name is kept. It is
 * parsed once at build into literal and group pieces, named groups
 * resolved to their numbers.
 *
 * Everything compiled lives in the table's arena (the PCRE2 code and match
 * context are released by arena_on_free); per-match scratch comes from the
 * request's pool. Compiled objects are read-only: any thread may match.
 */
#ifndef GANTRY_MW_REGEX_REPLACE_H
#define GANTRY_MW_REGEX_REPLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "../../common/arena.h"
#include "../../common/diag.h"

struct regex_replace_piece {
    const char *lit; /* literal text, or NULL for a group */
    size_t len;
    uint32_t group;
};

struct regex_replace {
    void *code; /* pcre2_code, JIT-compiled when the platform allows */
    void *mctx; /* pcre2_match_context holding the limits */
    uint32_t n_groups;
    struct regex_replace_piece *pieces; /* the template (regex_replace_template) */
    size_t n_pieces;
};

/* Compiles <pattern> (Go syntax, see above) into <r>. -1 with <d> naming
 * <option> when PCRE2 refuses it. Watcher thread. */
int regex_replace_compile(struct arena *a, const char *option, const char *pattern, struct regex_replace *r,
                          struct diag *d) WARN_UNUSED;
/* Parses the replacement <tmpl> (Go's Expand syntax) against r's groups. */
void regex_replace_template(struct arena *a, struct regex_replace *r, const char *tmpl);

/* strings.TrimSpace(<s>) (ASCII spaces), copied into <a>. */
const char *regex_replace_trim(struct arena *a, const char *s);

/* The leftmost match of r in s[from..len): true with m[0], m[1] its bounds.
 * False when there is none (or the match limit was hit). */
bool regex_replace_find(const struct regex_replace *r, h2o_mem_pool_t *pool, const char *s, size_t len, size_t from,
                        size_t m[2]);
/* Go's ReplaceAllString: every non-overlapping match of r in <s> replaced
 * by the template, in <pool>. *matched tells whether anything matched (the
 * result is then <s> itself when not). */
h2o_iovec_t regex_replace_all(const struct regex_replace *r, h2o_mem_pool_t *pool, const char *s, size_t len, bool *matched);

#endif
