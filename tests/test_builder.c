/* The in-memory graph builder: interning, duplicate removal, growth past the
 * initial table sizes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/graph_builder.h"

#include "testutil.h"

START_TEST(interns_entities_once)
{
    kga_graph_builder_t *b = kga_graph_builder_new();
    uint32_t a, a2, c;
    int created;
    ck_assert_int_eq(kga_graph_builder_entity(b, "http://x/A", &a, &created),
                     0);
    ck_assert_int_eq(created, 1);
    ck_assert_int_eq(kga_graph_builder_entity(b, "http://x/B", &c, NULL), 0);
    ck_assert_int_eq(kga_graph_builder_entity(b, "http://x/A", &a2, &created),
                     0);
    ck_assert_int_eq(created, 0);
    ck_assert_uint_eq(a, a2);
    ck_assert_uint_ne(a, c);
    ck_assert_uint_eq(kga_graph_builder_entity_count(b), 2);
    ck_assert_str_eq(kga_graph_builder_entity_ext_id(b, c), "http://x/B");
    ck_assert_int_eq(kga_graph_builder_find_entity(b, "http://x/B"),
                     (int64_t)c);
    ck_assert_int_eq(kga_graph_builder_find_entity(b, "http://x/"), -1);
    ck_assert_ptr_null(kga_graph_builder_entity_name(b, a));
    ck_assert_uint_eq(kga_graph_builder_entity_type(b, a), UINT32_MAX);
    ck_assert_int_eq(kga_graph_builder_entity(b, "", &a, NULL), KGA_EINVAL);
    kga_graph_builder_free(b);
}
END_TEST

START_TEST(drops_duplicate_triples_and_attributes)
{
    kga_graph_builder_t *b = kga_graph_builder_new();
    uint32_t x, y, r;
    kga_graph_builder_entity(b, "x", &x, NULL);
    kga_graph_builder_entity(b, "y", &y, NULL);
    ck_assert_int_eq(kga_graph_builder_relation(b, "knows", &r), 0);
    ck_assert_int_eq(kga_graph_builder_triple(b, x, r, y), 0);
    ck_assert_int_eq(kga_graph_builder_triple(b, x, r, y), 0);
    ck_assert_int_eq(kga_graph_builder_triple(b, y, r, x), 0);
    ck_assert_uint_eq(kga_graph_builder_triple_count(b), 2);
    ck_assert_uint_eq(kga_graph_builder_duplicate_triples(b), 1);
    ck_assert_int_eq(kga_graph_builder_triple(b, x, r + 1, y), KGA_EINVAL);
    ck_assert_int_eq(kga_graph_builder_attribute(b, x, "label", "Zoë"), 0);
    ck_assert_int_eq(kga_graph_builder_attribute(b, x, "label", "Zoë"), 0);
    ck_assert_int_eq(kga_graph_builder_attribute(b, x, "label", "Zoe"), 0);
    ck_assert_uint_eq(kga_graph_builder_attribute_count(b), 2);
    ck_assert_uint_eq(kga_graph_builder_attr_key_count(b), 1);
    ck_assert_int_eq(kga_graph_builder_set_name(b, x, "Zoë"), 0);
    ck_assert_str_eq(kga_graph_builder_entity_name(b, x), "Zoë");
    ck_assert_int_eq(kga_graph_builder_set_type(b, x, "Person"), 0);
    ck_assert_str_eq(
        kga_graph_builder_type_name(b, kga_graph_builder_entity_type(b, x)),
        "Person");
    kga_graph_builder_free(b);
}
END_TEST

/* Enough entities and triples to force many rehashes; every one must still
 * be found and no triple lost or duplicated. */
START_TEST(grows_past_initial_sizes)
{
    enum { N = 50000 };
    kga_graph_builder_t *b = kga_test_chain("e", N); /* ids 0..N-1 */
    /* Every triple of the chain a second time. */
    uint32_t r;
    ck_assert_int_eq(kga_graph_builder_relation(b, "next", &r), 0);
    for (uint32_t i = 0; i + 1 < N; i++)
        ck_assert_int_eq(kga_graph_builder_triple(b, i, r, i + 1), 0);
    char id[32];
    ck_assert_uint_eq(kga_graph_builder_triple_count(b), N - 1);
    ck_assert_uint_eq(kga_graph_builder_duplicate_triples(b), N - 1);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(id, sizeof id, "e%u", i);
        ck_assert_int_eq(kga_graph_builder_find_entity(b, id), (int64_t)i);
    }
    kga_graph_builder_free(b);
}
END_TEST

static Suite *builder_suite(void)
{
    Suite *s = suite_create("builder");
    TCase *tc = kga_test_tcase(s, "core", 0);
    tcase_add_test(tc, interns_entities_once);
    tcase_add_test(tc, drops_duplicate_triples_and_attributes);
    tcase_add_test(tc, grows_past_initial_sizes);
    return s;
}

int main(void)
{
    return kga_test_run(builder_suite);
}
