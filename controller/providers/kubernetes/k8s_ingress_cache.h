/*
 * Incremental Ingress translation: each Ingress's translated pieces
 * (routers, services, middlewares, certificates, transports, problems,
 * Events) kept in a model of their own, keyed by "namespace/name" and
 * valid while the Ingress's uid+resourceVersion and the versions of every
 * object its translation looked at (Services, EndpointSlices, Secrets, the
 * namespace's canary Ingresses) are unchanged. A rebuild re-translates
 * only the invalidated Ingresses and assembles the provider's model from
 * the pieces by reference: the assembled model holds a reference on each
 * piece it uses, released when the aggregator frees that model, so a piece
 * replaced in the cache stays alive for as long as a model points into it.
 *
 * With what changed since the last rebuild (struct k8s_delta), a rebuild
 * costs what changed: a reverse index (dependency -> pieces) finds the
 * pieces to check, the assembly order (oldest first) and the names it
 * gave out are patched, and the canaries and TLS hosts every translation
 * reads come from per-Ingress notes. Without a delta (a list, a new
 * cache) every Ingress is looked at and all of these are made again.
 *
 * Watcher thread; references are atomic because a model may be freed
 * elsewhere.
 */
#ifndef GANTRY_K8S_INGRESS_CACHE_H
#define GANTRY_K8S_INGRESS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../common/strmap.h"
#include "../../model.h"
#include "k8s_index.h"

/* One object a translation read: its kind ('S' Service, 'E' the
 * EndpointSlices of a Service, 'T' Secret, 'C' the canary Ingresses of a
 * namespace), namespace and name. */
struct k8s_dep {
    char kind;
    const char *ns, *name;
};

struct k8s_piece {
    char *key;            /* "ns/name" */
    char *version;        /* "uid/resourceVersion" */
    char *created;        /* metadata.creationTimestamp ("" when unset) */
    uint64_t deps_digest; /* the versions of <deps> when translated */
    struct k8s_dep *deps; /* in m->arena */
    size_t n_deps;
    struct model *m;       /* the pieces; m->problems: what went wrong */
    struct ptr_vec events; /* struct k8s_nginx_event *, in m->arena */
    int refs;
    uint64_t used_gen; /* the last rebuild that used it */
    uint64_t made_gen; /* the rebuild that translated it */
    uint64_t seen_gen; /* the last rebuild that checked it from what changed */
    const cJSON *ing;  /* the Ingress translated: the store's, valid while it is unchanged */
    bool leaving;      /* k8s_ingress_cache_order_patch: being taken out */
    /* per service, then per TCP service of <m>: whether the last assembly
     * took this piece's (the oldest piece naming it), in m->arena */
    unsigned char *firsts;
    struct k8s_piece *next;
};

struct k8s_ingress_cache {
    struct k8s_piece **buckets;
    size_t n_buckets, n;
    uint64_t gen;
    uint64_t context_digest; /* IngressClasses and options: all pieces depend on them */
    /* the last rebuild, for the debug log and tests */
    size_t last_reused, last_translated;
    bool last_patched; /* from what changed, with the claims patched (no name checked again) */
    /* Services, EndpointSlices, Secrets: the last rebuild's index of each,
     * kept while the list's generation (struct k8s_objects) is unchanged */
    struct arena ix_arena[3];
    struct k8s_index ix[3];
    uint64_t ix_gen[3];
    /* the last rebuild's Ingresses that are ours, in list order, with their
     * pieces: walked instead of the list while its generation holds */
    const cJSON **ours;
    struct k8s_piece **ours_pieces;
    size_t n_ours;
    uint64_t ours_gen;
    /* the bytes the last translated piece's model took: the next piece's
     * first arena chunk (10,000 pieces of 4 KiB each were ~40 MB) */
    size_t piece_bytes;
    /* Who depends on what: "<kind> ns/name" of a dependency (struct k8s_dep;
     * hosts by name and by their "*.parent" form) -> the pieces whose deps
     * name it (struct k8s_dependents). Kept up to date piece by piece while
     * <rev_valid>; dropped by a full rebuild and made again at its end. */
    struct strmap rev;
    bool rev_valid;
    /* The pieces the last rebuild assembled, oldest first (the order
     * names are claimed in), each with a reference of the list: patched
     * when only some changed. <primed>: a rebuild completed since the
     * cache was (re)initialised. */
    struct k8s_piece **order;
    size_t n_order;
    bool primed;
    /* what every ingress-nginx piece may have read besides its deps'
     * objects, as the last rebuild saw it: the sum of each namespace's
     * canary versions (ns -> the sum, cast to a pointer), the TLS hosts (sorted) */
    struct strmap canary_sums;
    char **tls_hosts;
    size_t n_tls_hosts;
    /* The names the last assembly gave out ("tcp:<name>" for TCP), when
     * none collided: name -> struct k8s_claim, patched with the pieces */
    struct strmap claims;
    bool claims_valid;
    /* What each Ingress (ours or not) adds to every translation, for those
     * that add something: key -> struct k8s_ingress_note; patched with the
     * changed Ingresses, made again from the list without a delta */
    struct strmap notes;
};

