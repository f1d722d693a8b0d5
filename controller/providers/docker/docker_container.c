/*
 * Docker Engine API documents -> typed structs (see docker_container.h).
 * Unknown and missing fields are tolerated (the API grows fields between
 * versions); wrong types for the fields we need are errors.
 */
#include "docker_container.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 10000
#define MAX_NETWORKS 256
#define MAX_PORTS 4096

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool flag(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const struct docker_kv *)a)->key, ((const struct docker_kv *)b)->key);
}

static int net_cmp(const void *a, const void *b)
{
    return strcmp(((const struct docker_network *)a)->name, ((const struct docker_network *)b)->name);
}

static int int_cmp(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static void parse_labels(struct docker_container *c, const cJSON *labels)
{
    if (!cJSON_IsObject(labels))
        return;
    size_t n = 0;
    const cJSON *l;
    cJSON_ArrayForEach(l, labels) n++;
    if (n > MAX_LABELS)
        n = MAX_LABELS;
    c->labels = arena_alloc(&c->arena, (n ? n : 1) * sizeof(*c->labels));
    cJSON_ArrayForEach(l, labels)
    {
        if (c->n_labels == n || l->string == NULL || !cJSON_IsString(l))
            continue;
        c->labels[c->n_labels].key = arena_strdup(&c->arena, l->string);
        c->labels[c->n_labels++].value = arena_strdup(&c->arena, l->valuestring);
    }
    if (c->n_labels > 1)
        qsort(c->labels, c->n_labels, sizeof(*c->labels), kv_cmp);
}

static void parse_networks(struct docker_container *c, const cJSON *nets)
{
    if (!cJSON_IsObject(nets))
        return;
    size_t count = (size_t)cJSON_GetArraySize(nets);
    if (count > MAX_NETWORKS)
        count = MAX_NETWORKS;
    /* as many as there are: a fixed-size array was 6 KiB a container */
    c->networks = arena_alloc(&c->arena, (count ? count : 1) * sizeof(*c->networks));
    const cJSON *n;
    cJSON_ArrayForEach(n, nets)
    {
        if (c->n_networks == count || n->string == NULL || !cJSON_IsObject(n))
            continue;
        struct docker_network *dn = &c->networks[c->n_networks++];
        dn->name = arena_strdup(&c->arena, n->string);
        const char *ip = str(n, "IPAddress"), *ip6 = str(n, "GlobalIPv6Address");
        dn->ip = ip && *ip ? arena_strdup(&c->arena, ip) : NULL;
        dn->ip6 = ip6 && *ip6 ? arena_strdup(&c->arena, ip6) : NULL;
    }
    if (c->n_networks > 1)
        qsort(c->networks, c->n_networks, sizeof(*c->networks), net_cmp);
}

static void parse_ports(struct docker_container *c, const cJSON *exposed)
{
    if (!cJSON_IsObject(exposed))
        return;
    size_t count = (size_t)cJSON_GetArraySize(exposed);
    if (count > MAX_PORTS)
        count = MAX_PORTS;
    c->exposed_ports = arena_alloc(&c->arena, (count ? count : 1) * sizeof(int)); /* was 16 KiB a container */
    const cJSON *p;
    cJSON_ArrayForEach(p, exposed)
    {
        if (c->n_exposed == count || p->string == NULL)
            continue;
        char *end;
        long port = strtol(p->string, &end, 10);
        if (end == p->string || port < 1 || port > 65535 || (strcmp(end, "/tcp") != 0 && *end != '\0'))
            continue; /* udp, sctp, or nonsense */
        c->exposed_ports[c->n_exposed++] = (int)port;
    }
    if (c->n_exposed > 1)
        qsort(c->exposed_ports, c->n_exposed, sizeof(int), int_cmp);
}

struct docker_container *docker_container_parse(const char *json, size_t len, struct diag *d)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (root == NULL) {
        diag_set(d, "container inspect: invalid JSON");
        return NULL;
    }
    const char *id = str(root, "Id"), *name = str(root, "Name");
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(root, "State");
    if (id == NULL || name == NULL || !cJSON_IsObject(state)) {
        cJSON_Delete(root);
        diag_set(d, "container inspect: missing Id, Name or State");
        return NULL;
    }
    struct docker_container *c = mem_calloc(1, sizeof(*c));
    arena_init(&c->arena);
    static uint64_t revisions; /* watcher thread (and tests) */
    c->revision = ++revisions;
    c->id = arena_strdup(&c->arena, id);
    c->name = arena_strdup(&c->arena, name[0] == '/' ? name + 1 : name);
    c->running = flag(state, "Running");
    c->paused = flag(state, "Paused");
    c->restarting = flag(state, "Restarting");
    const char *health = str(cJSON_GetObjectItemCaseSensitive(state, "Health"), "Status");
    c->health = health == NULL                     ? DOCKER_HEALTH_NONE
                : strcmp(health, "healthy") == 0   ? DOCKER_HEALTH_HEALTHY
                : strcmp(health, "unhealthy") == 0 ? DOCKER_HEALTH_UNHEALTHY
                                                   : DOCKER_HEALTH_STARTING;
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(root, "Config");
    parse_labels(c, cJSON_GetObjectItemCaseSensitive(config, "Labels"));
    parse_ports(c, cJSON_GetObjectItemCaseSensitive(config, "ExposedPorts"));
    const char *mode = str(cJSON_GetObjectItemCaseSensitive(root, "HostConfig"), "NetworkMode");
    c->network_mode = arena_strdup(&c->arena, mode ? mode : "");
    parse_networks(c, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "NetworkSettings"), "Networks"));
    cJSON_Delete(root);
    return c;
}

