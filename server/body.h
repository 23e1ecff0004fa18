#ifndef KGA_SERVER_BODY_H
#define KGA_SERVER_BODY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A request body in memory, and the budget every body of the server
 * shares. The in-flight cap bounds the requests being answered, not the
 * ones being read: a client announcing a 1 MiB body and sending it slowly
 * holds its buffer for as long as its read deadline, and max_connections
 * such clients hold max_connections MiB. So every byte a body buffer holds
 * beyond the few the request carries inline is taken from one budget
 * (max_body_memory) before it is allocated, and a body that does not fit
 * is refused (503) instead of allocated.
 *
 * Memory is returned when a body is freed: a buffer of 64 KiB or more is
 * an anonymous mapping of its own, unmapped at once. (From malloc, a freed
 * 1 MiB buffer raises glibc's mmap threshold, and the next ones come from
 * the heap, which keeps them: 40 slow 1 MiB bodies left the resident size
 * 39 MiB higher for good.) Smaller buffers come from malloc, bounded by
 * the budget.
 *
 * A body belongs to one request on one thread; only the budget is shared
 * (atomic). */

typedef struct {
    atomic_int_fast64_t used; /* bytes taken by every body */
    int64_t max;
} kga_body_budget_t;

typedef struct {
    char *data; /* the bytes: NULL, the request's inline buffer, or owned */
    size_t len, cap;
    size_t charged; /* bytes of cap taken from the budget */
    int mapped;     /* data is a mapping of its own (else malloc'd) */
    char *inline_buf; /* the request's own bytes, not charged */
    size_t inline_cap;
} kga_body_t;

/* Bodies of at least this many bytes get a mapping of their own. */
#define KGA_BODY_MAP_MIN ((size_t)64 << 10)

void kga_body_budget_init(kga_body_budget_t *budget, int64_t max);

/* An empty body that uses inline_buf (inline_cap bytes, the request's own)
 * for as long as it fits. */
void kga_body_init(kga_body_t *b, char *inline_buf, size_t inline_cap);

/* Room for `want` bytes in all (a Content-Length), taken from the budget
 * now. Returns 0, KGA_ELIMIT when the budget cannot take it (nothing
 * taken), or KGA_ENOMEM. */
int kga_body_reserve(kga_body_t *b, kga_body_budget_t *budget, size_t want);

/* Appends n bytes, growing the buffer (doubling, at most to max bytes in
 * all; the caller checked that len + n <= max). Same returns as
 * kga_body_reserve(); on failure the body is as it was. */
int kga_body_append(kga_body_t *b, kga_body_budget_t *budget,
                    const char *data, size_t n, size_t max);

/* Frees the buffer, gives its bytes back to the budget, and empties b (it
 * may be used again). */
void kga_body_free(kga_body_t *b, kga_body_budget_t *budget);

#endif
