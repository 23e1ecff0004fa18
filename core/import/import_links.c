/* The links of an import: each link read is checked against both graphs
 * and kept with its file and line; at the end conflicts are resolved (or
 * reported), the links are put in canonical order and distributed over the
 * train, valid and test sets, and the seeded splits are carved. Labelled
 * pairs are kept beside them, each match also a link. Runs on the calling
 * thread once both graphs are complete. */
#include "import/import_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"

/* Ids quoted in messages are cut to this many bytes. */
#define MSG_ID_MAX 200

/* ---- links ---- */

/* Checks both ids; *found is 0 when the line was skipped (lenient). */
static int find_ends(kga_import_src_t *src, const char *left,
                     const char *right, int64_t ent[2], int *found)
{
    kga_import_ctx_t *ctx = src->ctx;
    const char *ids[2] = {left, right};
    *found = 0;
    for (int side = 0; side < 2; side++) {
        ent[side] = kga_graph_builder_find_entity(ctx->side[side].b, ids[side]);
        if (ent[side] < 0)
            return kga_import_bad_line(
                src, KGA_EUNKNOWN_ID,
                "%s id '%.*s' is not an entity of graph %d",
                side == 0 ? "left" : "right", MSG_ID_MAX, ids[side],
                side + 1);
    }
    *found = 1;
    return 0;
}

static int add_link(kga_import_src_t *src, const char *left,
                    const char *right, const int64_t ent[2]);

int kga_import_pair(kga_import_src_t *src, const char *left,
                    const char *right, int label)
{
    kga_import_ctx_t *ctx = src->ctx;
    int64_t ent[2];
    int found;
    int rc = find_ends(src, left, right, ent, &found);
    if (rc != 0 || !found)
        return rc;
    if (ctx->files[src->index].split == KGA_IMPORT_SPLIT_NONE)
        return 0;
    rc = kga_links_add(ctx->rows, left, right, kga_import_src_line(src),
                       src->index << 1 | (label != 0));
    if (rc == KGA_EINVAL)
        return kga_import_bad_line(src, KGA_EPARSE,
                                   "an id holds a tab or a line break");
    if (rc != 0)
        return kga_err_set(ctx->err, rc, "import: %s", kga_strerror(rc));
    if (label == 0) {
        ctx->files[src->index].negatives++;
        return 0;
    }
    return add_link(src, left, right, ent);
}

int kga_import_link(kga_import_src_t *src, const char *left,
                    const char *right)
{
    int64_t ent[2];
    int found;
    int rc = find_ends(src, left, right, ent, &found);
    return rc != 0 || !found ? rc : add_link(src, left, right, ent);
}

static int add_link(kga_import_src_t *src, const char *left,
                    const char *right, const int64_t ent[2])
{
    kga_import_ctx_t *ctx = src->ctx;
    if (ctx->files[src->index].split == KGA_IMPORT_SPLIT_NONE)
        return 0;
    size_t n = kga_links_count(ctx->links);
    if (n == ctx->link_ent_cap) {
        size_t cap = n ? n * 2 : 1024;
        for (int side = 0; side < 2; side++) {
            uint32_t *p = realloc(ctx->link_ent[side], cap * sizeof *p);
            if (p == NULL)
                return kga_err_set(ctx->err, KGA_ENOMEM,
                                   "import: out of memory");
            ctx->link_ent[side] = p;
        }
        ctx->link_ent_cap = cap;
    }
    int rc = kga_links_add(ctx->links, left, right, kga_import_src_line(src),
                           src->index);
    if (rc == KGA_EINVAL)
        return kga_import_bad_line(src, KGA_EPARSE,
                                   "a link id holds a carriage return");
    if (rc != 0)
        return kga_err_set(ctx->err, rc, "import: %s", kga_strerror(rc));
    ctx->link_ent[0][n] = (uint32_t)ent[0];
    ctx->link_ent[1][n] = (uint32_t)ent[1];
    return 0;
}

static int cmp_link_ptrs(const void *pa, const void *pb)
{
    /* The canonical order; the tag is the file slot. */
    return kga_link_compare(*(const kga_link_t *const *)pa,
                            *(const kga_link_t *const *)pb);
}

/* Finds links that share a left or a right entity with another. Strict: the
 * first conflict is an error naming both places. Lenient: of the links of
 * one id the canonically first (by left, right, file, line) is kept, the
 * others are marked in drop[] and counted as skipped lines of their files,
 * so the choice does not depend on the order of the input. Entities are
 * found by builder id, so this is linear. */
