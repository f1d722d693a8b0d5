/*
 * libyaml -> configuration tree, keeping line:column of every node so that
 * a wrong value in a 500-line file is reported where it is.
 *
 * Aliases are expanded; the expansion is capped (node count and depth) so a
 * "billion laughs" document fails cleanly instead of eating the heap.
 */
#include "tree_yaml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "../common/buf.h"

#define YAML_MAX_NODES 2000000
#define YAML_MAX_DEPTH 64

struct convert {
    struct arena *arena;
    yaml_document_t *doc;
    const char *file;
    size_t count;
    struct diag *d;
};

static struct tree_node *convert_node(struct convert *c, yaml_node_t *yn, int depth)
{
    uint32_t line = (uint32_t)yn->start_mark.line + 1, col = (uint32_t)yn->start_mark.column + 1;
    if (++c->count > YAML_MAX_NODES) {
        diag_set(c->d, "%s:%u:%u: document expands to more than %d nodes (alias loop?)", c->file, line, col, YAML_MAX_NODES);
        return NULL;
    }
    if (depth > YAML_MAX_DEPTH) {
        diag_set(c->d, "%s:%u:%u: nesting deeper than %d levels", c->file, line, col, YAML_MAX_DEPTH);
        return NULL;
    }
    switch (yn->type) {
    case YAML_SCALAR_NODE: {
        struct tree_node *n;
        const char *v = (const char *)yn->data.scalar.value;
        size_t len = yn->data.scalar.length;
        bool plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (plain && (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
                      strcmp(v, "NULL") == 0)) {
            n = tree_new_node(c->arena, TREE_NULL, c->file, line, col);
        } else {
            n = tree_new_node(c->arena, TREE_SCALAR, c->file, line, col);
            n->scalar = arena_strndup(c->arena, v, len);
        }
        return n;
    }
    case YAML_SEQUENCE_NODE: {
        struct tree_node *n = tree_new_node(c->arena, TREE_SEQ, c->file, line, col);
        for (yaml_node_item_t *it = yn->data.sequence.items.start; it < yn->data.sequence.items.top; it++) {
            struct tree_node *child = convert_node(c, yaml_document_get_node(c->doc, *it), depth + 1);
            if (child == NULL)
                return NULL;
            tree_seq_add(c->arena, n, child);
        }
        return n;
    }
    case YAML_MAPPING_NODE: {
        struct tree_node *n = tree_new_node(c->arena, TREE_MAP, c->file, line, col);
        for (yaml_node_pair_t *p = yn->data.mapping.pairs.start; p < yn->data.mapping.pairs.top; p++) {
            yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
            uint32_t kl = (uint32_t)kn->start_mark.line + 1, kc = (uint32_t)kn->start_mark.column + 1;
            if (kn->type != YAML_SCALAR_NODE) {
                diag_set(c->d, "%s:%u:%u: a mapping key must be a plain string", c->file, kl, kc);
                return NULL;
            }
            const char *key = arena_strndup(c->arena, (const char *)kn->data.scalar.value, kn->data.scalar.length);
            if (tree_map_get(n, key) != NULL) {
                diag_set(c->d, "%s:%u:%u: key '%s' is defined twice in the same mapping", c->file, kl, kc, key);
                return NULL;
            }
            struct tree_node *child = convert_node(c, yaml_document_get_node(c->doc, p->value), depth + 1);
            if (child == NULL)
                return NULL;
            tree_map_add(c->arena, n, key, child);
        }
        return n;
    }
    default:
        diag_set(c->d, "%s:%u:%u: unsupported YAML node", c->file, line, col);
        return NULL;
    }
}

struct tree_node *tree_yaml_parse(struct arena *a, const char *file, const char *text, size_t len, struct diag *d)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    struct tree_node *root = NULL;
    const char *fname = arena_strdup(a, file);

    if (!yaml_parser_initialize(&parser)) {
        diag_set(d, "%s: cannot initialise the YAML parser", file);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        const char *ctx = parser.context ? parser.context : "";
        diag_set(d, "%s:%zu:%zu: %s%s%s", file, parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "invalid YAML", *ctx ? " " : "", ctx);
        yaml_parser_delete(&parser);
        return NULL;
    }
    yaml_node_t *top = yaml_document_get_root_node(&doc);
    if (top == NULL) {
        root = tree_new_node(a, TREE_MAP, fname, 1, 1); /* empty file: empty configuration */
    } else {
        struct convert c = {.arena = a, .doc = &doc, .file = fname, .d = d};
        root = convert_node(&c, top, 0);
        if (root != NULL && root->kind == TREE_NULL) {
            root->kind = TREE_MAP;
        } else if (root != NULL && root->kind != TREE_MAP) {
            diag_set(d, "%s:%u:%u: the top level must be a mapping of keys", file, root->line, root->col);
            root = NULL;
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return root;
}

char *read_file(const char *path, size_t max, size_t *len_out, struct diag *d)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        diag_set(d, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct buf b;
    buf_init(&b, max);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (buf_append(&b, chunk, n) != 0) {
            diag_set(d, "%s: file is larger than %zu bytes", path, max);
            buf_free(&b);
            fclose(f);
            return NULL;
        }
    }
    if (ferror(f)) {
        diag_set(d, "%s: read error: %s", path, strerror(errno));
        buf_free(&b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    return buf_take(&b, len_out);
}
