/*
 * Logging problems once (see problem_log.h).
 */
#include "problem_log.h"

#include <stdbool.h>
#include <string.h>

#include "../common/log.h"

void problem_log_init(struct problem_log *pl)
{
    arena_init(&pl->arena);
    pl->last = (struct ptr_vec){0};
}

void problem_log_free(struct problem_log *pl)
{
    arena_free(&pl->arena);
    pl->last = (struct ptr_vec){0};
}

static bool contains(const struct ptr_vec *v, const char *s)
{
    for (size_t i = 0; i < v->len; i++)
        if (strcmp(v->items[i], s) == 0)
            return true;
    return false;
}

void problem_log_update(struct problem_log *pl, const char *provider, const struct ptr_vec *problems, struct model *m)
{
    bool same = problems->len == pl->last.len;
    for (size_t i = 0; same && i < problems->len; i++)
        same = strcmp(problems->items[i], pl->last.items[i]) == 0;
    if (!same) {
        for (size_t i = 0; i < problems->len; i++)
            if (!contains(&pl->last, problems->items[i]))
                log_error("%s provider: %s", provider, (const char *)problems->items[i]);
        problem_log_free(pl);
        problem_log_init(pl);
        for (size_t i = 0; i < problems->len; i++)
            ptr_vec_push(&pl->arena, &pl->last, arena_strdup(&pl->arena, problems->items[i]));
    }
    for (size_t i = 0; i < problems->len; i++)
        ptr_vec_push(&m->arena, &m->problems, arena_strdup(&m->arena, problems->items[i]));
}
