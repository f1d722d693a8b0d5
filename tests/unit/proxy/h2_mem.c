/* Tests proxy/h2_mem.c: nghttp2's allocator keeps malloc's contract. */
#include "../../../proxy/h2_mem.c"

#include <stdbool.h>
#include <stdint.h>

#include "test.h"

int main(void)
{
#ifdef H2_MEM_LIBC /* sanitizer build: nghttp2 uses libc */
    CHECK(h2_mem() == NULL);
#else
    nghttp2_mem *m = h2_mem();
    size_t sizes[] = {0, 1, 47, 48, 49, 100, 240, 500, 1000, 1008, 1009, 5000, 100000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *p = m->malloc(sizes[i], m->mem_user_data);
        CHECK(p != NULL);
        CHECK(((uintptr_t)p & 15) == 0);
        memset(p, 0xab, sizes[i]);
        /* realloc keeps the bytes, growing and shrinking */
        unsigned char *q = m->realloc(p, sizes[i] * 2 + 1, m->mem_user_data);
        CHECK(q != NULL);
        bool same = true;
        for (size_t j = 0; j < sizes[i]; j++)
            same = same && q[j] == 0xab;
        CHECK(same);
        q = m->realloc(q, sizes[i] / 2, m->mem_user_data);
        CHECK(q != NULL);
        m->free(q, m->mem_user_data);
    }
    /* a freed block of a class is reused by the next of that class */
    void *a = m->malloc(100, m->mem_user_data);
    m->free(a, m->mem_user_data);
    void *b = m->malloc(90, m->mem_user_data);
    CHECK(a == b);
    m->free(b, m->mem_user_data);
    /* calloc zeroes a reused block; refuses an overflowing product */
    unsigned char *c = m->malloc(200, m->mem_user_data);
    memset(c, 0xff, 200);
    m->free(c, m->mem_user_data);
    unsigned char *z = m->calloc(10, 20, m->mem_user_data);
    CHECK(z != NULL);
    bool zero = true;
    for (size_t j = 0; j < 200; j++)
        zero = zero && z[j] == 0;
    CHECK(zero);
    m->free(z, m->mem_user_data);
    CHECK(m->calloc(SIZE_MAX / 2, 4, m->mem_user_data) == NULL);
    CHECK(m->malloc(SIZE_MAX - 4, m->mem_user_data) == NULL);
    m->free(NULL, m->mem_user_data);
    /* more blocks than are kept: the rest go back to libc */
    void *many[3000];
    for (size_t i = 0; i < 3000; i++)
        many[i] = m->malloc(30, m->mem_user_data);
    for (size_t i = 0; i < 3000; i++)
        m->free(many[i], m->mem_user_data);
    CHECK(lists[0].n == KEEP);
    h2_mem_thread_release();
    CHECK(lists[0].n == 0 && lists[0].head == NULL);
#endif
    return test_report("proxy/h2_mem");
}