static int check_one_to_one(kga_import_ctx_t *ctx, size_t n, uint8_t *drop)
{
    const kga_link_t *items = kga_links_items(ctx->links);
    for (int side = 0; side < 2; side++) {
        uint32_t count = kga_graph_builder_entity_count(ctx->side[side].b);
        uint32_t *owner = malloc((count ? count : 1) * sizeof *owner);
        if (owner == NULL)
            return kga_err_set(ctx->err, KGA_ENOMEM, "import: out of memory");
        memset(owner, 0xff, (count ? count : 1) * sizeof *owner);
        for (size_t i = 0; i < n; i++) {
            if (drop[i])
                continue;
            uint32_t e = ctx->link_ent[side][i];
            if (owner[e] == UINT32_MAX) {
                owner[e] = (uint32_t)i;
                continue;
            }
            const kga_link_t *first = &items[owner[e]], *later = &items[i];
            if (kga_link_compare(later, first) < 0) {
                first = &items[i];
                later = &items[owner[e]];
            }
            /* Matches among labelled pairs are made 1:1 without a word:
             * the rows themselves are all kept. */
            int quiet = ctx->files[later->tag].negatives > 0;
            if (!ctx->p->lenient && !quiet) {
                const char *id = side == 0 ? later->left : later->right;
                free(owner);
                return kga_err_set(
                    ctx->err, KGA_EDUPLICATE,
                    "%s:%llu: %s id '%.*s' is linked twice (also at %s:%llu)",
                    ctx->files[later->tag].path,
                    (unsigned long long)later->line,
                    side == 0 ? "left" : "right", MSG_ID_MAX, id,
                    ctx->files[first->tag].path,
                    (unsigned long long)first->line);
            }
            drop[later - items] = 1;
            owner[e] = (uint32_t)(first - items);
            if (!quiet)
                ctx->files[later->tag].stats.skipped++;
        }
        free(owner);
    }
    return 0;
}

/* Streams of the seed for the two seeded splits (see rng.h). */
enum { STREAM_TEST_SPLIT = 1, STREAM_VALID_SPLIT = 2 };

/* Moves round(fraction * n) links of *from, drawn with (seed, stream) from
 * the canonical order, to `to`; both keep the canonical order. */
static int carve(kga_links_t **from, kga_links_t *to, double fraction,
                 uint64_t seed, uint64_t stream)
{
    kga_links_t *src = *from;
    size_t n = kga_links_count(src);
    if (n >= UINT32_MAX)
        return KGA_ELIMIT;
    size_t take = (size_t)floor(fraction * (double)n + 0.5);
    if (take > n)
        take = n;
    kga_links_sort(src);
    uint32_t *order = malloc((n ? n : 1) * sizeof *order);
    uint8_t *chosen = calloc(n ? n : 1, 1);
    kga_links_t *rest = kga_links_new(kga_links_source(src));
    int rc = order && chosen && rest ? 0 : KGA_ENOMEM;
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            order[i] = (uint32_t)i;
        kga_rng_t rng;
        kga_rng_init(&rng, seed, stream);
        kga_rng_shuffle_u32(&rng, order, n);
        for (size_t i = 0; i < take; i++)
            chosen[order[i]] = 1;
        const kga_link_t *items = kga_links_items(src);
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = kga_links_add(chosen[i] ? to : rest, items[i].left,
                               items[i].right, items[i].line, items[i].tag);
    }
    free(order);
    free(chosen);
    if (rc != 0) {
        kga_links_free(rest);
        return rc;
    }
    kga_links_free(src);
    *from = rest;
    return 0;
}

/* The output set of a file's split (OUT_ALL for the seeded split). */
static int out_of(kga_import_split_t split)
{
    switch (split) {
    case KGA_IMPORT_SPLIT_TRAIN:
        return OUT_TRAIN;
    case KGA_IMPORT_SPLIT_VALID:
        return OUT_VALID;
    case KGA_IMPORT_SPLIT_TEST:
        return OUT_TEST;
    case KGA_IMPORT_SPLIT_NONE:
    case KGA_IMPORT_SPLIT_ALL:
        break;
    }
    return OUT_ALL;
}

/* The labelled pairs of every split that has a non-match into rows[]
 * (tag = label); the other splits' pairs are link sets. */
static int distribute_rows(kga_import_ctx_t *ctx, kga_links_t *rows[3])
{
    int labelled[OUT_COUNT] = {0};
    for (unsigned f = 0; f < KGA_IMPORT_MAX_FILES; f++)
        if (ctx->files[f].used && ctx->files[f].negatives > 0)
            labelled[out_of(ctx->files[f].split)] = 1;
    const kga_link_t *items = kga_links_items(ctx->rows);
    int rc = 0;
    for (size_t i = 0; i < kga_links_count(ctx->rows) && rc == 0; i++) {
        int o = out_of(ctx->files[items[i].tag >> 1].split);
        if (o < 3 && labelled[o])
            rc = kga_links_add(rows[o], items[i].left, items[i].right,
                               items[i].line, items[i].tag & 1);
    }
    return rc;
}

static int cmp_pair_ptrs(const void *pa, const void *pb)
{
    const kga_link_t *a = *(const kga_link_t *const *)pa;
    const kga_link_t *b = *(const kga_link_t *const *)pb;
    int c = strcmp(a->left, b->left);
    return c != 0 ? c : strcmp(a->right, b->right);
}

/* After validation rows were carved from the training rows: the links of
 * their matches move from the training to the validation links. */
