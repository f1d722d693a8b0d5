/*
 * One-child wrapper services (see k8s_wrap.h).
 */
#include "k8s_wrap.h"

static void add(struct arena *pa, struct tree_node *map, const char *key, struct tree_node *v)
{
    tree_map_add(pa, map, arena_strdup(pa, key), v);
}

static void add_str(struct arena *pa, struct tree_node *map, const char *key, const char *value)
{
    struct tree_node *n = tree_new_node(pa, TREE_SCALAR, map->file, 0, 0);
    n->scalar = arena_strdup(pa, value);
    add(pa, map, key, n);
}

struct tree_node *k8s_wrap_service(struct arena *pa, const char *where, const char *child, struct tree_node *middlewares)
{
    struct tree_node *entry = tree_new_node(pa, TREE_MAP, where, 0, 0), *list = tree_new_node(pa, TREE_SEQ, where, 0, 0);
    struct tree_node *weighted = tree_new_node(pa, TREE_MAP, where, 0, 0), *svc = tree_new_node(pa, TREE_MAP, where, 0, 0);
    add_str(pa, entry, "name", child);
    add_str(pa, entry, "weight", "1");
    tree_seq_add(pa, list, entry);
    add(pa, weighted, "services", list);
    add(pa, svc, "weighted", weighted);
    add(pa, svc, "middlewares", middlewares);
    return svc;
}
