/*
 * retryExpression: a recursive-descent parser into a small tree, evaluated
 * once per attempt (see retry_expr.h for the grammar).
 */
#include "retry_expr.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 32  /* nested parentheses ... */
#define MAX_NODES 256 /* ... and terms: neither parsing nor evaluating can exhaust a stack */

enum node_kind { N_OR, N_AND, N_NETWORK_ERROR, N_INT_CMP, N_STR_CMP };
enum field { F_ATTEMPTS, F_RESPONSE_CODE, F_METHOD };
enum op { OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE };

struct retry_expr {
    enum node_kind kind;
    const struct retry_expr *left, *right; /* N_OR, N_AND */
    enum field field;                       /* comparisons */
    enum op op;
    long number;
    const char *text; /* N_STR_CMP */
    size_t text_len;
};

struct parser {
    struct arena *a;
    const char *src, *p;
    struct diag *d;
    int depth, nodes;
};

static void skip_space(struct parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

static bool take(struct parser *ps, const char *tok)
{
    skip_space(ps);
    size_t n = strlen(tok);
    if (strncmp(ps->p, tok, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static const struct retry_expr *fail(struct parser *ps, const char *what)
{
    if (*ps->p == '\0')
        diag_set(ps->d, "retryExpression: %s at offset %d (the end)", what, (int)(ps->p - ps->src));
    else
        diag_set(ps->d, "retryExpression: %s at offset %d (near \"%.20s\")", what, (int)(ps->p - ps->src), ps->p);
    return NULL;
}

static struct retry_expr *node(struct parser *ps, enum node_kind k)
{
    ps->nodes++;
    struct retry_expr *n = arena_alloc(ps->a, sizeof(*n));
    n->kind = k;
    return n;
}

/* A function call "Name()": its name into <name>, false when none is here. */
static bool call(struct parser *ps, char *name, size_t size)
{
    skip_space(ps);
    const char *s = ps->p;
    if (!isalpha((unsigned char)*s))
        return false;
    size_t n = 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '_')
        n++;
    const char *q = s + n;
    while (*q == ' ' || *q == '\t')
        q++;
    if (*q != '(')
        return false;
    q++;
    while (*q == ' ' || *q == '\t')
        q++;
    if (*q != ')')
        return false;
    snprintf(name, size, "%.*s", (int)n, s);
    ps->p = q + 1;
    return true;
}

static bool parse_op(struct parser *ps, enum op *op)
{
    static const struct {
        const char *tok;
        enum op op;
    } ops[] = {{"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE}, {"<", OP_LT}, {">", OP_GT}};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (take(ps, ops[i].tok)) {
            *op = ops[i].op;
            return true;
        }
    return false;
}

static bool parse_int(struct parser *ps, long *out)
{
    skip_space(ps);
    if (!isdigit((unsigned char)*ps->p))
        return false;
    long v = 0;
    while (isdigit((unsigned char)*ps->p)) {
        if (v > (INT_MAX - (*ps->p - '0')) / 10)
            return false;
        v = v * 10 + (*ps->p++ - '0');
    }
    *out = v;
    return true;
}

/* A Go string literal: "..." (escapes \" \\) or `...` (raw). */
static bool parse_string(struct parser *ps, const char **out, size_t *len)
{
    skip_space(ps);
    char quote = *ps->p;
    if (quote != '"' && quote != '`')
        return false;
    const char *s = ++ps->p;
    char *buf = arena_alloc(ps->a, strlen(s) + 1);
    size_t n = 0;
    for (; *ps->p != quote; ps->p++) {
        if (*ps->p == '\0' || (*ps->p == '\n' && quote == '"'))
            return false;
        if (*ps->p == '\\' && quote == '"') {
            ps->p++;
            if (*ps->p != '"' && *ps->p != '\\')
                return false;
        }
        buf[n++] = *ps->p;
    }
    ps->p++;
    *out = buf;
    *len = n;
    return true;
}

static const struct retry_expr *parse_or(struct parser *ps);

static const struct retry_expr *parse_term(struct parser *ps)
{
    if (take(ps, "(")) {
        if (++ps->depth > MAX_DEPTH)
            return fail(ps, "too deeply nested");
        const struct retry_expr *e = parse_or(ps);
        if (e == NULL)
            return NULL;
        if (!take(ps, ")"))
            return fail(ps, "expected ')'");
        ps->depth--;
        return e;
    }
    char name[32];
    if (!call(ps, name, sizeof(name)))
        return fail(ps, "expected IsNetworkError(), Attempts(), ResponseCode(), RequestMethod() or '('");
    if (strcmp(name, "IsNetworkError") == 0)
        return node(ps, N_NETWORK_ERROR);
    enum field f;
    if (strcmp(name, "Attempts") == 0)
        f = F_ATTEMPTS;
    else if (strcmp(name, "ResponseCode") == 0)
        f = F_RESPONSE_CODE;
    else if (strcmp(name, "RequestMethod") == 0)
        f = F_METHOD;
    else
        return fail(ps, "unknown function (IsNetworkError, Attempts, ResponseCode and RequestMethod exist)");
    enum op op;
    if (!parse_op(ps, &op))
        return fail(ps, "expected a comparison (==, !=, <, >, <=, >=) after the value");
    struct retry_expr *n = node(ps, f == F_METHOD ? N_STR_CMP : N_INT_CMP);
    n->field = f;
    n->op = op;
    if (f == F_METHOD) {
        if (op != OP_EQ && op != OP_NE)
            return fail(ps, "RequestMethod() compares with == or != only");
        if (!parse_string(ps, &n->text, &n->text_len))
            return fail(ps, "expected a string literal");
    } else if (!parse_int(ps, &n->number)) {
        return fail(ps, "expected an integer literal");
    }
    return n;
}

static const struct retry_expr *parse_and(struct parser *ps)
{
    const struct retry_expr *l = parse_term(ps);
    while (l != NULL && take(ps, "&&")) {
        if (ps->nodes > MAX_NODES)
            return fail(ps, "too many terms");
        const struct retry_expr *r = parse_term(ps);
        if (r == NULL)
            return NULL;
        struct retry_expr *n = node(ps, N_AND);
        n->left = l;
        n->right = r;
        l = n;
    }
    return l;
}

static const struct retry_expr *parse_or(struct parser *ps)
{
    const struct retry_expr *l = parse_and(ps);
    while (l != NULL && take(ps, "||")) {
        if (ps->nodes > MAX_NODES)
            return fail(ps, "too many terms");
        const struct retry_expr *r = parse_and(ps);
        if (r == NULL)
            return NULL;
        struct retry_expr *n = node(ps, N_OR);
        n->left = l;
        n->right = r;
        l = n;
    }
    return l;
}

const struct retry_expr *retry_expr_parse(struct arena *a, const char *text, struct diag *d)
{
    struct parser ps = {.a = a, .src = text, .p = text, .d = d};
    const struct retry_expr *e = parse_or(&ps);
    if (e == NULL)
        return NULL;
    skip_space(&ps);
    if (*ps.p != '\0')
        return fail(&ps, "unexpected text");
    return e;
}

static bool compare(long v, enum op op, long lit)
{
    switch (op) {
    case OP_EQ:
        return v == lit;
    case OP_NE:
        return v != lit;
    case OP_LT:
        return v < lit;
    case OP_GT:
        return v > lit;
    case OP_LE:
        return v <= lit;
    case OP_GE:
        return v >= lit;
    }
    return false;
}

bool retry_expr_eval(const struct retry_expr *e, const struct retry_expr_ctx *c)
{
    switch (e->kind) {
    case N_OR:
        return retry_expr_eval(e->left, c) || retry_expr_eval(e->right, c);
    case N_AND:
        return retry_expr_eval(e->left, c) && retry_expr_eval(e->right, c);
    case N_NETWORK_ERROR:
        return c->response_code == 502 || c->response_code == 504;
    case N_INT_CMP:
        return compare(e->field == F_ATTEMPTS ? c->attempts : c->response_code, e->op, e->number);
    case N_STR_CMP: {
        bool eq = c->method_len == e->text_len && memcmp(c->method, e->text, e->text_len) == 0;
        return e->op == OP_EQ ? eq : !eq;
    }
    }
    return false;
}
