/*
 * Middleware option accessors (see middleware.h). Keys are compared without
 * case because Docker labels and Kubernetes annotations arrive lowercased
 * while files keep Traefik's camelCase; every accessor marks what it read so
 * that an option nobody knows refuses the middleware instead of being
 * silently ignored (fail closed).
 */
#include "middleware.h"

#include "../../common/config_value.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *find(struct mw_options *o, const char *key)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcasecmp(o->keys[i], key) == 0) {
            if (o->used)
                o->used[i] = true;
            return o->values[i];
        }
    return NULL;
}

const char *mw_opt_string(struct mw_options *o, const char *key)
{
    return find(o, key);
}

/* "<key>[<i>]": the index, or -1 when <k> is not an item of <key>. */
static long item_index(const char *k, const char *key, size_t klen)
{
    if (strncasecmp(k, key, klen) != 0 || k[klen] != '[')
        return -1;
    char *end;
    long i = strtol(k + klen + 1, &end, 10);
    return end[0] == ']' && end[1] == '\0' && i >= 0 ? i : -1;
}

const char **mw_opt_list(struct arena *a, struct mw_options *o, const char *key, size_t *n)
{
    const char *v = find(o, key);
    *n = 0;
    if (v == NULL) { /* a YAML list: one key per item, "key[0]", "key[1]"... */
        size_t klen = strlen(key), count = 0;
        for (size_t i = 0; i < o->n; i++)
            count += item_index(o->keys[i], key, klen) >= 0;
        if (count == 0)
            return NULL;
        const char **out = arena_alloc(a, count * sizeof(*out));
        for (size_t i = 0; i < o->n; i++) {
            long idx = item_index(o->keys[i], key, klen);
            if (idx < 0 || (size_t)idx >= count)
                continue;
            if (o->used)
                o->used[i] = true;
            out[idx] = o->values[i];
        }
        for (size_t i = 0; i < count; i++) /* drop holes and empty items */
            if (out[i] != NULL && *out[i] != '\0')
                out[(*n)++] = out[i];
        return out;
    }
    const char **out; /* "a, b": items trimmed, as everywhere else */
    *n = config_split_list(a, v, &out);
    return out;
}

int mw_opt_bool(struct mw_options *o, const char *key, bool def, bool *out, struct diag *d)
{
    const char *v = find(o, key);
    *out = def;
    if (v == NULL || *v == '\0')
        return 0;
    if (config_parse_bool(v, out) != 0)
        return diag_set(d, "%s: '%s' is not a boolean (true or false)", key, v);
    return 0;
}

int mw_opt_int(struct mw_options *o, const char *key, int64_t def, int64_t min, int64_t max, int64_t *out, struct diag *d)
{
    const char *v = find(o, key);
    *out = def;
    if (v == NULL || *v == '\0')
        return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < min || x > max)
        return diag_set(d, "%s: '%s' is not a whole number between %lld and %lld", key, v, (long long)min, (long long)max);
    *out = x;
    return 0;
}

int mw_opt_duration_ms(struct mw_options *o, const char *key, uint64_t def, uint64_t *out, struct diag *d)
{
    const char *v = find(o, key);
    *out = def;
    if (v == NULL || *v == '\0')
        return 0;
    if (config_parse_duration_ms(v, out) != 0)
        return diag_set(d, "%s: '%s' is not a duration (e.g. 10s, 1m30s, 250ms)", key, v);
    return 0;
}

size_t mw_opt_map(struct arena *a, struct mw_options *o, const char *prefix, const char ***keys, const char ***values)
{
    size_t plen = strlen(prefix), n = 0;
    for (size_t i = 0; i < o->n; i++)
        n += strncasecmp(o->keys[i], prefix, plen) == 0 && o->keys[i][plen] == '.';
    *keys = arena_alloc(a, (n ? n : 1) * sizeof(**keys));
    *values = arena_alloc(a, (n ? n : 1) * sizeof(**values));
    n = 0;
    for (size_t i = 0; i < o->n; i++) {
        if (strncasecmp(o->keys[i], prefix, plen) != 0 || o->keys[i][plen] != '.')
            continue;
        if (o->used)
            o->used[i] = true;
        (*keys)[n] = o->keys[i] + plen + 1;
        (*values)[n] = o->values[i];
        n++;
    }
    return n;
}

bool mw_opt_has(const struct mw_options *o, const char *key)
{
    size_t len = strlen(key);
    for (size_t i = 0; i < o->n; i++)
        if (strncasecmp(o->keys[i], key, len) == 0 &&
            (o->keys[i][len] == '\0' || o->keys[i][len] == '.' || o->keys[i][len] == '['))
            return true;
    return false;
}

int mw_options_check(const struct mw_options *o, struct diag *d)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->used && !o->used[i] && o->keys[i][0] != '\0') { /* "" : an empty section, "stripPrefix: {}" */
            const char *k = o->keys[i], *br = strrchr(k, '[');
            int len = br != NULL && br[strlen(br) - 1] == ']' ? (int)(br - k) : (int)strlen(k); /* a list: name it */
            return diag_set(d, "unknown option '%.*s'", len, k);
        }
    return 0;
}
