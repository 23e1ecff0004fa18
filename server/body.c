/* Request bodies in memory under one budget, their large buffers mapped
 * so that freeing returns them (see body.h). Apart from the handler, which
 * decides what a body may be, because this is how its bytes are held. */
#include "body.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/error.h"

void kga_body_budget_init(kga_body_budget_t *budget, int64_t max)
{
    atomic_init(&budget->used, 0);
    budget->max = max;
}

void kga_body_init(kga_body_t *b, char *inline_buf, size_t inline_cap)
{
    memset(b, 0, sizeof *b);
    b->inline_buf = inline_buf;
    b->inline_cap = inline_cap;
}

static int budget_take(kga_body_budget_t *budget, size_t n)
{
    int_fast64_t after =
        atomic_fetch_add_explicit(&budget->used, (int_fast64_t)n,
                                  memory_order_relaxed) +
        (int_fast64_t)n;
    if (after <= budget->max)
        return 0;
    atomic_fetch_sub_explicit(&budget->used, (int_fast64_t)n,
                              memory_order_relaxed);
    return KGA_ELIMIT;
}

static void budget_give(kga_body_budget_t *budget, size_t n)
{
    atomic_fetch_sub_explicit(&budget->used, (int_fast64_t)n,
                              memory_order_relaxed);
}

static size_t page_round(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

/* The buffer resized to cap bytes (at least b->len), the budget charged
 * for the difference first. */
static int resize(kga_body_t *b, kga_body_budget_t *budget, size_t cap)
{
    if (cap <= b->inline_cap && b->data == NULL) {
        b->data = b->inline_buf;
        b->cap = b->inline_cap;
        return 0;
    }
    int map = cap >= KGA_BODY_MAP_MIN;
    if (map)
        cap = page_round(cap);
    if (cap > b->charged && budget_take(budget, cap - b->charged) != 0)
        return KGA_ELIMIT;
    char *p;
    if (map && b->mapped) {
        p = mremap(b->data, b->cap, cap, MREMAP_MAYMOVE);
        p = p == MAP_FAILED ? NULL : p;
    } else if (map) {
        p = mmap(NULL, cap, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        p = p == MAP_FAILED ? NULL : p;
        if (p != NULL && b->len > 0)
            memcpy(p, b->data, b->len);
    } else if (b->data != NULL && b->data != b->inline_buf) {
        p = realloc(b->data, cap);
    } else {
        p = malloc(cap);
        if (p != NULL && b->len > 0)
            memcpy(p, b->data, b->len);
    }
    if (p == NULL) {
        if (cap > b->charged)
            budget_give(budget, cap - b->charged);
        return KGA_ENOMEM;
    }
    /* A small buffer replaced by a mapping. */
    if (map && !b->mapped && b->data != NULL && b->data != b->inline_buf)
        free(b->data);
    b->data = p;
    b->cap = cap;
    b->mapped = map;
    if (cap > b->charged)
        b->charged = cap;
    return 0;
}

int kga_body_reserve(kga_body_t *b, kga_body_budget_t *budget, size_t want)
{
    if (want <= b->cap)
        return 0;
    return resize(b, budget, want);
}

int kga_body_append(kga_body_t *b, kga_body_budget_t *budget,
                    const char *data, size_t n, size_t max)
{
    if (n > b->cap - b->len) {
        size_t need = b->len + n;
        size_t cap = b->cap == 0 ? b->inline_cap : b->cap;
        while (cap < need)
            cap = cap > max / 2 ? max : cap * 2;
        int rc = resize(b, budget, cap);
        if (rc != 0)
            return rc;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

void kga_body_free(kga_body_t *b, kga_body_budget_t *budget)
{
    if (b->mapped)
        munmap(b->data, b->cap);
    else if (b->data != NULL && b->data != b->inline_buf)
        free(b->data);
    budget_give(budget, b->charged);
    kga_body_init(b, b->inline_buf, b->inline_cap);
}
