/*
 * The buffering middleware's retryExpression (Traefik, after vulcand/oxy's
 * buffer): a predicate over the last attempt, written in Go's expression
 * syntax, e.g. `IsNetworkError() && Attempts() < 2`.
 *
 *   expr    := and ('||' and)*
 *   and     := term ('&&' term)*
 *   term    := '(' expr ')' | 'IsNetworkError()' | value op literal
 *   value   := 'Attempts()' | 'ResponseCode()' (ints) | 'RequestMethod()' (a string)
 *   op      := '==' '!=' '<' '>' '<=' '>=' (strings: == and != only)
 *
 * IsNetworkError() is "the answer was 502 or 504" (oxy's definition: the
 * proxy's own answer when no server could be reached, or a server's own
 * 502/504). Attempts() counts the attempts made, the one just evaluated
 * included (1 after the first). Anything else is refused at build time.
 */
#ifndef GANTRY_RETRY_EXPR_H
#define GANTRY_RETRY_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "../../common/arena.h"
#include "../../common/diag.h"

struct retry_expr;

struct retry_expr_ctx {
    const char *method;
    size_t method_len;
    int attempts;
    int response_code;
};

/* Watcher thread: compiles <text> into <a>; NULL with <d> set (naming the
 * offending position) when it is not a valid predicate. */
const struct retry_expr *retry_expr_parse(struct arena *a, const char *text, struct diag *d);
bool retry_expr_eval(const struct retry_expr *e, const struct retry_expr_ctx *c);

/* oxy: after this many attempts the expression is no longer asked. */
#define RETRY_EXPR_MAX_ATTEMPTS 10

#endif
