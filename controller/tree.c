/*
 * Generic configuration tree (see tree.h): construction, dotted-path
 * insertion for flags and labels, and scalar conversions with errors that
 * name where the value came from.
 */
#include "tree.h"

#include "../common/config_value.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct tree_node *tree_new_node(struct arena *a, enum tree_kind kind, const char *file, uint32_t line, uint32_t col)
{
    struct tree_node *n = arena_alloc(a, sizeof(*n));
    n->kind = kind;
    n->file = file;
    n->line = line;
    n->col = col;
    return n;
}

static void grow(struct arena *a, struct tree_node *n)
{
    if (n->n < n->cap)
        return;
    size_t cap = n->cap ? n->cap * 2 : 4;
    struct tree_node **items = arena_alloc(a, cap * sizeof(*items));
    if (n->n)
        memcpy(items, n->items, n->n * sizeof(*items));
    n->items = items;
    if (n->kind == TREE_MAP) {
        const char **keys = arena_alloc(a, cap * sizeof(*keys));
        if (n->n)
            memcpy(keys, n->keys, n->n * sizeof(*keys));
        n->keys = keys;
    }
    n->cap = cap;
}

void tree_map_add(struct arena *a, struct tree_node *map, const char *key, struct tree_node *value)
{
    grow(a, map);
    map->keys[map->n] = key;
    map->items[map->n++] = value;
}

void tree_seq_add(struct arena *a, struct tree_node *seq, struct tree_node *value)
{
    grow(a, seq);
    seq->items[seq->n++] = value;
}

