/*
 * Configuration scalars as text -> values, with Traefik's meanings: the one
 * parser for booleans, durations and comma-separated lists, whether the
 * text came from a file, a flag, an environment variable, a label or an
 * annotation. Used by the controller's tree decoder (controller/tree*.c)
 * and by the middlewares' options (proxy/middleware/options.c).
 */
#ifndef GANTRY_CONFIG_VALUE_H
#define GANTRY_CONFIG_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"

/* Go's strconv.ParseBool (1, t, T, TRUE, true, True, 0, f, F, FALSE, false,
 * False), and true/false in any case. 0, or -1 for anything else. */
int config_parse_bool(const char *s, bool *out);

/* Go's strconv.ParseBool exactly (1, t, T, TRUE, true, True, 0, f, F,
 * FALSE, false, False; "tRuE" is refused): what Traefik's label decoder and
 * ingress-nginx read annotations with. 0, or -1 for anything else. */
int config_parse_go_bool(const char *s, bool *out);

/* Traefik's durations: a bare integer is seconds; otherwise Go's
 * time.ParseDuration ("250ms", "1m30s", "1.5h"; units ns, us, µs, ms, s, m,
 * h, each number with its unit). Negative values and a bare "1.5" (Go: a
 * missing unit) are refused, as in Traefik. 0 or -1. */
int config_parse_duration_ms(const char *s, uint64_t *out);

/*
 * Splits <s> at commas as Traefik's paerser does (strings.Split, then
 * strings.TrimSpace on each item), except that empty items are dropped:
 * "a, b ,,c " -> a, b, c (an empty name names nothing). Returns the count;
 * *out is NULL-terminated, in <a>.
 */
size_t config_split_list(struct arena *a, const char *s, const char ***out);

#endif
