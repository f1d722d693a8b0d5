/*
 * nghttp2 allocates several small blocks per stream (the stream, header
 * copies, outbound items) and frees them when it closes: malloc/free pairs
 * on every request (~1,000 instructions of glibc's a request under h2load).
 * Per-thread free lists by size class make those a few instructions. Blocks
 * above the largest class go to libc; so does everything under sanitizers.
 */
#include "h2_mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define H2_MEM_LIBC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define H2_MEM_LIBC 1
#endif
#endif

#ifdef H2_MEM_LIBC

nghttp2_mem *h2_mem(void)
{
    return NULL;
}

void h2_mem_thread_release(void)
{
}

#else

#define HDR 16     /* keeps the caller's block 16-byte aligned, as malloc's */
#define CLASSES 5  /* 64, 128, 256, 512, 1024 bytes with the header */
#define KEEP 1024  /* blocks kept per class per thread; the rest go back to libc */
#define BIG 0xffu

struct free_block {
    struct free_block *next;
};

static __thread struct {
    struct free_block *head;
    unsigned n;
} lists[CLASSES];

static size_t class_size(unsigned c)
{
    return (size_t)64 << c;
}

static unsigned class_of(size_t total)
{
    for (unsigned c = 0; c < CLASSES; c++)
        if (total <= class_size(c))
            return c;
    return BIG;
}

static size_t usable(const unsigned char *hdr)
{
    size_t size;
    memcpy(&size, hdr + 8, sizeof(size));
    return size;
}

static void *mem_malloc(size_t size, void *ud)
{
    (void)ud;
    if (size > SIZE_MAX - HDR)
        return NULL;
    unsigned c = class_of(size + HDR);
    unsigned char *hdr;
    size_t cap;
    if (c == BIG) {
        hdr = malloc(size + HDR);
        cap = size;
    } else if (lists[c].head != NULL) {
        hdr = (unsigned char *)lists[c].head;
        lists[c].head = lists[c].head->next;
        lists[c].n--;
        cap = class_size(c) - HDR;
    } else {
        hdr = malloc(class_size(c));
        cap = class_size(c) - HDR;
    }
    if (hdr == NULL)
        return NULL;
    hdr[0] = (unsigned char)c;
    memcpy(hdr + 8, &cap, sizeof(cap));
    return hdr + HDR;
}

static void mem_free(void *ptr, void *ud)
{
    (void)ud;
    if (ptr == NULL)
        return;
    unsigned char *hdr = (unsigned char *)ptr - HDR;
    unsigned c = hdr[0];
    if (c == BIG || lists[c].n >= KEEP) {
        free(hdr);
        return;
    }
    struct free_block *b = (struct free_block *)hdr;
    b->next = lists[c].head;
    lists[c].head = b;
    lists[c].n++;
}

static void *mem_calloc(size_t n, size_t size, void *ud)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = mem_malloc(n * size, ud);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

static void *mem_realloc(void *ptr, size_t size, void *ud)
{
    if (ptr == NULL)
        return mem_malloc(size, ud);
    size_t cap = usable((unsigned char *)ptr - HDR);
    if (size <= cap)
        return ptr;
    void *p = mem_malloc(size, ud);
    if (p == NULL)
        return NULL;
    memcpy(p, ptr, cap);
    mem_free(ptr, ud);
    return p;
}

static nghttp2_mem mem = {NULL, mem_malloc, mem_free, mem_calloc, mem_realloc};

nghttp2_mem *h2_mem(void)
{
    return &mem;
}

void h2_mem_thread_release(void)
{
    for (unsigned c = 0; c < CLASSES; c++) {
        while (lists[c].head != NULL) {
            struct free_block *b = lists[c].head;
            lists[c].head = b->next;
            free(b);
        }
        lists[c].n = 0;
    }
}

#endif
