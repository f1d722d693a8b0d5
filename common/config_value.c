/*
 * Configuration scalars (see config_value.h).
 */
#include "config_value.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int config_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "t", "T", NULL}, *const no[] = {"false", "0", "f", "F", NULL};
    for (size_t i = 0; yes[i] != NULL; i++) {
        if (i == 0 ? strcasecmp(s, yes[i]) == 0 : strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (i == 0 ? strcasecmp(s, no[i]) == 0 : strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

int config_parse_go_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0)
            return *out = true, 0;
        if (strcmp(s, no[i]) == 0)
            return *out = false, 0;
    }
    return -1;
}

/* One "<number><unit>" of a Go duration, in milliseconds; advances *p. */
static int duration_term(const char **p, double *ms)
{
    char *end;
    errno = 0;
    double v = strtod(*p, &end);
    /* strtod would take "inf", "nan", hex and exponents: Go takes digits and a dot */
    if (end == *p || errno != 0 || !(isdigit((unsigned char)**p) || **p == '.'))
        return -1;
    for (const char *c = *p; c < end; c++)
        if (!isdigit((unsigned char)*c) && *c != '.')
            return -1;
    static const struct {
        const char *name;
        double ms;
    } units[] = {{"ms", 1}, {"us", 0.001}, {"µs", 0.001}, {"ns", 0.000001}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t len = strlen(units[i].name);
        if (strncmp(end, units[i].name, len) == 0) {
            *ms = v * units[i].ms;
            *p = end + len;
            return 0;
        }
    }
    return -1; /* no unit */
}

int config_parse_duration_ms(const char *s, uint64_t *out)
{
    if (*s == '\0')
        return -1;
    bool digits = true;
    for (const char *c = s; *c; c++)
        digits &= isdigit((unsigned char)*c) != 0;
    if (digits) { /* a bare integer is seconds */
        errno = 0;
        unsigned long long secs = strtoull(s, NULL, 10);
        if (errno != 0 || secs > 1000000000ULL)
            return -1;
        *out = (uint64_t)secs * 1000;
        return 0;
    }
    double total = 0;
    for (const char *p = s; *p != '\0';) {
        double ms;
        if (duration_term(&p, &ms) != 0)
            return -1;
        total += ms;
    }
    if (total > 1e12)
        return -1;
    *out = (uint64_t)(total + 0.5);
    return 0;
}

size_t config_split_list(struct arena *a, const char *s, const char ***out)
{
    struct ptr_vec vec = {0};
    for (const char *p = s; *p != '\0';) {
        size_t len = strcspn(p, ",");
        const char *b = p, *e = p + len;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e > b)
            ptr_vec_push(a, &vec, arena_strndup(a, b, (size_t)(e - b)));
        p += len;
        if (*p == ',')
            p++;
    }
    ptr_vec_push(a, &vec, NULL); /* terminator, not counted */
    *out = (const char **)vec.items;
    return vec.len - 1;
}
