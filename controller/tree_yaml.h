/*
 * YAML text -> configuration tree (libyaml), with positions.
 */
#ifndef GANTRY_TREE_YAML_H
#define GANTRY_TREE_YAML_H

#include "tree.h"

/* Parses <text> (named <file> in errors) into a map node allocated in <a>.
 * An empty document is an empty map. NULL with <d> set on error. */
struct tree_node *tree_yaml_parse(struct arena *a, const char *file, const char *text, size_t len, struct diag *d);

/* Reads a whole file of at most <max> bytes; the caller frees the result. */
char *read_file(const char *path, size_t max, size_t *len_out, struct diag *d);

#endif
