/*
 * How a Kubernetes provider reaches the API server, shared by the Ingress
 * and the CRD providers. First match wins:
 *   the provider's endpoint (+ token, certAuthFilePath);
 *   KUBECONFIG (current context: server, certificate-authority[-data],
 *   token / tokenFile / client-certificate[-data] + client-key[-data]);
 *   in-cluster: KUBERNETES_SERVICE_HOST/_PORT and the service account's
 *   token (re-read at every request, as it rotates) and CA.
 */
#include "k8s_conn.h"

#include "../../../common/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "../../tree.h"
#include "../../tree_yaml.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define MAX_KUBECONFIG (1024 * 1024)

static char *decode_b64(const char *in, size_t *len)
{
    size_t n = strlen(in);
    unsigned char *out = mem_alloc(base64_decoded_room(n));
    if (!base64_decode(in, n, out, len)) {
        free(out);
        return NULL;
    }
    return (char *)out;
}

static const char *scalar(const struct tree_node *map, const char *key)
{
    const struct tree_node *v = tree_map_get(map, key);
    return v && v->kind == TREE_SCALAR ? v->scalar : NULL;
}

/* The entry named <name> of a kubeconfig list (clusters, users, contexts). */
static const struct tree_node *named(const struct tree_node *root, const char *list, const char *name, const char *inner)
{
    const struct tree_node *seq = tree_map_get(root, list);
    for (size_t i = 0; seq && seq->kind == TREE_SEQ && i < seq->n; i++) {
        const char *n = scalar(seq->items[i], "name");
        if (n && name && strcmp(n, name) == 0)
            return tree_map_get(seq->items[i], inner);
    }
    return NULL;
}

static int from_kubeconfig(struct k8s_conn *conn, const char *path, struct diag *d)
{
    size_t len;
    char *text = read_file(path, MAX_KUBECONFIG, &len, d);
    if (text == NULL)
        return -1;
    struct arena a;
    arena_init(&a);
    struct tree_node *root = tree_yaml_parse(&a, path, text, len, d);
    free(text);
    int rc = -1;
    if (root == NULL)
        goto out;
    const char *ctx_name = scalar(root, "current-context");
    const struct tree_node *ctx = named(root, "contexts", ctx_name, "context");
    if (ctx == NULL) {
        diag_set(d, "%s: current-context '%s' is not among the contexts", path, ctx_name ? ctx_name : "");
        goto out;
    }
    const struct tree_node *cluster = named(root, "clusters", scalar(ctx, "cluster"), "cluster");
    const struct tree_node *user = named(root, "users", scalar(ctx, "user"), "user");
    const char *server = scalar(cluster, "server");
    if (server == NULL) {
        diag_set(d, "%s: the current context's cluster has no server", path);
        goto out;
    }
    conn->base_url = mem_strdup(server);
    size_t l = strlen(conn->base_url);
    if (l > 0 && conn->base_url[l - 1] == '/')
        conn->base_url[l - 1] = '\0';
    const char *v;
    if ((v = scalar(cluster, "certificate-authority")) != NULL)
        conn->ca_file = mem_strdup(v);
    if ((v = scalar(cluster, "certificate-authority-data")) != NULL &&
        (conn->ca_pem = decode_b64(v, &conn->ca_pem_len)) == NULL) {
        diag_set(d, "%s: certificate-authority-data is not base64", path);
        goto out;
    }
    if ((v = scalar(user, "token")) != NULL)
        conn->token = mem_strdup(v);
    if ((v = scalar(user, "tokenFile")) != NULL)
        conn->token_file = mem_strdup(v);
    if ((v = scalar(user, "client-certificate")) != NULL)
        conn->client_cert = mem_strdup(v);
    if ((v = scalar(user, "client-key")) != NULL)
        conn->client_key = mem_strdup(v);
    if ((v = scalar(user, "client-certificate-data")) != NULL)
        conn->cert_pem = decode_b64(v, &conn->cert_pem_len);
    if ((v = scalar(user, "client-key-data")) != NULL)
        conn->key_pem = decode_b64(v, &conn->key_pem_len);
    rc = 0;
out:
    arena_free(&a);
    return rc;
}

int k8s_conn_resolve(struct k8s_conn *conn, const struct k8s_conn_config *cfg, struct diag *d, const char **how)
{
    if (cfg->endpoint && *cfg->endpoint) {
        conn->base_url = mem_strdup(cfg->endpoint);
        size_t l = strlen(conn->base_url);
        if (l > 0 && conn->base_url[l - 1] == '/')
            conn->base_url[l - 1] = '\0';
        if (cfg->token && *cfg->token)
            conn->token = mem_strdup(cfg->token);
        if (cfg->cert_auth_file_path && *cfg->cert_auth_file_path)
            conn->ca_file = mem_strdup(cfg->cert_auth_file_path);
        *how = cfg->endpoint_key;
        return 0;
    }
    const char *kc = getenv("KUBECONFIG");
    if (kc && *kc) {
        char first[1024];
        snprintf(first, sizeof(first), "%.*s", (int)strcspn(kc, ":"), kc); /* the first file of the list */
        *how = "KUBECONFIG";
        return from_kubeconfig(conn, first, d);
    }
    const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
    if (host && *host && port && *port) {
        char url[512];
        bool v6 = strchr(host, ':') != NULL;
        snprintf(url, sizeof(url), "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port);
        conn->base_url = mem_strdup(url);
        conn->token_file = mem_strdup(SA_DIR "/token");
        conn->ca_file = mem_strdup(SA_DIR "/ca.crt");
        if (access(conn->token_file, R_OK) != 0)
            return diag_set(d, "in-cluster: cannot read the service account token %s", conn->token_file);
        *how = "in-cluster service account";
        return 0;
    }
    return diag_set(d, "%s: no API server: set %s, KUBECONFIG, or run in a pod (KUBERNETES_SERVICE_HOST)",
                    cfg->provider_key, cfg->endpoint_key);
}

void k8s_conn_free(struct k8s_conn *conn)
{
    free(conn->base_url);
    free(conn->token);
    free(conn->token_file);
    free(conn->ca_file);
    free(conn->client_cert);
    free(conn->client_key);
    free(conn->ca_pem);
    free(conn->cert_pem);
    free(conn->key_pem);
    memset(conn, 0, sizeof(*conn));
}
