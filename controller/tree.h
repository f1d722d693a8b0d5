/*
 * A generic configuration tree: maps, sequences and scalars, each node
 * remembering where it came from (file:line:col, or a label/flag key).
 *
 * Every configuration source lands here first: YAML files (tree_yaml.c),
 * command-line flags and Docker labels (dotted keys, tree_set_path). The
 * decoders (static_config.c, model_decode.c, both through tree_decode.c)
 * then read typed structs from the tree, so the three sources share one notion of keys and errors.
 *
 * Map keys are stored verbatim (router names are case-sensitive); decoders
 * match field names case-insensitively, as Traefik does.
 */
#ifndef GANTRY_TREE_H
#define GANTRY_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/arena.h"
#include "../common/diag.h"

enum tree_kind { TREE_NULL, TREE_SCALAR, TREE_MAP, TREE_SEQ };

struct tree_node {
    enum tree_kind kind;
    const char *scalar;     /* TREE_SCALAR */
    const char **keys;      /* TREE_MAP: keys[i] names items[i] */
    struct tree_node **items; /* TREE_MAP and TREE_SEQ */
    size_t n, cap;
    /* Where the node was defined: <file>:<line>:<col>, or <file> holds a
     * label or flag key and line is 0. */
    const char *file;
    uint32_t line, col;
};

struct tree_node *tree_new_node(struct arena *a, enum tree_kind kind, const char *file, uint32_t line, uint32_t col);
void tree_map_add(struct arena *a, struct tree_node *map, const char *key, struct tree_node *value);
void tree_seq_add(struct arena *a, struct tree_node *seq, struct tree_node *value);

/* Exact-key lookup in a map; NULL when absent or <map> is not a map. */
struct tree_node *tree_map_get(const struct tree_node *map, const char *key);
/* Case-insensitive lookup of a field name. */
struct tree_node *tree_map_get_ci(const struct tree_node *map, const char *key);
/* Removes every entry whose key matches <key> case-insensitively. */
void tree_map_remove_ci(struct tree_node *map, const char *key);

/*
 * Sets <path> (dot-separated, "a.b[2].c") to the scalar <value> under <root>
 * (a map), creating maps and sequences on the way. Path segments match
 * existing keys case-insensitively so that "loadBalancer" and "loadbalancer"
 * from two labels land in one node. <origin> names the label or flag for
 * error messages. Fails when the path is malformed or crosses a scalar.
 */
int tree_set_path(struct arena *a, struct tree_node *root, const char *path, const char *value, const char *origin,
                  struct diag *d) WARN_UNUSED;

/* "file:line:col" or the label key, into <buf>. */
const char *tree_where(const struct tree_node *n, char *buf, size_t len);

/* Scalar conversions; each fails with a message naming the node. */
int tree_to_bool(const struct tree_node *n, bool *out, struct diag *d) WARN_UNUSED;
int tree_to_int64(const struct tree_node *n, int64_t min, int64_t max, int64_t *out, struct diag *d) WARN_UNUSED;
/* Booleans and durations as Traefik (common/config_value.h): "10s",
 * "100ms", "1m30s", "2h", or a bare integer of seconds. */
int tree_to_duration_ms(const struct tree_node *n, uint64_t *out, struct diag *d) WARN_UNUSED;

#endif