static int move_carved_links(kga_links_t **train, kga_links_t *valid,
                             const kga_links_t *valid_rows)
{
    size_t nr = kga_links_count(valid_rows);
    const kga_link_t *rows = kga_links_items(valid_rows);
    const kga_link_t **matches = malloc((nr ? nr : 1) * sizeof *matches);
    kga_links_t *rest = kga_links_new(kga_links_source(*train));
    int rc = matches && rest ? 0 : KGA_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < nr && rc == 0; i++)
        if (rows[i].tag == 1)
            matches[m++] = &rows[i];
    if (rc == 0)
        qsort(matches, m, sizeof *matches, cmp_pair_ptrs);
    const kga_link_t *links = kga_links_items(*train);
    for (size_t i = 0; i < kga_links_count(*train) && rc == 0; i++) {
        const kga_link_t *key = &links[i];
        int carved = m > 0 && bsearch(&key, matches, m, sizeof *matches,
                                      cmp_pair_ptrs) != NULL;
        rc = kga_links_add(carved ? valid : rest, key->left, key->right,
                           key->line, key->tag);
    }
    free(matches);
    if (rc != 0) {
        kga_links_free(rest);
        return rc;
    }
    kga_links_free(*train);
    *train = rest;
    return 0;
}

/* Resolves conflicts, distributes the links over the splits in canonical
 * order and carves the seeded ones. sets[] receive train, valid, test;
 * rows[] the labelled pairs. */
int kga_import_finish_links(kga_import_ctx_t *ctx,
                            kga_links_t *sets[OUT_COUNT],
                            kga_links_t *rows[3])
{
    size_t n = kga_links_count(ctx->links);
    const kga_link_t *items = kga_links_items(ctx->links);
    int rc = 0;
    const kga_link_t **v = malloc((n ? n : 1) * sizeof *v);
    uint8_t *drop = calloc(n ? n : 1, 1);
    if (v == NULL || drop == NULL) {
        rc = kga_err_set(ctx->err, KGA_ENOMEM, "import: out of memory");
        goto out;
    }
    rc = check_one_to_one(ctx, n, drop);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        v[i] = &items[i];
    qsort(v, n, sizeof *v, cmp_link_ptrs);
    int have_valid = 0;
    for (unsigned f = 0; f < KGA_IMPORT_MAX_FILES; f++)
        have_valid |=
            ctx->files[f].used && ctx->files[f].split == KGA_IMPORT_SPLIT_VALID;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const kga_link_t *link = v[k];
        if (drop[link - items])
            continue;
        rc = kga_links_add(sets[out_of(ctx->files[link->tag].split)],
                           link->left, link->right, link->line, link->tag);
    }
    if (rc == 0)
        rc = distribute_rows(ctx, rows);
    if (rc == 0 && kga_links_count(sets[OUT_ALL]) > 0) {
        /* Training share of ALL with the seed; the rest is the test set. */
        kga_links_t *all = sets[OUT_ALL];
        rc = carve(&all, sets[OUT_TRAIN], KGA_IMPORT_DBP15K_TRAIN_FRACTION,
                   ctx->p->seed, STREAM_TEST_SPLIT);
        sets[OUT_ALL] = all;
        for (size_t i = 0; rc == 0 && i < kga_links_count(all); i++) {
            const kga_link_t *k = &kga_links_items(all)[i];
            rc = kga_links_add(sets[OUT_TEST], k->left, k->right, k->line,
                               k->tag);
        }
        ctx->summary->test_carved = 1;
    }
    if (rc == 0 && !have_valid && kga_links_count(rows[OUT_TRAIN]) > 0) {
        /* Labelled training pairs: the validation share is of the rows,
         * and their matches' links follow them. */
        rc = carve(&rows[OUT_TRAIN], rows[OUT_VALID], ctx->p->valid_fraction,
                   ctx->p->seed, STREAM_VALID_SPLIT);
        if (rc == 0)
            rc = move_carved_links(&sets[OUT_TRAIN], sets[OUT_VALID],
                                   rows[OUT_VALID]);
        ctx->summary->valid_carved = 1;
    } else if (rc == 0 && !have_valid) {
        rc = carve(&sets[OUT_TRAIN], sets[OUT_VALID], ctx->p->valid_fraction,
                   ctx->p->seed, STREAM_VALID_SPLIT);
        ctx->summary->valid_carved = 1;
    }
    if (rc != 0)
        rc = kga_err_set(ctx->err, rc, "import: links: %s", kga_strerror(rc));
    ctx->summary->train_links = kga_links_count(sets[OUT_TRAIN]);
    ctx->summary->valid_links = kga_links_count(sets[OUT_VALID]);
    ctx->summary->test_links = kga_links_count(sets[OUT_TEST]);
    for (int i = 0; i < 3; i++) {
        ctx->summary->pairs[i] = kga_links_count(rows[i]);
        ctx->summary->pair_matches[i] = 0;
        for (size_t k = 0; k < kga_links_count(rows[i]); k++)
            ctx->summary->pair_matches[i] += kga_links_items(rows[i])[k].tag;
    }
out:
    free(drop);
    free(v);
    return rc;
}
