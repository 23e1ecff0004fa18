#ifndef KGA_TOPK_HEAP_H
#define KGA_TOPK_HEAP_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* The best k hits of a query, kept in a heap with the worst at the root,
 * for the searches that gather candidates one at a time: the exact sparse
 * top-K (sparse.c) and the inverted-file search (ann.c). Both rank by one
 * total order (higher score, then the lower tie key, then the lower row)
 * so that they return what the exact dense search returns, ties and all.
 * Header-only: these run in the searches' inner loops.
 *
 * A hit is a position in the searched list; the order's key and row arrays
 * give each position's tie key and row id. The caller owns every array. */

typedef struct {
    float score;
    uint32_t pos;
} kga_hit_t;

typedef struct {
    const uint64_t *key; /* position -> tie key */
    const uint32_t *row; /* position -> row id */
} kga_hit_order_t;

/* Whether a ranks before b. Positions are distinct, and so are their rows:
 * no two hits are equal. */
static inline int kga_hit_better(const kga_hit_order_t *o, kga_hit_t a,
                                 kga_hit_t b)
{
    if (a.score != b.score)
        return a.score > b.score;
    uint64_t ka = o->key[a.pos], kb = o->key[b.pos];
    if (ka != kb)
        return ka < kb;
    return o->row[a.pos] < o->row[b.pos];
}

/* Moves h[i] down to its place in the heap h[0 .. n). */
static inline void kga_hit_heap_down(const kga_hit_order_t *o, kga_hit_t *h,
                                     size_t n, size_t i)
{
    kga_hit_t x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && kga_hit_better(o, h[c], h[c + 1]))
            c++;
        if (!kga_hit_better(o, x, h[c]))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

/* Offers x to the heap h of *n hits that keeps the best k (h has room for
 * k): added while there is room, else in place of the worst when better. */
static inline void kga_hit_heap_offer(const kga_hit_order_t *o, kga_hit_t *h,
                                      size_t *n, size_t k, kga_hit_t x)
{
    if (*n < k) {
        size_t i = (*n)++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!kga_hit_better(o, h[p], x))
                break;
            h[i] = h[p];
            i = p;
        }
        h[i] = x;
    } else if (x.score >= h[0].score && kga_hit_better(o, x, h[0])) {
        h[0] = x;
        kga_hit_heap_down(o, h, *n, 0);
    }
}

/* Empties the heap of n hits into a query's k output slots, best first:
 * the hit's row and its score less `shift`; the slots past n get
 * UINT32_MAX and -INFINITY. */
static inline void kga_hit_heap_emit(const kga_hit_order_t *o, kga_hit_t *h,
                                     size_t n, size_t k, float shift,
                                     uint32_t *out_idx, float *out_score)
{
    for (size_t s = n; s < k; s++) {
        out_idx[s] = UINT32_MAX;
        out_score[s] = -INFINITY;
    }
    /* Popping the worst first fills the output from the back. */
    while (n > 0) {
        out_idx[n - 1] = o->row[h[0].pos];
        out_score[n - 1] = h[0].score - shift;
        h[0] = h[--n];
        if (n > 0)
            kga_hit_heap_down(o, h, n, 0);
    }
}

#endif
