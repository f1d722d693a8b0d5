/*
 * Unit-test helper shared by the middleware resolution tests: a model
 * middleware with one option, added to the model's list.
 */
#ifndef GANTRY_TEST_MODEL_MIDDLEWARE_FIXTURE_H
#define GANTRY_TEST_MODEL_MIDDLEWARE_FIXTURE_H

#include "../../../controller/model.h"

static inline struct model_middleware *mw(struct model *m, const char *name, const char *type, const char *key,
                                          const char *value)
{
    struct model_middleware *x = arena_alloc(&m->arena, sizeof(*x));
    *x = (struct model_middleware){.name = name, .type = type, .n_options = 1};
    x->keys = arena_alloc(&m->arena, sizeof(char *));
    x->values = arena_alloc(&m->arena, sizeof(char *));
    x->keys[0] = key;
    x->values[0] = value;
    ptr_vec_push(&m->arena, &m->middlewares, x);
    return x;
}

#endif
