/*
 * Rule parser: recursive descent over
 *
 *   or      := and ( "||" and )*
 *   and     := unary ( "&&" unary )*
 *   unary   := "!" unary | "(" or ")" | matcher
 *   matcher := Name "(" string ( "," string )* ")"
 *   string  := `raw` | "go-style \"escaped\""
 *
 * Errors name the 1-based column and what was expected there.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rule.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define RULE_MAX_DEPTH 64
#define RULE_MAX_ARGS 64

struct matcher_spec {
    const char *name;
    enum rule_matcher matcher;
    int min_args, max_args;
};

struct parser {
    struct arena *arena;
    const char *text, *p;
    int depth;
    struct diag *d;
    const struct matcher_spec *specs; /* the dialect: router rules or constraints */
    size_t n_specs;
    const char *expected; /* the matcher names, for messages */
};

static const struct matcher_spec matchers[] = {
    {"Host", RULE_HOST, 1, RULE_MAX_ARGS},
    {"HostRegexp", RULE_HOST_REGEXP, 1, RULE_MAX_ARGS},
    {"Path", RULE_PATH, 1, RULE_MAX_ARGS},
    {"PathPrefix", RULE_PATH_PREFIX, 1, RULE_MAX_ARGS},
    {"PathRegexp", RULE_PATH_REGEXP, 1, RULE_MAX_ARGS},
    {"Method", RULE_METHOD, 1, RULE_MAX_ARGS},
    {"Header", RULE_HEADER, 2, 2},
    {"HeaderRegexp", RULE_HEADER_REGEXP, 2, 2},
    {"Query", RULE_QUERY, 1, 2},
    {"QueryRegexp", RULE_QUERY_REGEXP, 2, 2},
    {"ClientIP", RULE_CLIENT_IP, 1, RULE_MAX_ARGS},
};

static const struct matcher_spec tcp_matchers[] = {
    {"HostSNI", RULE_HOST_SNI, 1, RULE_MAX_ARGS},
    {"HostSNIRegexp", RULE_HOST_SNI_REGEXP, 1, RULE_MAX_ARGS},
    {"ClientIP", RULE_CLIENT_IP, 1, RULE_MAX_ARGS},
};

static const struct matcher_spec constraint_matchers[] = {
    {"Label", RULE_LABEL, 2, 2},
    {"LabelRegex", RULE_LABEL_REGEXP, 2, 2},
};

int64_t rule_default_priority(const char *text)
{
    return (int64_t)strlen(text);
}

static int col(const struct parser *ps)
{
    return (int)(ps->p - ps->text) + 1;
}

