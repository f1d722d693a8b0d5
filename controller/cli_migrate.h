/*
 * `gantry migrate ingress-nginx`: the migration report
 * (k8s_nginx_migrate.h) for the Ingresses of a cluster, read through the
 * same connection settings as the Kubernetes providers (--endpoint,
 * --token, --certAuthFilePath; else KUBECONFIG; else in-cluster), or of
 * manifests (--file, repeatable; YAML or JSON, `-` for stdin).
 */
#ifndef GANTRY_CLI_MIGRATE_H
#define GANTRY_CLI_MIGRATE_H

/* <argv> after "migrate". Exit status: 0 when every Ingress would be
 * served, 1 when one would not, 2 on a usage or read error. */
int cli_migrate(int argc, char **argv);

#endif
