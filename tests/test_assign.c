/* The greedy one-to-one assignment of core/align/assign.h: the order pairs
 * are taken in (distance, then ids, NaN last), that each entity is used
 * once, that the input order does not matter, and the range check. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "align/assign.h"
#include "base/rng.h"
#include "testutil.h"

#define NONE KGA_ASSIGN_NONE

static kga_scored_pair_t pair(uint32_t l, uint32_t r, float d)
{
    return (kga_scored_pair_t){l, r, d, 1.0f - d};
}

START_TEST(takes_pairs_by_increasing_distance)
{
    /* Left 0 and left 1 both prefer right 0; left 0 is closer, so left 1
     * gets its second choice. Left 2's only candidate is taken. */
    kga_scored_pair_t pairs[] = {
        pair(1, 0, 0.2f), pair(1, 1, 0.3f), pair(0, 0, 0.1f),
        pair(0, 1, 0.15f), pair(2, 1, 0.05f), pair(3, 0, 0.5f),
    };
    kga_scored_pair_t partner[5];
    kga_err_t err;
    ck_assert_int_eq(kga_assign_greedy(pairs, 6, 5, 3, partner, &err), 0);
    /* (2,1) at 0.05 first, then (0,0) at 0.1; (0,1), (1,0), (1,1) and
     * (3,0) find an entity taken. */
    ck_assert_uint_eq(partner[0].right, 0);
    ck_assert_float_eq(partner[0].distance, 0.1f);
    ck_assert_float_eq(partner[0].probability, 0.9f);
    ck_assert_uint_eq(partner[1].right, NONE);
    ck_assert(isnan(partner[1].distance) && isnan(partner[1].probability));
    ck_assert_uint_eq(partner[2].right, 1);
    ck_assert_uint_eq(partner[3].right, NONE);
    ck_assert_uint_eq(partner[4].right, NONE); /* no candidate at all */
    for (uint32_t l = 0; l < 5; l++)
        ck_assert_uint_eq(partner[l].left, l);
    /* The pairs are left sorted. */
    for (size_t i = 1; i < 6; i++)
        ck_assert(pairs[i - 1].distance <= pairs[i].distance);
}
END_TEST

START_TEST(ties_go_by_left_then_right_and_nan_comes_last)
{
    kga_scored_pair_t pairs[] = {
        pair(1, 0, 0.5f), pair(0, 1, 0.5f), pair(0, 0, 0.5f),
        pair(2, 2, NAN),  pair(2, 0, 0.9f), pair(3, 2, 0.95f),
    };
    kga_scored_pair_t partner[4];
    ck_assert_int_eq(kga_assign_greedy(pairs, 6, 4, 3, partner, NULL), 0);
    /* Equal distances: left 0 first, and its lower right id. */
    ck_assert_uint_eq(partner[0].right, 0);
    ck_assert_uint_eq(partner[1].right, NONE);
    /* Left 2's NaN pair comes after every scored one: left 3 takes right
     * 2 first. */
    ck_assert_uint_eq(partner[2].right, NONE);
    ck_assert_uint_eq(partner[3].right, 2);
    ck_assert(isnan(pairs[5].distance));
}
END_TEST

/* Random candidate lists: every right entity is used at most once, every
 * accepted pair is one of the input, and a shuffled input gives the same
 * assignment. */
START_TEST(one_to_one_and_independent_of_input_order)
{
    enum { NL = 200, NR = 150, K = 5, N = NL * K };
    static kga_scored_pair_t pairs[N], shuffled[N];
    static kga_scored_pair_t a[NL], b[NL];
    kga_rng_t rng;
    kga_rng_init(&rng, 7, 0);
    for (uint32_t l = 0; l < NL; l++)
        for (uint32_t j = 0; j < K; j++) {
            /* Coarse distances: many ties. */
            float d = (float)kga_rng_below(&rng, 20) / 20.0f;
            pairs[l * K + j] = pair(l, kga_rng_below(&rng, NR), d);
        }
    memcpy(shuffled, pairs, sizeof pairs);
    for (size_t i = N - 1; i > 0; i--) {
        size_t j = kga_rng_below(&rng, (uint32_t)i + 1);
        kga_scored_pair_t t = shuffled[i];
        shuffled[i] = shuffled[j];
        shuffled[j] = t;
    }
    ck_assert_int_eq(kga_assign_greedy(pairs, N, NL, NR, a, NULL), 0);
    ck_assert_int_eq(kga_assign_greedy(shuffled, N, NL, NR, b, NULL), 0);
    uint8_t used[NR] = {0};
    size_t assigned = 0;
    for (uint32_t l = 0; l < NL; l++) {
        ck_assert_uint_eq(a[l].right, b[l].right);
        if (a[l].right == NONE)
            continue;
        ck_assert_float_eq(a[l].distance, b[l].distance);
        ck_assert_uint_eq(used[a[l].right], 0);
        used[a[l].right] = 1;
        assigned++;
        int found = 0;
        for (size_t i = 0; i < N && !found; i++)
            found = pairs[i].left == l && pairs[i].right == a[l].right &&
                    pairs[i].distance == a[l].distance;
        ck_assert(found);
    }
    /* Greedy is maximal: a left entity without a partner has every
     * candidate taken. */
    for (size_t i = 0; i < N; i++)
        if (a[pairs[i].left].right == NONE)
            ck_assert_uint_eq(used[pairs[i].right], 1);
    ck_assert_uint_gt(assigned, NR / 2);
}
END_TEST

START_TEST(ids_out_of_range_are_refused)
{
    kga_scored_pair_t pairs[] = {pair(0, 0, 0.1f), pair(0, 3, 0.2f)};
    kga_scored_pair_t partner[1];
    kga_err_t err;
    kga_err_clear(&err);
    kga_test_expect_error(kga_assign_greedy(pairs, 2, 1, 3, partner, &err),
                          &err, KGA_ERANGE, "pair 1 (0, 3)");
    pairs[1] = pair(1, 0, 0.2f);
    ck_assert_int_eq(kga_assign_greedy(pairs, 2, 1, 3, partner, &err),
                     KGA_ERANGE);
    /* No pairs: nobody has a partner. */
    ck_assert_int_eq(kga_assign_greedy(pairs, 0, 1, 0, partner, &err), 0);
    ck_assert_uint_eq(partner[0].right, NONE);
}
END_TEST

static Suite *assign_suite(void)
{
    Suite *s = suite_create("assign");
    TCase *tc = kga_test_tcase(s, "greedy", 0);
    tcase_add_test(tc, takes_pairs_by_increasing_distance);
    tcase_add_test(tc, ties_go_by_left_then_right_and_nan_comes_last);
    tcase_add_test(tc, one_to_one_and_independent_of_input_order);
    tcase_add_test(tc, ids_out_of_range_are_refused);
    return s;
}

int main(void)
{
    return kga_test_run(assign_suite);
}
