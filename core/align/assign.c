/* Greedy one-to-one assignment (see assign.h). In core rather than in the
 * align command so that the server or an evaluation can assign the same way
 * and a unit test can pin the rule down. */
#include "align/assign.h"

#include <math.h>
#include <stdlib.h>

/* Increasing distance (NaN last), then ids, so that the assignment does not
 * depend on the order of the input. */
static int scored_pair_cmp(const void *pa, const void *pb)
{
    const kga_scored_pair_t *a = pa, *b = pb;
    int na = isnan(a->distance), nb = isnan(b->distance);
    if (na != nb)
        return na - nb;
    if (!na && a->distance != b->distance)
        return a->distance < b->distance ? -1 : 1;
    if (a->left != b->left)
        return a->left < b->left ? -1 : 1;
    return (a->right > b->right) - (a->right < b->right);
}

int kga_assign_greedy(kga_scored_pair_t *pairs, size_t n_pairs,
                      uint32_t n_left, uint32_t n_right,
                      kga_scored_pair_t *partner, kga_err_t *err)
{
    for (size_t i = 0; i < n_pairs; i++)
        if (pairs[i].left >= n_left || pairs[i].right >= n_right)
            return kga_err_set(err, KGA_ERANGE,
                               "assignment: pair %zu (%u, %u) is outside "
                               "%u left x %u right entities",
                               i, pairs[i].left, pairs[i].right, n_left,
                               n_right);
    uint8_t *right_taken = calloc(n_right ? n_right : 1, 1);
    if (right_taken == NULL)
        return kga_err_set(err, KGA_ENOMEM,
                           "assignment: out of memory (%u right entities)",
                           n_right);
    qsort(pairs, n_pairs, sizeof *pairs, scored_pair_cmp);
    for (uint32_t l = 0; l < n_left; l++)
        partner[l] = (kga_scored_pair_t){l, KGA_ASSIGN_NONE, NAN, NAN};
    for (size_t i = 0; i < n_pairs; i++) {
        const kga_scored_pair_t *p = &pairs[i];
        if (partner[p->left].right != KGA_ASSIGN_NONE ||
            right_taken[p->right])
            continue;
        partner[p->left] = *p;
        right_taken[p->right] = 1;
    }
    free(right_taken);
    return 0;
}