static void skip_ws(struct parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

static const char *describe_here(const struct parser *ps, char *buf, size_t len)
{
    if (*ps->p == '\0')
        return "end of rule";
    snprintf(buf, len, "'%.*s'", (int)strcspn(ps->p, " \t()&|!,"), ps->p);
    if (buf[1] == '\'')
        snprintf(buf, len, "'%c'", *ps->p);
    return buf;
}

static int fail_expected(struct parser *ps, const char *what)
{
    char here[64];
    return diag_set(ps->d, "column %d: expected %s, found %s", col(ps), what, describe_here(ps, here, sizeof(here)));
}

/* Reads a backtick or double-quoted string into the arena. */
static int parse_string(struct parser *ps, struct rule_str *out)
{
    skip_ws(ps);
    char q = *ps->p;
    if (q == '\'')
        return diag_set(ps->d, "column %d: single quotes are not allowed; use `backticks` or \"double quotes\"", col(ps));
    if (q != '`' && q != '"')
        return fail_expected(ps, "a `quoted` value");
    int start_col = col(ps);
    ps->p++;
    size_t cap = strlen(ps->p) + 1, len = 0;
    char *buf = arena_alloc(ps->arena, cap);
    for (;;) {
        char c = *ps->p;
        if (c == '\0')
            return diag_set(ps->d, "column %d: unterminated string starting at column %d", col(ps), start_col);
        ps->p++;
        if (c == q)
            break;
        if (q == '"' && c == '\\') {
            char e = *ps->p++;
            switch (e) {
            case '"': case '\\': buf[len++] = e; break;
            case 'n': buf[len++] = '\n'; break;
            case 't': buf[len++] = '\t'; break;
            case 'r': buf[len++] = '\r'; break;
            default:
                ps->p--;
                return diag_set(ps->d, "column %d: unknown escape '\\%c' in string", col(ps), e ? e : '0');
            }
            continue;
        }
        buf[len++] = c;
    }
    buf[len] = '\0';
    out->s = buf;
    out->len = len;
    return 0;
}

static void free_regex(void *re)
{
    pcre2_code_free((pcre2_code *)re);
}

static void *compile_regex(struct parser *ps, const struct rule_str *pat, int arg_col, bool caseless)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat->s, pat->len, caseless ? PCRE2_CASELESS : 0, &err, &off, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof(msg));
        diag_set(ps->d, "column %d: invalid regular expression `%s`: %s at offset %zu", arg_col, pat->s, (char *)msg,
                 (size_t)off);
        return NULL;
    }
    /* JIT is an optimisation; if unavailable the interpreter is used. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    arena_on_free(ps->arena, free_regex, re);
    return re;
}

static int check_host(struct parser *ps, struct rule_str *h, int arg_col)
{
    if (h->len == 0)
        return diag_set(ps->d, "column %d: empty host name", arg_col);
    for (size_t i = 0; i < h->len; i++) {
        unsigned char c = (unsigned char)h->s[i];
        if (!(isalnum(c) || c == '-' || c == '.' || c == '_' || c == '*' || c == ':' || c == '[' || c == ']'))
            return diag_set(ps->d, "column %d: invalid character '%c' in host name `%s`", arg_col, c, h->s);
        if (c == '*' && !(i == 0 && (h->len == 1 || h->s[1] == '.')))
            return diag_set(ps->d, "column %d: '*' is only allowed as the first label of a host (`*.example.com`), got `%s`",
                            arg_col, h->s);
        ((char *)h->s)[i] = (char)tolower(c);
    }
    return 0;
}

static struct rule_node *parse_matcher(struct parser *ps)
{
    const char *name = ps->p;
    int name_col = col(ps);
    while (isalnum((unsigned char)*ps->p))
        ps->p++;
    size_t name_len = (size_t)(ps->p - name);
    if (name_len == 0) {
        fail_expected(ps, "a matcher such as Host(...), '!' or '('");
        return NULL;
    }
    const struct matcher_spec *spec = NULL;
    for (size_t i = 0; i < ps->n_specs; i++)
        if (strlen(ps->specs[i].name) == name_len && strncmp(ps->specs[i].name, name, name_len) == 0)
            spec = &ps->specs[i];
    if (spec == NULL) {
        const char *hint = "";
        for (size_t i = 0; i < ps->n_specs; i++)
            if (strlen(ps->specs[i].name) == name_len && strncasecmp(ps->specs[i].name, name, name_len) == 0)
                hint = ps->specs[i].name;
        if (name_len == 7 && strncmp(name, "HostSNI", 7) == 0)
            hint = "(HostSNI is for tcp routers)";
        diag_set(ps->d, "column %d: unknown matcher '%.*s'%s%s (expected %s)", name_col, (int)name_len, name,
                 *hint ? ", did you mean " : "", hint, ps->expected);
        return NULL;
    }
    skip_ws(ps);
    if (*ps->p != '(') {
        fail_expected(ps, "'(' after the matcher name");
        return NULL;
    }
    ps->p++;
    struct rule_str args[RULE_MAX_ARGS];
    int arg_cols[RULE_MAX_ARGS];
    size_t nargs = 0;
    for (;;) {
        skip_ws(ps);
        if (nargs == RULE_MAX_ARGS) {
            diag_set(ps->d, "column %d: too many arguments to %s (at most %d)", col(ps), spec->name, RULE_MAX_ARGS);
            return NULL;
        }
        arg_cols[nargs] = col(ps);
        if (parse_string(ps, &args[nargs]) != 0)
            return NULL;
        nargs++;
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == ')') {
            ps->p++;
            break;
        }
        fail_expected(ps, "',' or ')'");
        return NULL;
    }
    if ((int)nargs < spec->min_args || (int)nargs > spec->max_args) {
        if (spec->min_args == spec->max_args)
            diag_set(ps->d, "column %d: %s takes %d arguments, got %zu", name_col, spec->name, spec->min_args, nargs);
        else
            diag_set(ps->d, "column %d: %s takes %d to %d arguments, got %zu", name_col, spec->name, spec->min_args,
                     spec->max_args, nargs);
        return NULL;
    }

    struct rule_node *n = arena_alloc(ps->arena, sizeof(*n));
    n->op = RULE_MATCH;
    n->matcher = spec->matcher;
    n->nargs = nargs;
    n->args = arena_alloc(ps->arena, nargs * sizeof(*n->args));
    memcpy(n->args, args, nargs * sizeof(*args));

    switch (spec->matcher) {
    case RULE_HOST:
    case RULE_HOST_SNI:
        for (size_t i = 0; i < nargs; i++)
            if (check_host(ps, &n->args[i], arg_cols[i]) != 0)
                return NULL;
        break;
    case RULE_PATH:
    case RULE_PATH_PREFIX:
        for (size_t i = 0; i < nargs; i++)
            if (n->args[i].len == 0 || n->args[i].s[0] != '/') {
                diag_set(ps->d, "column %d: %s value must start with '/', got `%s`", arg_cols[i], spec->name, n->args[i].s);
                return NULL;
            }
        break;
    case RULE_HOST_REGEXP:
    case RULE_HOST_SNI_REGEXP:
    case RULE_PATH_REGEXP:
        n->regex = arena_alloc(ps->arena, nargs * sizeof(*n->regex));
        for (size_t i = 0; i < nargs; i++)
            if ((n->regex[i] = compile_regex(ps, &n->args[i], arg_cols[i], spec->matcher != RULE_PATH_REGEXP)) == NULL)
                return NULL;
        break;
    case RULE_HEADER:
    case RULE_HEADER_REGEXP:
    case RULE_QUERY:
    case RULE_QUERY_REGEXP:
        if (n->args[0].len == 0) {
            diag_set(ps->d, "column %d: %s needs a non-empty name", arg_cols[0], spec->name);
            return NULL;
        }
        if (spec->matcher == RULE_HEADER || spec->matcher == RULE_HEADER_REGEXP)
            for (size_t i = 0; i < n->args[0].len; i++)
                ((char *)n->args[0].s)[i] = (char)tolower((unsigned char)n->args[0].s[i]);
        if (spec->matcher == RULE_HEADER_REGEXP || spec->matcher == RULE_QUERY_REGEXP) {
            n->regex = arena_alloc(ps->arena, sizeof(*n->regex));
            if ((n->regex[0] = compile_regex(ps, &n->args[1], arg_cols[1], false)) == NULL)
                return NULL;
        }
        break;
    case RULE_METHOD:
        for (size_t i = 0; i < nargs; i++)
            for (size_t j = 0; j < n->args[i].len; j++)
                ((char *)n->args[i].s)[j] = (char)toupper((unsigned char)n->args[i].s[j]);
        break;
    case RULE_LABEL:
        break;
    case RULE_LABEL_REGEXP:
        n->regex = arena_alloc(ps->arena, sizeof(*n->regex));
        if ((n->regex[0] = compile_regex(ps, &n->args[1], arg_cols[1], false)) == NULL)
            return NULL;
        break;
    case RULE_CLIENT_IP:
        n->cidrs = arena_alloc(ps->arena, nargs * sizeof(*n->cidrs));
        n->ncidrs = nargs;
        for (size_t i = 0; i < nargs; i++)
            if (rule_parse_cidr(n->args[i].s, n->args[i].len, &n->cidrs[i]) != 0) {
                diag_set(ps->d, "column %d: ClientIP expects an IP address or CIDR, got `%s`", arg_cols[i], n->args[i].s);
                return NULL;
            }
        break;
    }
    return n;
}

static struct rule_node *parse_or(struct parser *ps);

static struct rule_node *parse_unary(struct parser *ps)
{
    skip_ws(ps);
    if (++ps->depth > RULE_MAX_DEPTH) {
        diag_set(ps->d, "column %d: rule nested deeper than %d levels", col(ps), RULE_MAX_DEPTH);
        return NULL;
    }
    struct rule_node *n;
    if (*ps->p == '!') {
        ps->p++;
        struct rule_node *inner = parse_unary(ps);
        if (inner == NULL)
            return NULL;
        n = arena_alloc(ps->arena, sizeof(*n));
        n->op = RULE_NOT;
        n->a = inner;
    } else if (*ps->p == '(') {
        int open_col = col(ps);
        ps->p++;
        if ((n = parse_or(ps)) == NULL)
            return NULL;
        skip_ws(ps);
        if (*ps->p != ')') {
            char what[64];
            snprintf(what, sizeof(what), "')' to close '(' at column %d", open_col);
            fail_expected(ps, what);
            return NULL;
        }
        ps->p++;
    } else {
        n = parse_matcher(ps);
    }
    ps->depth--;
    return n;
}

static struct rule_node *parse_binary(struct parser *ps, enum rule_op op)
{
    const char *tok = op == RULE_AND ? "&&" : "||";
    struct rule_node *left = op == RULE_AND ? parse_unary(ps) : parse_binary(ps, RULE_AND);
    if (left == NULL)
        return NULL;
    for (;;) {
        skip_ws(ps);
        if (strncmp(ps->p, tok, 2) != 0) {
            if (ps->p[0] == tok[0] && ps->p[1] != tok[0]) {
                diag_set(ps->d, "column %d: expected '%s', found a single '%c'", col(ps), tok, tok[0]);
                return NULL;
            }
            return left;
        }
        ps->p += 2;
        struct rule_node *right = op == RULE_AND ? parse_unary(ps) : parse_binary(ps, RULE_AND);
        if (right == NULL)
            return NULL;
        struct rule_node *n = arena_alloc(ps->arena, sizeof(*n));
        n->op = op;
        n->a = left;
        n->b = right;
        left = n;
    }
}

static struct rule_node *parse_or(struct parser *ps)
{
    return parse_binary(ps, RULE_OR);
}

static struct rule_node *parse_text(struct parser *ps);

struct rule_node *rule_parse(struct arena *a, const char *text, struct diag *d)
{
    struct parser ps = {.arena = a,
                        .text = text,
                        .p = text,
                        .d = d,
                        .specs = matchers,
                        .n_specs = sizeof(matchers) / sizeof(matchers[0]),
                        .expected = "Host, HostRegexp, Path, PathPrefix, PathRegexp, Method, Header, HeaderRegexp, Query, "
                                    "QueryRegexp or ClientIP"};
    return parse_text(&ps);
}

struct rule_node *rule_parse_tcp(struct arena *a, const char *text, struct diag *d)
{
    struct parser ps = {.arena = a,
                        .text = text,
                        .p = text,
                        .d = d,
                        .specs = tcp_matchers,
                        .n_specs = sizeof(tcp_matchers) / sizeof(tcp_matchers[0]),
                        .expected = "HostSNI, HostSNIRegexp or ClientIP"};
    return parse_text(&ps);
}

struct rule_node *rule_parse_constraint(struct arena *a, const char *text, struct diag *d)
{
    struct parser ps = {.arena = a,
                        .text = text,
                        .p = text,
                        .d = d,
                        .specs = constraint_matchers,
                        .n_specs = sizeof(constraint_matchers) / sizeof(constraint_matchers[0]),
                        .expected = "Label or LabelRegex"};
    return parse_text(&ps);
}

static struct rule_node *parse_text(struct parser *ps_)
{
    struct parser ps = *ps_;
    struct diag *d = ps.d;
    skip_ws(&ps);
    if (*ps.p == '\0') {
        diag_set(d, "column 1: empty rule");
        return NULL;
    }
    struct rule_node *n = parse_or(&ps);
    if (n == NULL)
        return NULL;
    skip_ws(&ps);
    if (*ps.p != '\0') {
        fail_expected(&ps, "'&&', '||' or the end of the rule");
        return NULL;
    }
    return n;
}

int rule_parse_cidr(const char *s, size_t len, struct rule_cidr *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash != NULL) {
        *slash = '\0';
        char *end;
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end != '\0')
            return -1;
    }
    memset(out, 0, sizeof(*out));
    struct in_addr v4;
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        if (bits > 32)
            return -1;
        out->addr[10] = out->addr[11] = 0xff;
        memcpy(out->addr + 12, &v4, 4);
        out->bits = (uint8_t)(96 + (bits < 0 ? 32 : bits));
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        if (bits > 128)
            return -1;
        out->bits = (uint8_t)(bits < 0 ? 128 : bits);
    } else {
        return -1;
    }
    /* clear host bits so contains() can compare masked bytes */
    for (int i = 0; i < 16; i++) {
        int keep = (int)out->bits - i * 8;
        if (keep <= 0)
            out->addr[i] = 0;
        else if (keep < 8)
            out->addr[i] &= (uint8_t)(0xff << (8 - keep));
    }
    return 0;
}

bool rule_cidr_contains(const struct rule_cidr *c, const uint8_t *addr16)
{
    int bits = c->bits;
    for (int i = 0; i < 16 && bits > 0; i++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
        if ((addr16[i] & mask) != c->addr[i])
            return false;
    }
    return true;
}
