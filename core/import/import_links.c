/* The links of an import: each link read is checked against both graphs
 * and kept with its file and line; at the end conflicts are resolved (or
 * reported), the links are put in canonical order and distributed over the
 * train, valid and test sets, and the seeded splits are carved. Runs on
 * the calling thread once both graphs are complete. */
#include "import/import_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"

/* Ids quoted in messages are cut to this many bytes. */
#define MSG_ID_MAX 200

/* ---- links ---- */

int kga_import_link(kga_import_src_t *src, const char *left,
                    const char *right)
{
    kga_import_ctx_t *ctx = src->ctx;
    const char *ids[2] = {left, right};
    int64_t ent[2];
    for (int side = 0; side < 2; side++) {
        ent[side] = kga_graph_builder_find_entity(ctx->side[side].b, ids[side]);
        if (ent[side] < 0)
            return kga_import_bad_line(
                src, KGA_EUNKNOWN_ID,
                "%s id '%.*s' is not an entity of graph %d",
                side == 0 ? "left" : "right", MSG_ID_MAX, ids[side],
                side + 1);
    }
    if (ctx->files[src->index].split == KGA_SPLIT_NONE)
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
    int rc = kga_links_add(ctx->links, left, right,
                           kga_line_reader_line_no(src->reader), src->index);
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
            if (!ctx->p->lenient) {
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

/* Resolves conflicts, distributes the links over the splits in canonical
 * order and carves the seeded ones. sets[] receive train, valid, test. */
int kga_import_finish_links(kga_import_ctx_t *ctx,
                            kga_links_t *sets[OUT_COUNT])
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
        have_valid |= ctx->files[f].used &&
                      ctx->files[f].split == KGA_SPLIT_VALID;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const kga_link_t *link = v[k];
        if (drop[link - items])
            continue;
        int which = OUT_ALL;
        switch (ctx->files[link->tag].split) {
        case KGA_SPLIT_TRAIN:
            which = OUT_TRAIN;
            break;
        case KGA_SPLIT_VALID:
            which = OUT_VALID;
            break;
        case KGA_SPLIT_TEST:
            which = OUT_TEST;
            break;
        case KGA_SPLIT_NONE:
        case KGA_SPLIT_ALL:
            break;
        }
        rc = kga_links_add(sets[which], link->left, link->right, link->line,
                           link->tag);
    }
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
    if (rc == 0 && !have_valid) {
        rc = carve(&sets[OUT_TRAIN], sets[OUT_VALID], ctx->p->valid_fraction,
                   ctx->p->seed, STREAM_VALID_SPLIT);
        ctx->summary->valid_carved = 1;
    }
    if (rc != 0)
        rc = kga_err_set(ctx->err, rc, "import: links: %s", kga_strerror(rc));
    ctx->summary->train_links = kga_links_count(sets[OUT_TRAIN]);
    ctx->summary->valid_links = kga_links_count(sets[OUT_VALID]);
    ctx->summary->test_links = kga_links_count(sets[OUT_TEST]);
out:
    free(drop);
    free(v);
    return rc;
}
