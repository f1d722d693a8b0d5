/*
 * Minimal unit-test harness: CHECK macros that report file:line and keep
 * going, and a summary line per test executable (one per source file).
 */
#ifndef GANTRY_TEST_H
#define GANTRY_TEST_H

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static _Atomic int test_checks, test_failures; /* tests may CHECK from several threads */

#define CHECK(cond)                                                                                                                \
    do {                                                                                                                           \
        test_checks++;                                                                                                             \
        if (!(cond)) {                                                                                                             \
            test_failures++;                                                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                                               \
        }                                                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                                                            \
    do {                                                                                                                           \
        const char *_a = (a), *_b = (b);                                                                                           \
        test_checks++;                                                                                                             \
        if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0) {                                                                     \
            test_failures++;                                                                                                       \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s == %s\n  got:      \"%s\"\n  expected: \"%s\"\n", __FILE__, __LINE__, \
                    #a, #b, _a ? _a : "(null)", _b ? _b : "(null)");                                                               \
        }                                                                                                                          \
    } while (0)

/* <hay> contains <needle> */
#define CHECK_CONTAINS(hay, needle)                                                                                                \
    do {                                                                                                                           \
        const char *_h = (hay), *_n = (needle);                                                                                    \
        test_checks++;                                                                                                             \
        if (_h == NULL || strstr(_h, _n) == NULL) {                                                                                \
            test_failures++;                                                                                                       \
            fprintf(stderr, "%s:%d: CHECK_CONTAINS failed:\n  in:   \"%s\"\n  want: \"%s\"\n", __FILE__, __LINE__,              \
                    _h ? _h : "(null)", _n);                                                                                       \
        }                                                                                                                          \
    } while (0)

static inline int test_report(const char *name)
{
    printf("%s: %d checks, %d failures\n", name, test_checks, test_failures);
    return test_failures ? 1 : 0;
}

#endif
