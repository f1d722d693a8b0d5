/* Manifests -> cJSON objects (see k8s_manifests.h), with libyaml's
 * document loader. */
#include "k8s_manifests.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

static bool plain_number(const char *s)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!*p)
        return false;
    bool dot = false;
    for (; *p; p++) {
        if (*p == '.' && !dot)
            dot = true;
        else if (*p < '0' || *p > '9')
            return false;
    }
    return p[-1] != '.';
}

static cJSON *scalar(const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0)
            return cJSON_CreateTrue();
        if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0)
            return cJSON_CreateFalse();
        if (strcmp(v, "null") == 0 || strcmp(v, "~") == 0 || *v == '\0')
            return cJSON_CreateNull();
        if (plain_number(v))
            return cJSON_CreateNumber(strtod(v, NULL));
    }
    return cJSON_CreateString(v);
}

static cJSON *convert(yaml_document_t *doc, const yaml_node_t *n, int depth)
{
    if (n == NULL || depth > 64)
        return cJSON_CreateNull();
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return scalar(n);
    case YAML_SEQUENCE_NODE: {
        cJSON *a = cJSON_CreateArray();
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++)
            cJSON_AddItemToArray(a, convert(doc, yaml_document_get_node(doc, *i), depth + 1));
        return a;
    }
    case YAML_MAPPING_NODE: {
        cJSON *o = cJSON_CreateObject();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            const yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (k == NULL || k->type != YAML_SCALAR_NODE)
                continue;
            cJSON_AddItemToObject(o, (const char *)k->data.scalar.value,
                                  convert(doc, yaml_document_get_node(doc, p->value), depth + 1));
        }
        return o;
    }
    default:
        return cJSON_CreateNull();
    }
}

/* <obj> itself, or the items of a List; anything without a kind is skipped. */
static void add(cJSON *out, cJSON *obj)
{
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
    if (!cJSON_IsString(kind)) {
        cJSON_Delete(obj);
        return;
    }
    size_t kl = strlen(kind->valuestring);
    if (kl >= 4 && strcmp(kind->valuestring + kl - 4, "List") == 0) {
        cJSON *items = cJSON_DetachItemFromObjectCaseSensitive(obj, "items");
        const char *item_kind = kl > 4 ? kind->valuestring : NULL; /* IngressList: items lack a kind */
        for (cJSON *i = items ? items->child : NULL, *next; i; i = next) {
            next = i->next;
            cJSON_DetachItemViaPointer(items, i);
            if (item_kind && !cJSON_GetObjectItemCaseSensitive(i, "kind")) {
                char k[64];
                snprintf(k, sizeof(k), "%.*s", (int)(kl - 4), item_kind);
                cJSON_AddStringToObject(i, "kind", k);
            }
            add(out, i);
        }
        cJSON_Delete(items);
        cJSON_Delete(obj);
        return;
    }
    cJSON_AddItemToArray(out, obj);
}

int k8s_manifests_parse(const char *name, const char *text, size_t len, cJSON *out, struct diag *d)
{
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
        i++;
    if (i < len && (text[i] == '{' || text[i] == '[')) { /* JSON (also YAML, but cJSON keeps its types) */
        cJSON *root = cJSON_ParseWithLength(text, len);
        if (root == NULL)
            return diag_set(d, "%s: not valid JSON", name);
        if (cJSON_IsArray(root)) {
            for (cJSON *o = root->child, *next; o; o = next) {
                next = o->next;
                add(out, cJSON_DetachItemViaPointer(root, o));
            }
            cJSON_Delete(root);
        } else {
            add(out, root);
        }
        return 0;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            int rc = diag_set(d, "%s:%zu:%zu: %s", name, parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                              parser.problem ? parser.problem : "YAML syntax error");
            yaml_parser_delete(&parser);
            return rc;
        }
        const yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root == NULL) { /* the end of the stream */
            yaml_document_delete(&doc);
            break;
        }
        if (root->type == YAML_MAPPING_NODE)
            add(out, convert(&doc, root, 0));
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return 0;
}