struct tree_node *tree_map_get(const struct tree_node *map, const char *key)
{
    if (map == NULL || map->kind != TREE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

struct tree_node *tree_map_get_ci(const struct tree_node *map, const char *key)
{
    if (map == NULL || map->kind != TREE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcasecmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

void tree_map_remove_ci(struct tree_node *map, const char *key)
{
    if (map == NULL || map->kind != TREE_MAP)
        return;
    size_t j = 0;
    for (size_t i = 0; i < map->n; i++) {
        if (strcasecmp(map->keys[i], key) == 0)
            continue;
        map->keys[j] = map->keys[i];
        map->items[j++] = map->items[i];
    }
    map->n = j;
}

const char *tree_where(const struct tree_node *n, char *buf, size_t len)
{
    if (n == NULL || n->file == NULL)
        snprintf(buf, len, "<unknown>");
    else if (n->line == 0)
        snprintf(buf, len, "%s", n->file);
    else
        snprintf(buf, len, "%s:%u:%u", n->file, n->line, n->col);
    return buf;
}

/* One path segment: a name and an optional [index]. */
struct segment {
    const char *name;
    size_t name_len;
    long index; /* -1 when absent */
};

static int next_segment(const char **p, struct segment *seg, const char *path, struct diag *d)
{
    const char *s = *p;
    seg->name = s;
    while (*s != '\0' && *s != '.' && *s != '[')
        s++;
    seg->name_len = (size_t)(s - seg->name);
    seg->index = -1;
    if (seg->name_len == 0)
        return diag_set(d, "%s: empty segment in key", path);
    if (*s == '[') {
        char *end;
        errno = 0;
        long idx = strtol(s + 1, &end, 10);
        if (end == s + 1 || *end != ']' || errno != 0 || idx < 0 || idx > 1000)
            return diag_set(d, "%s: invalid index after '%.*s' (expected [0..1000])", path, (int)seg->name_len, seg->name);
        seg->index = idx;
        s = end + 1;
    }
    if (*s == '.') {
        s++;
        if (*s == '\0')
            return diag_set(d, "%s: key ends with '.'", path);
    } else if (*s != '\0') {
        return diag_set(d, "%s: unexpected '%c' after index", path, *s);
    }
    *p = s;
    return 0;
}

/* A bare "key=true" followed by "key.sub=..." enables the struct: the
 * scalar becomes an empty map (Traefik's tls=true then tls.options=x). */
static int as_map(struct arena *a, struct tree_node *n, const char *path, struct diag *d)
{
    if (n->kind == TREE_MAP)
        return 0;
    if (n->kind == TREE_NULL || (n->kind == TREE_SCALAR && strcasecmp(n->scalar, "true") == 0)) {
        n->kind = TREE_MAP;
        n->scalar = NULL;
        return 0;
    }
    return diag_set(d, "%s: cannot set a sub-key of a value that is already set to '%s'", path,
                    n->kind == TREE_SCALAR ? n->scalar : "a list");
}

int tree_set_path(struct arena *a, struct tree_node *root, const char *path, const char *value, const char *origin,
                  struct diag *d)
{
    const char *p = path;
    struct tree_node *cur = root;
    const char *file = arena_strdup(a, origin);
    while (*p != '\0') {
        struct segment seg;
        if (next_segment(&p, &seg, path, d) != 0)
            return -1;
        bool last = *p == '\0';
        if (as_map(a, cur, path, d) != 0)
            return -1;
        struct tree_node *child = NULL;
        for (size_t i = 0; i < cur->n; i++) {
            if (strncasecmp(cur->keys[i], seg.name, seg.name_len) == 0 && cur->keys[i][seg.name_len] == '\0') {
                child = cur->items[i];
                break;
            }
        }
        enum tree_kind want = seg.index >= 0 ? TREE_SEQ : (last ? TREE_SCALAR : TREE_MAP);
        if (child == NULL) {
            child = tree_new_node(a, want, file, 0, 0);
            tree_map_add(a, cur, arena_strndup(a, seg.name, seg.name_len), child);
        }
        if (seg.index >= 0) {
            if (child->kind != TREE_SEQ)
                return diag_set(d, "%s: '%.*s' is used both as a list and as a value", path, (int)seg.name_len, seg.name);
            while (child->n <= (size_t)seg.index)
                tree_seq_add(a, child, tree_new_node(a, TREE_NULL, file, 0, 0));
            child = child->items[seg.index];
        }
        if (last) {
            if (child->kind == TREE_MAP && strcasecmp(value, "true") == 0)
                return 0; /* already enabled by its sub-keys */
            if (child->kind == TREE_MAP || child->kind == TREE_SEQ)
                return diag_set(d, "%s: a value is set where sub-keys are already defined", path);
            child->kind = TREE_SCALAR;
            child->scalar = arena_strdup(a, value);
            child->file = file;
            return 0;
        }
        cur = child;
    }
    return diag_set(d, "empty key");
}

int tree_to_bool(const struct tree_node *n, bool *out, struct diag *d)
{
    char w[256];
    if (n->kind == TREE_SCALAR && config_parse_bool(n->scalar, out) == 0)
        return 0;
    if (n->kind == TREE_MAP) { /* "tls: {}" enables */
        *out = true;
        return 0;
    }
    return diag_set(d, "%s: expected true or false, got '%s'", tree_where(n, w, sizeof(w)),
                    n->kind == TREE_SCALAR ? n->scalar : "a structure");
}

int tree_to_int64(const struct tree_node *n, int64_t min, int64_t max, int64_t *out, struct diag *d)
{
    char w[256];
    if (n->kind != TREE_SCALAR)
        return diag_set(d, "%s: expected a number, got a structure", tree_where(n, w, sizeof(w)));
    char *end;
    errno = 0;
    long long v = strtoll(n->scalar, &end, 10);
    if (end == n->scalar || *end != '\0' || errno != 0)
        return diag_set(d, "%s: expected an integer, got '%s'", tree_where(n, w, sizeof(w)), n->scalar);
    if (v < min || v > max)
        return diag_set(d, "%s: %lld is out of range [%lld, %lld]", tree_where(n, w, sizeof(w)), v, (long long)min,
                        (long long)max);
    *out = v;
    return 0;
}

int tree_to_duration_ms(const struct tree_node *n, uint64_t *out, struct diag *d)
{
    char w[256];
    if (n->kind != TREE_SCALAR || config_parse_duration_ms(n->scalar, out) != 0)
        return diag_set(d, "%s: expected a duration such as 10s or 250ms, got '%s'", tree_where(n, w, sizeof(w)),
                        n->kind == TREE_SCALAR ? n->scalar : "a structure");
    return 0;
}