struct k8s_ingress_note {
    const cJSON *canary; /* the Ingress when it asks to be a canary (the store's object) */
    char **tls_hosts;    /* the hosts its certificate gives ingress-nginx (lowercase) */
    size_t n_tls_hosts;
};

struct k8s_claim {
    const char *owner;       /* the object the name stands for (in <first>) */
    struct k8s_piece *first; /* the oldest piece naming it: its object is served */
    size_t n;                /* how many pieces name it */
    /* while a patch replaces <first> (NULL then): who it was */
    const char *was_key, *was_created;
};

/* Drops every note. */
void k8s_ingress_cache_notes_drop(struct k8s_ingress_cache *c);
/* Sets <key>'s note (NULL: none), freeing an older one. Takes <note>. */
void k8s_ingress_cache_note_set(struct k8s_ingress_cache *c, const char *key, struct k8s_ingress_note *note);

/* Empties the claims (no longer patchable). */
void k8s_ingress_cache_claims_drop(struct k8s_ingress_cache *c);

struct k8s_dependents {
    struct k8s_piece **p;
    size_t n, cap;
};

void k8s_ingress_cache_init(struct k8s_ingress_cache *c);
void k8s_ingress_cache_clear(struct k8s_ingress_cache *c);

/* The piece of <key>, or NULL. */
struct k8s_piece *k8s_ingress_cache_get(const struct k8s_ingress_cache *c, const char *key);
/* A new piece for <key> (with an empty model, one reference held by the
 * cache), replacing and releasing an older one. */
struct k8s_piece *k8s_ingress_cache_put(struct k8s_ingress_cache *c, const char *key, const char *version,
                                        const char *created);
/* Drops the pieces no rebuild used since generation <gen>. */
void k8s_ingress_cache_sweep(struct k8s_ingress_cache *c, uint64_t gen);
/* Drops the piece of <key>, if any. */
void k8s_ingress_cache_del(struct k8s_ingress_cache *c, const char *key);

/* Records <p>'s deps in the reverse index (once they are set). */
void k8s_ingress_cache_index(struct k8s_ingress_cache *c, struct k8s_piece *p);
/* Empties the reverse index and stops keeping it (a full rebuild); */
void k8s_ingress_cache_rev_drop(struct k8s_ingress_cache *c);
/* ... and makes it again from every piece in the cache. */
void k8s_ingress_cache_rev_build(struct k8s_ingress_cache *c);
/* The pieces that depend on the object <kind> <ns_name> ("ns/name"; for
 * 'C' "ns/", for 'H' "/host" as the TLS hosts list has it); NULL when none. */
const struct k8s_dependents *k8s_ingress_cache_dependents(const struct k8s_ingress_cache *c, char kind,
                                                          const char *ns_name);

/* The assembly order becomes <pieces> sorted oldest first (by
 * creationTimestamp, then key), in <pieces> too. */
void k8s_ingress_cache_order_set(struct k8s_ingress_cache *c, struct k8s_piece **pieces, size_t n);
/* The assembly order without <gone> and with <added> (each at its place). */
void k8s_ingress_cache_order_patch(struct k8s_ingress_cache *c, struct k8s_piece *const *gone, size_t n_gone,
                                   struct k8s_piece **added, size_t n_added);


/* <m> holds a reference on each of <pieces> until it is freed. */
void k8s_model_hold_pieces(struct model *m, struct k8s_piece *const *pieces, size_t n);

/* FNV-1a over <s> (NULL hashes as "-"), continuing <h>. */
uint64_t k8s_hash_str(uint64_t h, const char *s);
#define K8S_HASH_INIT 14695981039346656037ULL

#endif
