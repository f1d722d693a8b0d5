/* Tests common/strmap.c against a plain array, through growth and deletes. */
#include "../../../common/strmap.c"

#include <stdio.h>

#include "test.h"

#define N 5000

static int vals[N];
static bool present[N];

static void key_of(int i, char *k, size_t n)
{
    snprintf(k, n, "ns-%d/name-%d", i % 7, i);
}

static void check_all(const struct strmap *m)
{
    char k[64];
    size_t n = 0;
    for (int i = 0; i < N; i++) {
        key_of(i, k, sizeof(k));
        void *v = strmap_get(m, k);
        CHECK(present[i] ? v == &vals[i] : v == NULL);
        n += present[i];
    }
    CHECK(m->n == n);
    size_t seen = 0, it = 0;
    const char *key;
    void *val;
    while (strmap_next(m, &it, &key, &val)) {
        int i = (int)((int *)val - vals);
        key_of(i, k, sizeof(k));
        CHECK(i >= 0 && i < N && present[i] && strcmp(key, k) == 0);
        seen++;
    }
    CHECK(seen == n);
}

static int freed;
static void count_free(void *v)
{
    (void)v;
    freed++;
}

int main(void)
{
    struct strmap m;
    strmap_init(&m);
    CHECK(strmap_get(&m, "x") == NULL);
    CHECK(strmap_del(&m, "x") == NULL);
    size_t it = 0;
    CHECK(!strmap_next(&m, &it, NULL, NULL));

    char k[64];
    bool added;
    for (int i = 0; i < N; i++) {
        key_of(i, k, sizeof(k));
        void **slot = strmap_put(&m, k, &added);
        CHECK(added && *slot == NULL);
        *slot = &vals[i];
        present[i] = true;
    }
    check_all(&m);
    /* put of a present key: the same slot, not added */
    key_of(42, k, sizeof(k));
    CHECK(*strmap_put(&m, k, &added) == &vals[42] && !added);
    CHECK(m.n == N);

    /* delete every third, then every other: runs are shifted back, never broken */
    for (int i = 0; i < N; i += 3) {
        key_of(i, k, sizeof(k));
        CHECK(strmap_del(&m, k) == &vals[i]);
        CHECK(strmap_del(&m, k) == NULL);
        present[i] = false;
    }
    check_all(&m);
    for (int i = 0; i < N; i += 2) {
        if (!present[i])
            continue;
        key_of(i, k, sizeof(k));
        CHECK(strmap_del(&m, k) == &vals[i]);
        present[i] = false;
    }
    check_all(&m);
    for (int i = 0; i < N; i += 3) { /* and back */
        key_of(i, k, sizeof(k));
        *strmap_put(&m, k, NULL) = &vals[i];
        present[i] = true;
    }
    check_all(&m);
    CHECK(m.n * 4 <= m.cap * 3);

    /* the empty key is a key like any other */
    *strmap_put(&m, "", NULL) = &freed;
    CHECK(strmap_get(&m, "") == &freed);
    CHECK(strmap_del(&m, "") == &freed);

    size_t n = m.n;
    strmap_free(&m, count_free);
    CHECK((size_t)freed == n);
    CHECK(m.n == 0 && m.cap == 0 && strmap_get(&m, "ns-0/name-0") == NULL);

    /* borrowed keys: the map keeps the caller's pointer (ASan: nothing
     * freed twice or leaked), and the mode survives strmap_free */
    struct strmap b = {.borrowed_keys = true};
    static char names[100][16];
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof(names[i]), "srv-%d", i);
        *strmap_put(&b, names[i], NULL) = names[i];
    }
    const char *bk = NULL;
    size_t bi = 0;
    bool same = true;
    while (strmap_next(&b, &bi, &bk, NULL))
        same = same && bk >= (const char *)names && bk < (const char *)names + sizeof(names);
    CHECK(same && b.n == 100 && strmap_get(&b, "srv-42") == names[42]);
    CHECK(strmap_del(&b, "srv-42") == names[42] && strmap_get(&b, "srv-43") == names[43]);
    strmap_free(&b, NULL);
    CHECK(b.borrowed_keys && b.n == 0);
    return test_report("common/strmap");
}
