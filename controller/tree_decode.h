/*
 * Configuration tree -> C values: the one decoder that the static
 * configuration (static_config.c: file, flags, environment) and the dynamic
 * configuration (model_decode.c: files, labels) share.
 *
 * A struct is described by a table of fields (struct tree_field): a name,
 * matched case-insensitively as Traefik does for every source, and a
 * function that decodes the value into the object. The scalar converters
 * below give every source the same meaning of strings, booleans, integers,
 * durations, lists and maps, and every message the same shape:
 *
 *   <file:line:col or label/flag>: <context>: <what is wrong>
 *   <file:line:col or label/flag>: <conversion problem> (<context>)
 *
 * A user embeds struct tree_decoder as the first member (`super`) of its own
 * context and downcasts in its field functions.
 */
#ifndef GANTRY_TREE_DECODE_H
#define GANTRY_TREE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/arena.h"
#include "tree.h"

struct tree_decoder;

/* Decodes <v> into <obj>; 0, or -1 after reporting an error through the decoder. */
typedef int (*tree_field_cb)(struct tree_decoder *td, void *obj, const struct tree_node *v);

struct tree_field {
    const char *name;
    tree_field_cb fn; /* NULL: a known key gantry does not support yet (a warning) */
};

/* Receives each finished message (<is_error>, else a warning); <msg> is
 * the caller's to copy, valid during the call only. */
typedef void (*tree_report_cb)(struct tree_decoder *td, bool is_error, const char *msg);

struct tree_decoder {
    struct arena *arena; /* decoded strings and arrays live here */
    tree_report_cb report;
    /* What is being decoded, for messages: "router 'api'", or with
     * <track_path> the dotted key path ("entryPoints.web"), which
     * tree_decode_fields extends by each key it visits. */
    const char *context;
    bool track_path;
    /* Keep decoding a struct's other fields after an error, so that one
     * pass reports every problem (dynamic configuration); else stop at
     * the first (static configuration refuses to start on it). */
    bool keep_going;
    /* Names the configuration in unknown-key warnings with <track_path>:
     * "unknown <kind> key 'x.y' (ignored)". */
    const char *kind;
};

/*
 * Decodes the map <n> with <fields>: each key is looked up in <fields>
 * case-insensitively; an unknown key or a key without function is a
 * warning; a TREE_NULL node is an empty struct. <what> names the struct in
 * messages without <track_path>. Returns -1 if any field failed.
 */
int tree_decode_fields(struct tree_decoder *td, void *obj, const struct tree_node *n, const struct tree_field *fields,
                       const char *what) WARN_UNUSED;

/* Either a boolean (the label and flag form, "tls=true") or a map of
 * <fields> (which implies true); Traefik's "enable by presence" keys. */
int tree_decode_switch(struct tree_decoder *td, bool *enabled, void *obj, const struct tree_node *v,
                       const struct tree_field *fields, const char *what) WARN_UNUSED;

/* Reports an error at <at> (may be NULL) prefixed by the context; returns -1. */
int tree_decode_fail(struct tree_decoder *td, const struct tree_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tree_decode_warn(struct tree_decoder *td, const struct tree_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Scalars. A TREE_NULL string is NULL ("key:" with no value). */
int tree_decode_string(struct tree_decoder *td, const struct tree_node *v, const char **out) WARN_UNUSED;
int tree_decode_bool(struct tree_decoder *td, const struct tree_node *v, bool *out) WARN_UNUSED;
int tree_decode_int(struct tree_decoder *td, const struct tree_node *v, int64_t min, int64_t max, int64_t *out) WARN_UNUSED;
int tree_decode_duration(struct tree_decoder *td, const struct tree_node *v, uint64_t *out) WARN_UNUSED;

/* A list of strings: a sequence, or one scalar "a, b,c" as labels, flags
 * and environment variables write it (config_split_list: split at commas, items trimmed). TREE_NULL: empty. */
int tree_decode_list(struct tree_decoder *td, const struct tree_node *v, const char ***out, size_t *n) WARN_UNUSED;

/* A map of names to strings (headers, responder overrides): keys kept
 * verbatim, in order; a key without value maps to "". */
int tree_decode_string_map(struct tree_decoder *td, const struct tree_node *v, const char ***keys, const char ***values,
                           size_t *n) WARN_UNUSED;

/* Field functions for the common case: decode into <member> of <type>. */
#define TREE_FIELD_STRING(fn, type, member)                                                                                        \
    static int fn(struct tree_decoder *td, void *obj, const struct tree_node *v)                                                   \
    {                                                                                                                              \
        return tree_decode_string(td, v, &((type *)obj)->member);                                                                  \
    }
#define TREE_FIELD_BOOL(fn, type, member)                                                                                          \
    static int fn(struct tree_decoder *td, void *obj, const struct tree_node *v)                                                   \
    {                                                                                                                              \
        return tree_decode_bool(td, v, &((type *)obj)->member);                                                                    \
    }
#define TREE_FIELD_DURATION(fn, type, member)                                                                                      \
    static int fn(struct tree_decoder *td, void *obj, const struct tree_node *v)                                                   \
    {                                                                                                                              \
        return tree_decode_duration(td, v, &((type *)obj)->member);                                                                \
    }
/* A list into <member> and its count n_<member>. */
#define TREE_FIELD_LIST(fn, type, member)                                                                                          \
    static int fn(struct tree_decoder *td, void *obj, const struct tree_node *v)                                                   \
    {                                                                                                                              \
        return tree_decode_list(td, v, &((type *)obj)->member, &((type *)obj)->n_##member);                                        \
    }
/* An integer in [min, max], stored as <ctype>. */
#define TREE_FIELD_INT(fn, type, member, ctype, min, max)                                                                          \
    static int fn(struct tree_decoder *td, void *obj, const struct tree_node *v)                                                   \
    {                                                                                                                              \
        int64_t n_;                                                                                                                \
        if (tree_decode_int(td, v, min, max, &n_) != 0)                                                                            \
            return -1;                                                                                                             \
        ((type *)obj)->member = (ctype)n_;                                                                                         \
        return 0;                                                                                                                  \
    }

#endif
