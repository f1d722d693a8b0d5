/*
 * The shared tree decoder (see tree_decode.h): field tables, the scalar
 * conversions of tree.c wrapped into messages that carry the context, and
 * the list and map shapes both configurations use.
 */
#include "tree_decode.h"

#include "../common/config_value.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void emit(struct tree_decoder *td, bool is_error, const struct tree_node *at, const char *fmt, va_list ap)
{
    char where[512], msg[1024], full[2048];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    const char *ctx = td->context != NULL && *td->context ? td->context : NULL;
    snprintf(full, sizeof(full), "%s%s%s%s%s", at ? tree_where(at, where, sizeof(where)) : "", at ? ": " : "", ctx ? ctx : "",
             ctx ? ": " : "", msg);
    td->report(td, is_error, full);
}

int tree_decode_fail(struct tree_decoder *td, const struct tree_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(td, true, at, fmt, ap);
    va_end(ap);
    return -1;
}

void tree_decode_warn(struct tree_decoder *td, const struct tree_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(td, false, at, fmt, ap);
    va_end(ap);
}

/* A conversion's message already names the node; the context goes last. */
static int conversion_failed(struct tree_decoder *td, const struct diag *d)
{
    char full[2048];
    const char *ctx = td->context != NULL && *td->context ? td->context : NULL;
    snprintf(full, sizeof(full), ctx ? "%s (%s)" : "%s", d->msg, ctx);
    td->report(td, true, full);
    return -1;
}

static void unknown_key(struct tree_decoder *td, const struct tree_node *at, const char *key, bool known, const char *what)
{
    char where[512], msg[1024];
    const char *w = tree_where(at, where, sizeof(where));
    if (td->track_path) { /* the context already ends with the key */
        if (known)
            snprintf(msg, sizeof(msg), "%s: %s key '%s' is not supported by gantry yet (ignored)", w, td->kind, td->context);
        else
            snprintf(msg, sizeof(msg), "%s: unknown %s key '%s' (ignored)", w, td->kind, td->context);
        td->report(td, false, msg);
    } else if (known)
        tree_decode_warn(td, at, "key '%s' is not supported by gantry yet (ignored)", key);
    else
        tree_decode_warn(td, at, "unknown key '%s' in %s (ignored)", key, what);
}

int tree_decode_fields(struct tree_decoder *td, void *obj, const struct tree_node *n, const struct tree_field *fields,
                       const char *what)
{
    if (n->kind == TREE_NULL)
        return 0;
    if (n->kind != TREE_MAP)
        return what ? tree_decode_fail(td, n, "%s must be a mapping of keys", what)
                    : tree_decode_fail(td, n, "expected a mapping of keys");
    const char *saved = td->context;
    int rc = 0;
    for (size_t i = 0; i < n->n && (rc == 0 || td->keep_going); i++) {
        const struct tree_field *f = fields;
        while (f->name != NULL && strcasecmp(f->name, n->keys[i]) != 0)
            f++;
        if (td->track_path)
            td->context = saved && *saved ? arena_printf(td->arena, "%s.%s", saved, n->keys[i]) : n->keys[i];
        if (f->name == NULL || f->fn == NULL)
            unknown_key(td, n->items[i], n->keys[i], f->name != NULL, what);
        else if (f->fn(td, obj, n->items[i]) != 0)
            rc = -1;
        td->context = saved;
    }
    return rc;
}

int tree_decode_switch(struct tree_decoder *td, bool *enabled, void *obj, const struct tree_node *v,
                       const struct tree_field *fields, const char *what)
{
    if (v->kind == TREE_SCALAR)
        return tree_decode_bool(td, v, enabled);
    *enabled = true;
    return tree_decode_fields(td, obj, v, fields, what);
}

int tree_decode_string(struct tree_decoder *td, const struct tree_node *v, const char **out)
{
    if (v->kind == TREE_NULL) {
        *out = NULL;
        return 0;
    }
    if (v->kind != TREE_SCALAR)
        return tree_decode_fail(td, v, "expected a string value");
    *out = arena_strdup(td->arena, v->scalar);
    return 0;
}

int tree_decode_bool(struct tree_decoder *td, const struct tree_node *v, bool *out)
{
    struct diag d;
    return tree_to_bool(v, out, &d) == 0 ? 0 : conversion_failed(td, &d);
}

int tree_decode_int(struct tree_decoder *td, const struct tree_node *v, int64_t min, int64_t max, int64_t *out)
{
    struct diag d;
    return tree_to_int64(v, min, max, out, &d) == 0 ? 0 : conversion_failed(td, &d);
}

int tree_decode_duration(struct tree_decoder *td, const struct tree_node *v, uint64_t *out)
{
    struct diag d;
    return tree_to_duration_ms(v, out, &d) == 0 ? 0 : conversion_failed(td, &d);
}

int tree_decode_list(struct tree_decoder *td, const struct tree_node *v, const char ***out, size_t *n)
{
    if (v->kind == TREE_SCALAR) {
        *n = config_split_list(td->arena, v->scalar, out);
        return 0;
    }
    if (v->kind == TREE_NULL) {
        *out = NULL;
        *n = 0;
        return 0;
    }
    if (v->kind != TREE_SEQ)
        return tree_decode_fail(td, v, "expected a list of strings");
    const char **items = arena_alloc(td->arena, (v->n + 1) * sizeof(*items));
    for (size_t i = 0; i < v->n; i++) {
        if (v->items[i]->kind != TREE_SCALAR)
            return tree_decode_fail(td, v->items[i], "expected a list of strings");
        items[i] = arena_strdup(td->arena, v->items[i]->scalar);
    }
    *out = items;
    *n = v->n;
    return 0;
}

int tree_decode_string_map(struct tree_decoder *td, const struct tree_node *v, const char ***keys, const char ***values, size_t *n)
{
    *n = 0;
    if (v->kind == TREE_NULL)
        return 0;
    if (v->kind != TREE_MAP)
        return tree_decode_fail(td, v, "expected a mapping of names to values");
    *keys = arena_alloc(td->arena, (v->n + 1) * sizeof(char *));
    *values = arena_alloc(td->arena, (v->n + 1) * sizeof(char *));
    for (size_t i = 0; i < v->n; i++) {
        const char *val = NULL;
        if (tree_decode_string(td, v->items[i], &val) != 0)
            return -1;
        (*keys)[*n] = arena_strdup(td->arena, v->keys[i]);
        (*values)[(*n)++] = val ? val : "";
    }
    return 0;
}