void docker_container_free(struct docker_container *c)
{
    if (c == NULL)
        return;
    arena_free(&c->arena);
    free(c);
}

const char *docker_label(const struct docker_container *c, const char *key)
{
    struct docker_kv k = {key, NULL};
    const struct docker_kv *hit = c->n_labels ? bsearch(&k, c->labels, c->n_labels, sizeof(k), kv_cmp) : NULL;
    return hit ? hit->value : NULL;
}

static void copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

int docker_event_parse(const char *json, size_t len, struct docker_event *ev, struct diag *d)
{
    memset(ev, 0, sizeof(*ev));
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (root == NULL)
        return diag_set(d, "event: invalid JSON");
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return diag_set(d, "event: not a JSON object");
    }
    const cJSON *actor = cJSON_GetObjectItemCaseSensitive(root, "Actor");
    const char *type = str(root, "Type"), *action = str(root, "Action"), *id = str(actor, "ID");
    if (id == NULL)
        id = str(root, "id");
    if (action == NULL)
        action = str(root, "status");
    if (action == NULL || id == NULL) {
        cJSON_Delete(root);
        return diag_set(d, "event: missing Action or Actor.ID");
    }
    copy_field(ev->type, sizeof(ev->type), type ? type : "container");
    copy_field(ev->action, sizeof(ev->action), action);
    char *colon = strchr(ev->action, ':'); /* "health_status: healthy", "exec_start: sh ..." */
    if (colon)
        *colon = '\0';
    copy_field(ev->id, sizeof(ev->id), id);
    const char *sig = str(cJSON_GetObjectItemCaseSensitive(actor, "Attributes"), "signal");
    long signo = sig ? strtol(sig, NULL, 10) : 0;
    ev->signal = signo > 0 && signo < 128 ? (int)signo : 0;
    const cJSON *tn = cJSON_GetObjectItemCaseSensitive(root, "timeNano");
    /* a double: out of range or NaN would be undefined as an integer */
    ev->time_nano = cJSON_IsNumber(tn) && tn->valuedouble >= 0 && tn->valuedouble < 9.2e18 ? (int64_t)tn->valuedouble : 0;
    cJSON_Delete(root);
    return 0;
}

int docker_list_parse(const char *json, size_t len, char ***ids, size_t *n, struct diag *d)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return diag_set(d, "container list: expected a JSON array");
    }
    size_t count = (size_t)cJSON_GetArraySize(root), k = 0;
    char **out = mem_calloc(count + 1, sizeof(char *));
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        const char *id = str(item, "Id");
        if (id != NULL)
            out[k++] = mem_strdup(id);
    }
    cJSON_Delete(root);
    *ids = out;
    *n = k;
    return 0;
}
