/* Seed-anchored structural features: the weighted graphs of both sides, the
 * soft relation alignment the seeds imply, and the propagation itself (see
 * structure.h for the definitions). */
#include "features/structure.h"
#include "features/structure_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/grow.h"
#include "base/rng.h"
#include "base/vec.h"

/* Separate random streams for the anchor vectors and the two directions of
 * the relation vectors, so that no anchor ever equals a relation vector. */
#define ANCHOR_SALT 0x3C6EF372FE94F82Bull
#define RELATION_SALT_HEAD 0xA54FF53A5F1D36F1ull
#define RELATION_SALT_TAIL 0x510E527FADE682D1ull

/* Rows per pool task: small enough to balance hubs, large enough that the
 * task hand-out costs nothing. */
#define ROW_GRAIN 256

#define NO_MATCH UINT32_MAX

void kga_structure_params_init(kga_structure_params_t *p)
{
    p->dim = 128;
    p->hops = 6;
    p->typed_hops = 2;
    p->signature = 1;
    p->context_blocks = 16;
    p->context_levels = 2;
    p->context_weight = 1.0f;
    p->seed = 7;
}

int kga_structure_params_check(const kga_structure_params_t *p,
                               kga_err_t *err)
{
    if (p->dim < 2 || p->dim > KGA_STRUCTURE_MAX_DIM || p->dim % 2 != 0)
        return kga_err_set(err, KGA_EINVAL,
                           "structure: dim must be even and in [2, %u], not %u",
                           KGA_STRUCTURE_MAX_DIM, p->dim);
    if (p->hops > KGA_STRUCTURE_MAX_HOPS)
        return kga_err_set(err, KGA_EINVAL,
                           "structure: hops must be at most %u, not %u",
                           KGA_STRUCTURE_MAX_HOPS, p->hops);
    if (p->typed_hops > p->hops + 1)
        return kga_err_set(err, KGA_EINVAL,
                           "structure: typed_hops (%u) must be <= hops + 1",
                           p->typed_hops);
    if (p->signature != 0 && p->signature != 1)
        return kga_err_set(err, KGA_EINVAL,
                           "structure: signature must be 0 or 1, not %d",
                           p->signature);
    if (p->context_blocks > KGA_STRUCTURE_MAX_CONTEXT)
        return kga_err_set(err, KGA_EINVAL,
                           "structure: context_blocks must be at most %u, "
                           "not %u",
                           KGA_STRUCTURE_MAX_CONTEXT, p->context_blocks);
    if (p->context_blocks > 0 && p->dim % 16 != 0)
        return kga_err_set(err, KGA_EINVAL,
                           "structure: context blocks need dim a multiple "
                           "of 16, not %u",
                           p->dim);
    if (p->context_blocks > 0 && p->context_levels > p->hops)
        return kga_err_set(err, KGA_EINVAL,
                           "structure: context_levels (%u) must be <= hops "
                           "(%u)",
                           p->context_levels, p->hops);
    if (!(p->context_weight >= 0.0f && p->context_weight <= 1e3f))
        return kga_err_set(err, KGA_EINVAL,
                           "structure: context_weight must be within 0..1000");
    return 0;
}

/* The first context block: after X0..Xh, T1..Tt and Sig. */
static uint32_t context_first(const kga_structure_params_t *p)
{
    return 1u + p->hops + p->typed_hops + (p->signature ? 1u : 0u);
}

uint32_t kga_structure_width(const kga_structure_params_t *p)
{
    return (context_first(p) + p->context_blocks) * p->dim;
}

uint64_t kga_structure_work(const kga_structure_t *g)
{
    /* anchors, the hops, the typed hops, the signature, the final norm */
    uint64_t passes = 2u + g->p.hops + g->p.typed_hops +
                      (g->p.signature ? 1u : 0u) + g->p.context_blocks;
    return passes * ((uint64_t)g->side[0].n + g->side[1].n);
}

uint32_t kga_structure_entities(const kga_structure_t *g, int side)
{
    return g->side[side != 0].n;
}

/* ---- building ----------------------------------------------------------- */

static void side_destroy(side_graph_t *s)
{
    free(s->rel_key);
    free(s->w);
    free(s->drel);
    free(s->nbr);
    free(s->off);
    memset(s, 0, sizeof *s);
}

/* Number of distinct relations in edges sorted by (rel, ent), each counted
 * once into seen[rel]. */
static void count_distinct_rels(const kga_edge_t *e, uint32_t m,
                                 uint32_t *seen)
{
    for (uint32_t x = 0; x < m; x++)
        if (x == 0 || e[x].rel != e[x - 1].rel)
            seen[e[x].rel]++;
}

static int side_build(const kga_store_t *st, side_graph_t *s, kga_err_t *err)
{
    int rc = KGA_ENOMEM;
    uint32_t n = kga_store_entity_count(st);
    uint32_t nrel = kga_store_relation_count(st);
    uint64_t triples = kga_store_triple_count(st);
    uint32_t *ntri = NULL, *dheads = NULL, *dtails = NULL;

    memset(s, 0, sizeof *s);
    if (nrel > UINT32_MAX / 2 || triples > (UINT64_MAX / 2) / sizeof(float))
        return kga_err_set(err, KGA_ELIMIT,
                           "structure: %s: %u relations, %llu triples",
                           kga_store_path(st), nrel,
                           (unsigned long long)triples);
    s->n = n;
    s->nrel = nrel;
    s->off = calloc((size_t)n + 1, sizeof *s->off);
    s->nbr = malloc((size_t)(2 * triples + 1) * sizeof *s->nbr);
    s->drel = malloc((size_t)(2 * triples + 1) * sizeof *s->drel);
    s->w = malloc((size_t)(2 * triples + 1) * sizeof *s->w);
    s->rel_key = malloc(((size_t)nrel + 1) * sizeof *s->rel_key);
    ntri = calloc((size_t)nrel + 1, sizeof *ntri);
    dheads = calloc((size_t)nrel + 1, sizeof *dheads);
    dtails = calloc((size_t)nrel + 1, sizeof *dtails);
    if (!s->off || !s->nbr || !s->drel || !s->w || !s->rel_key || !ntri ||
        !dheads || !dtails)
        goto fail;

    for (uint32_t r = 0; r < nrel; r++) {
        const char *name = kga_store_relation_name(st, r);
        s->rel_key[r] = kga_hash64(name, strlen(name));
    }
    for (uint32_t i = 0; i < n; i++) {
        const kga_edge_t *e;
        uint32_t m = kga_store_edges(st, i, KGA_DIR_OUT, &e);
        for (uint32_t x = 0; x < m; x++)
            ntri[e[x].rel]++;
        count_distinct_rels(e, m, dheads);
        uint32_t mi = kga_store_edges(st, i, KGA_DIR_IN, &e);
        count_distinct_rels(e, mi, dtails);
        s->off[i + 1] = s->off[i] + m + mi;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t at = s->off[i];
        for (int dir = 0; dir < 2; dir++) {
            const kga_edge_t *e;
            uint32_t m = kga_store_edges(st, i, dir ? KGA_DIR_IN : KGA_DIR_OUT,
                                         &e);
            for (uint32_t x = 0; x < m; x++, at++) {
                uint32_t r = e[x].rel;
                /* The head hears from its tails in proportion to how many
                 * distinct tails r has per triple, and vice versa. */
                double distinct = dir ? dheads[r] : dtails[r];
                s->nbr[at] = e[x].ent;
                s->drel[at] = 2 * r + (uint32_t)dir;
                s->w[at] = (float)(distinct / (double)ntri[r]);
            }
        }
    }
    rc = 0;
fail:
    free(dtails);
    free(dheads);
    free(ntri);
    if (rc != 0) {
        side_destroy(s);
        kga_err_set(err, rc, "structure: out of memory (%s)",
                    kga_store_path(st));
    }
    return rc;
}

static int cmp_tail_edge(const void *a, const void *b)
{
    const tail_edge_t *x = a, *y = b;
    if (x->tail != y->tail)
        return x->tail < y->tail ? -1 : 1;
    return (x->rel > y->rel) - (x->rel < y->rel);
}

/* The right out-edges again, each entity's sorted by (tail, rel). */
static int build_by_tail(kga_structure_t *g)
{
    const side_graph_t *s = &g->side[1];
    g->by_tail_off = calloc((size_t)s->n + 1, sizeof *g->by_tail_off);
    if (g->by_tail_off == NULL)
        return KGA_ENOMEM;
    for (uint32_t i = 0; i < s->n; i++) {
        uint64_t m = 0;
        for (uint64_t x = s->off[i]; x < s->off[i + 1]; x++)
            m += (s->drel[x] & 1u) == 0;
        g->by_tail_off[i + 1] = g->by_tail_off[i] + m;
    }
    g->by_tail =
        malloc((size_t)(g->by_tail_off[s->n] + 1) * sizeof *g->by_tail);
    if (g->by_tail == NULL)
        return KGA_ENOMEM;
    for (uint32_t i = 0; i < s->n; i++) {
        tail_edge_t *o = g->by_tail + g->by_tail_off[i];
        size_t m = 0;
        for (uint64_t x = s->off[i]; x < s->off[i + 1]; x++)
            if ((s->drel[x] & 1u) == 0)
                o[m++] = (tail_edge_t){s->nbr[x], s->drel[x] / 2};
        qsort(o, m, sizeof *o, cmp_tail_edge);
    }
    return 0;
}

int kga_structure_new(const kga_store_t *left, const kga_store_t *right,
                      const kga_structure_params_t *p,
                      kga_structure_t **out, kga_err_t *err)
{
    int rc;
    *out = NULL;
    if ((rc = kga_structure_params_check(p, err)) != 0)
        return rc;
    kga_structure_t *g = calloc(1, sizeof *g);
    if (g == NULL)
        return kga_err_set(err, KGA_ENOMEM, "structure: out of memory");
    g->p = *p;
    if ((rc = side_build(left, &g->side[0], err)) != 0 ||
        (rc = side_build(right, &g->side[1], err)) != 0)
        goto fail;
    uint32_t n0 = g->side[0].n;
    g->anchor_key = malloc(((size_t)n0 + 1) * sizeof *g->anchor_key);
    if (g->anchor_key == NULL || (rc = build_by_tail(g)) != 0) {
        rc = kga_err_set(err, KGA_ENOMEM, "structure: out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < n0; i++) {
        const char *ext = kga_store_entity_ext_id(left, i);
        g->anchor_key[i] = kga_hash64(ext, strlen(ext));
    }
    *out = g;
    return 0;
fail:
    kga_structure_free(g);
    return rc;
}

void kga_structure_free(kga_structure_t *g)
{
    if (g == NULL)
        return;
    free(g->by_tail);
    free(g->by_tail_off);
    free(g->anchor_key);
    side_destroy(&g->side[1]);
    side_destroy(&g->side[0]);
    free(g);
}

/* ---- random vectors ----------------------------------------------------- */

/* A unit Gaussian vector (Box-Muller) drawn from (seed, key). */
static void anchor_vector(uint64_t seed, uint64_t key, float *x, uint32_t d)
{
    kga_rng_t r;
    kga_rng_init(&r, seed ^ ANCHOR_SALT, key);
    kga_rng_gaussians(&r, x, d, 1.0);
    kga_vnormalize(x, d);
}

/* A +-1 vector for one direction of the relation with name hash key. */
static void relation_vector(uint64_t seed, uint64_t key, uint32_t dir,
                            float *v, uint32_t d)
{
    kga_rng_t r;
    kga_rng_init(&r, seed ^ (dir ? RELATION_SALT_TAIL : RELATION_SALT_HEAD),
                 key);
    uint64_t bits = 0;
    for (uint32_t k = 0; k < d; k++) {
        if (k % 64 == 0)
            bits = kga_rng_next(&r);
        v[k] = (bits >> (k % 64)) & 1u ? 1.0f : -1.0f;
    }
}

/* ---- soft relation alignment -------------------------------------------- */

typedef struct {
    uint64_t *a;
    size_t n, cap;
} u64_list_t;

static int list_push(u64_list_t *l, uint64_t x)
{
    int rc = kga_grow(&l->a, &l->cap, l->n + 1, 4096, sizeof *l->a);
    if (rc != 0)
        return rc;
    l->a[l->n++] = x;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Range of right out-edges of h with tail t: [*lo, *hi). */
static void find_triples(const kga_structure_t *g, uint32_t h, uint32_t t,
                         uint64_t *lo, uint64_t *hi)
{
    const tail_edge_t *e = g->by_tail;
    uint64_t a = g->by_tail_off[h], b = g->by_tail_off[h + 1];
    while (a < b) {
        uint64_t mid = a + (b - a) / 2;
        if (e[mid].tail < t)
            a = mid + 1;
        else
            b = mid;
    }
    *lo = a;
    b = g->by_tail_off[h + 1];
    while (a < b && e[a].tail == t)
        a++;
    *hi = a;
}

/* Pushes the (right, left) directed relation pairs of every left triple
 * whose head and tail both map to a right triple: key = rho' << 32 | rho. */
static int collect_matches(const kga_structure_t *g, const uint32_t *map,
                           u64_list_t *out)
{
    const side_graph_t *L = &g->side[0];
    for (uint32_t h = 0; h < L->n; h++) {
        if (map[h] == NO_MATCH)
            continue;
        for (uint64_t x = L->off[h]; x < L->off[h + 1]; x++) {
            if (L->drel[x] & 1u)
                continue; /* each triple once: as an out-edge of its head */
            uint32_t t = L->nbr[x];
            if (map[t] == NO_MATCH)
                continue;
            uint64_t r = L->drel[x] / 2;
            for (int rev = 0; rev < 2; rev++) {
                uint64_t lo, hi;
                find_triples(g, rev ? map[t] : map[h], rev ? map[h] : map[t],
                             &lo, &hi);
                for (uint64_t y = lo; y < hi; y++) {
                    uint64_t r2 = g->by_tail[y].rel;
                    /* Same orientation: head side with head side; reversed:
                     * crossed. */
                    uint64_t a = (2 * r2 + (uint64_t)rev) << 32 | (2 * r);
                    uint64_t b = (2 * r2 + 1 - (uint64_t)rev) << 32 |
                                 (2 * r + 1);
                    int rc;
                    if ((rc = list_push(out, a)) != 0 ||
                        (rc = list_push(out, b)) != 0)
                        return rc;
                }
            }
        }
    }
    return 0;
}

/* Directed relation vectors of both sides: vl (2 nrel_left x d) random,
 * vr (2 nrel_right x d) aligned where the seeds say so. */
static int relation_vectors(const kga_structure_t *g, const uint32_t *map,
                            float *vl, float *vr,
                            kga_structure_stats_t *stats)
{
    uint32_t d = g->p.dim;
    const side_graph_t *L = &g->side[0], *R = &g->side[1];
    for (uint32_t q = 0; q < 2 * L->nrel; q++)
        relation_vector(g->p.seed, L->rel_key[q / 2], q & 1u,
                        vl + (size_t)q * d, d);
    for (uint32_t q = 0; q < 2 * R->nrel; q++)
        relation_vector(g->p.seed, R->rel_key[q / 2], q & 1u,
                        vr + (size_t)q * d, d);

    u64_list_t m = {0};
    double *acc = malloc((size_t)d * sizeof *acc);
    int rc = acc != NULL ? collect_matches(g, map, &m) : KGA_ENOMEM;
    if (rc != 0)
        goto out;
    if (m.n > 0)
        qsort(m.a, m.n, sizeof *m.a, cmp_u64);
    stats->matched_triples = m.n / 2;
    /* One group per right directed relation, its left relations in
     * increasing order: v = sum_rho count / total * v_rho. */
    for (size_t x = 0; x < m.n;) {
        uint32_t q = (uint32_t)(m.a[x] >> 32);
        size_t end = x;
        while (end < m.n && (uint32_t)(m.a[end] >> 32) == q)
            end++;
        double total = (double)(end - x);
        memset(acc, 0, (size_t)d * sizeof *acc);
        for (size_t y = x; y < end;) {
            uint32_t rho = (uint32_t)m.a[y];
            size_t z = y;
            while (z < end && (uint32_t)m.a[z] == rho)
                z++;
            double w = (double)(z - y) / total;
            const float *u = vl + (size_t)rho * d;
            for (uint32_t k = 0; k < d; k++)
                acc[k] += w * u[k];
            y = z;
        }
        double nn = 0.0;
        for (uint32_t k = 0; k < d; k++)
            nn += acc[k] * acc[k];
        if (nn > 0.0) { /* else: the vectors cancelled; keep its own */
            double f = sqrt((double)d / nn);
            float *v = vr + (size_t)q * d;
            for (uint32_t k = 0; k < d; k++)
                v[k] = (float)(acc[k] * f);
            stats->right_relations_aligned++;
        }
        x = end;
    }
out:
    free(acc);
    free(m.a);
    return rc;
}

/* ---- propagation -------------------------------------------------------- */

/* The propagation runs one side at a time and keeps only two float blocks
 * per entity: X_{h-1}, read by every row, and X_h, being written. Each
 * block goes to the quantized output as soon as it is done; the typed hop
 * T_h is computed while X_{h-1} is at hand, a row at a time. */

typedef enum { STAGE_HOP, STAGE_TYPED, STAGE_SIGNATURE, STAGE_FINISH } stage_t;

typedef struct {
    const kga_structure_t *g;
    int side;
    const float *cur;  /* n x d: X_{h-1} */
    float *nxt;        /* n x d: X_h (STAGE_HOP) */
    float *tmp;        /* per worker: d */
    kga_qmatrix_t *Q;
    const float *relv;
    uint32_t d;
    stage_t stage;
    uint32_t dst; /* block written */
    kga_progress_ticker_t *ticker; /* rows of every stage */
} prop_ctx_t;

static void prop_row(const prop_ctx_t *c, uint32_t i, float *tmp)
{
    const side_graph_t *s = &c->g->side[c->side];
    uint32_t d = c->d;
    float *y = c->stage == STAGE_HOP ? c->nxt + (size_t)i * d : tmp;

    switch (c->stage) {
    case STAGE_HOP:
    case STAGE_TYPED:
        memset(y, 0, (size_t)d * sizeof *y);
        for (uint64_t x = s->off[i]; x < s->off[i + 1]; x++) {
            uint32_t j = s->nbr[x];
            if (j == i)
                continue;
            const float *xj = c->cur + (size_t)j * d;
            if (c->stage == STAGE_HOP) {
                kga_vaxpy(y, s->w[x], xj, d);
            } else {
                const float *v = c->relv + (size_t)s->drel[x] * d;
                float w = s->w[x];
                for (uint32_t k = 0; k < d; k++)
                    y[k] += w * (v[k] * xj[k]);
            }
        }
        kga_vnormalize(y, d);
        kga_qmatrix_set(c->Q, i, c->dst, y);
        return;
    case STAGE_SIGNATURE:
        memset(y, 0, (size_t)d * sizeof *y);
        for (uint64_t x = s->off[i]; x < s->off[i + 1]; x++)
            kga_vaxpy(y, 1.0f, c->relv + (size_t)s->drel[x] * d, d);
        kga_vnormalize(y, d);
        kga_qmatrix_set(c->Q, i, c->dst, y);
        return;
    case STAGE_FINISH:
        kga_qmatrix_normalize_row(c->Q, i);
        return;
    }
}

static void prop_chunk(void *ctx, size_t begin, size_t end, int worker)
{
    const prop_ctx_t *c = ctx;
    float *tmp = c->tmp + (size_t)worker * c->d;
    for (size_t x = begin; x < end; x++)
        prop_row(c, (uint32_t)x, tmp);
    kga_progress_tick(c->ticker, end - begin, worker);
}

static void run_stage(kga_pool_t *pool, prop_ctx_t *c, stage_t stage,
                      uint32_t dst)
{
    c->stage = stage;
    c->dst = dst;
    kga_pool_run(pool, c->g->side[c->side].n, ROW_GRAIN, prop_chunk, c);
}

typedef struct {
    const kga_structure_t *g;
    const kga_pair_t *seeds;
    int side;
    float *X0;
    kga_qmatrix_t *Q;
} anchor_ctx_t;

static void anchor_chunk(void *ctx, size_t begin, size_t end, int worker)
{
    const anchor_ctx_t *c = ctx;
    uint32_t d = c->g->p.dim;
    (void)worker;
    for (size_t x = begin; x < end; x++) {
        const kga_pair_t *sp = &c->seeds[x];
        uint32_t e = c->side ? sp->right : sp->left;
        float *a = c->X0 + (size_t)e * d;
        anchor_vector(c->g->p.seed, c->g->anchor_key[sp->left], a, d);
        kga_qmatrix_set(c->Q, e, 0, a);
    }
}

/* All blocks of one side into Q. */
static int propagate_side(const kga_structure_t *g, int side,
                           const kga_pair_t *seeds, size_t n,
                           const float *relv, float *X[2], float *tmp,
                           kga_qmatrix_t *Q, kga_pool_t *pool,
                           kga_progress_ticker_t *ticker)
{
    const kga_structure_params_t *p = &g->p;
    uint32_t d = p->dim, ne = g->side[side].n;
    float *cur = X[0], *nxt = X[1];
    memset(cur, 0, (size_t)ne * d * sizeof *cur);
    anchor_ctx_t a = {g, seeds, side, cur, Q};
    kga_pool_run(pool, n, ROW_GRAIN, anchor_chunk, &a);
    kga_progress_tick(ticker, ne, 0);
    prop_ctx_t c = {.g = g, .side = side, .tmp = tmp, .Q = Q, .relv = relv,
                    .d = d, .ticker = ticker};
    for (uint32_t h = 1; h <= p->hops + 1; h++) {
        c.cur = cur;
        if (h <= p->typed_hops) /* T_h from X_{h-1} */
            run_stage(pool, &c, STAGE_TYPED, p->hops + h);
        if (h > p->hops)
            break;
        c.nxt = nxt;
        run_stage(pool, &c, STAGE_HOP, h);
        float *t = cur;
        cur = nxt;
        nxt = t;
    }
    if (p->signature)
        run_stage(pool, &c, STAGE_SIGNATURE, 1 + p->hops + p->typed_hops);
    if (p->context_blocks > 0) {
        int rc = kga_structure_context(g, side, Q, context_first(p), X[0],
                                       pool);
        if (rc != 0)
            return rc;
        kga_progress_tick(ticker, (uint64_t)ne * p->context_blocks, 0);
    }
    run_stage(pool, &c, STAGE_FINISH, 0);
    return 0;
}

/* Checks ids and one-to-one use; fills map (left -> right). */
static int check_seeds(const kga_structure_t *g, const kga_pair_t *seeds,
                       size_t n, uint32_t *map, uint8_t *right_used,
                       kga_err_t *err)
{
    uint32_t n0 = g->side[0].n, n1 = g->side[1].n;
    for (uint32_t i = 0; i < n0; i++)
        map[i] = NO_MATCH;
    memset(right_used, 0, (size_t)n1 + 1);
    for (size_t x = 0; x < n; x++) {
        uint32_t l = seeds[x].left, r = seeds[x].right;
        if (l >= n0 || r >= n1)
            return kga_err_set(err, KGA_EINVAL,
                               "structure: seed %zu: id out of range (%u, %u)",
                               x, l, r);
        if (map[l] != NO_MATCH || right_used[r])
            return kga_err_set(err, KGA_EINVAL,
                               "structure: seed %zu: %s entity %u is already "
                               "in a seed",
                               x, map[l] != NO_MATCH ? "left" : "right",
                               map[l] != NO_MATCH ? l : r);
        map[l] = r;
        right_used[r] = 1;
    }
    return 0;
}

/* The relation vectors of both sides for a seed list, allocated into
 * v[0] (left) and v[1] (right). */
static int seeded_relations(const kga_structure_t *g, const kga_pair_t *seeds,
                            size_t n, float *v[2],
                            kga_structure_stats_t *stats, kga_err_t *err)
{
    const side_graph_t *L = &g->side[0], *R = &g->side[1];
    uint32_t d = g->p.dim;
    uint32_t *map = malloc(((size_t)L->n + 1) * sizeof *map);
    uint8_t *right_used = malloc((size_t)R->n + 1);
    v[0] = malloc(((size_t)2 * L->nrel * d + 1) * sizeof *v[0]);
    v[1] = malloc(((size_t)2 * R->nrel * d + 1) * sizeof *v[1]);
    int rc;
    if (!map || !right_used || !v[0] || !v[1]) {
        rc = kga_err_set(err, KGA_ENOMEM, "structure: out of memory");
        goto out;
    }
    if ((rc = check_seeds(g, seeds, n, map, right_used, err)) != 0)
        goto out;
    if ((rc = relation_vectors(g, map, v[0], v[1], stats)) != 0)
        kga_err_set(err, rc, "structure: relation alignment: %s",
                    kga_strerror(rc));
out:
    free(right_used);
    free(map);
    if (rc != 0) {
        free(v[0]);
        free(v[1]);
        v[0] = v[1] = NULL;
    }
    return rc;
}

int kga_structure_features(const kga_structure_t *g,
                           const kga_pair_t *seeds, size_t n,
                           kga_pool_t *pool, kga_progress_ticker_t *ticker,
                           kga_qmatrix_t *left_out, kga_qmatrix_t *right_out,
                           kga_structure_stats_t *stats, kga_err_t *err)
{
    const kga_structure_params_t *p = &g->p;
    const side_graph_t *L = &g->side[0], *R = &g->side[1];
    uint32_t d = p->dim, D = kga_structure_width(p);
    kga_structure_stats_t local;
    int rc;

    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    stats->seeds = (uint32_t)n;
    stats->right_relations = 2 * R->nrel;
    kga_qmatrix_t *Q[2] = {left_out, right_out};
    for (int s = 0; s < 2; s++)
        if (Q[s]->rows != g->side[s].n || Q[s]->dim != d ||
            (size_t)Q[s]->blocks * Q[s]->dim != D)
            return kga_err_set(err, KGA_EINVAL,
                               "structure: the %s output is %u x %u x %u, "
                               "not %u x %u x %u",
                               s ? "right" : "left", Q[s]->rows,
                               Q[s]->blocks, Q[s]->dim, g->side[s].n, D / d,
                               d);

    uint32_t nmax = L->n > R->n ? L->n : R->n;
    int nw = kga_pool_threads(pool);
    float *v[2] = {NULL, NULL};
    if ((rc = seeded_relations(g, seeds, n, v, stats, err)) != 0)
        return rc;
    float *X[2] = {malloc(((size_t)nmax * d + 1) * sizeof(float)),
                   malloc(((size_t)nmax * d + 1) * sizeof(float))};
    float *tmp = malloc(((size_t)nw * d + 1) * sizeof *tmp);
    if (!X[0] || !X[1] || !tmp) {
        rc = kga_err_set(err, KGA_ENOMEM, "structure: out of memory");
        goto out;
    }
    for (int s = 0; s < 2; s++) {
        memset(Q[s]->code, 0, (size_t)Q[s]->rows * D);
        memset(Q[s]->scale, 0,
               (size_t)Q[s]->rows * Q[s]->blocks * sizeof *Q[s]->scale);
        if ((rc = propagate_side(g, s, seeds, n, v[s], X, tmp, Q[s], pool,
                                 ticker)) != 0) {
            kga_err_set(err, rc, "structure: out of memory (context)");
            goto out;
        }
    }
    rc = 0;
out:
    free(tmp);
    free(X[1]);
    free(X[0]);
    free(v[1]);
    free(v[0]);
    return rc;
}

/* ---- entities outside the graph ------------------------------------------ */

struct kga_structure_relations {
    kga_structure_params_t p;
    uint32_t nrel[2];
    float *w[2]; /* per directed relation: its edges' propagation weight */
    float *v[2]; /* per directed relation: dim floats */
    /* The context blocks' relation features (per directed relation) and
     * neighbour projections (every block's); NULL without context. */
    float *rp[2];
    float *W;
};

void kga_structure_relations_free(kga_structure_relations_t *r)
{
    if (r == NULL)
        return;
    for (int s = 0; s < 2; s++) {
        free(r->w[s]);
        free(r->v[s]);
        free(r->rp[s]);
    }
    free(r->W);
    free(r);
}

/* The context blocks' relation features of both sides, from the features
 * F (kga_context_input reads their blocks as propagation wrote them), and
 * every block's neighbour projection. */
static int context_relations(const kga_structure_t *g,
                             const kga_qmatrix_t *F[2],
                             kga_structure_relations_t *r)
{
    const kga_structure_params_t *p = &g->p;
    if (p->context_blocks == 0)
        return 0;
    size_t R = kga_context_relation_width(p);
    size_t wb = (size_t)(p->context_levels + 1) * p->dim * p->dim;
    r->W = malloc(p->context_blocks * wb * sizeof *r->W);
    if (r->W == NULL)
        return KGA_ENOMEM;
    for (uint32_t b = 0; b < p->context_blocks; b++)
        kga_context_projection(p, b, r->W + b * wb);
    for (int s = 0; s < 2; s++) {
        r->rp[s] = malloc(((size_t)2 * g->side[s].nrel * R + 1) *
                          sizeof *r->rp[s]);
        if (r->rp[s] == NULL || kga_context_relations(g, s, F[s], r->rp[s]))
            return KGA_ENOMEM;
    }
    return 0;
}

int kga_structure_relations_new(const kga_structure_t *g,
                                const kga_pair_t *seeds, size_t n,
                                const kga_qmatrix_t *left_features,
                                const kga_qmatrix_t *right_features,
                                kga_structure_relations_t **out,
                                kga_err_t *err)
{
    *out = NULL;
    kga_structure_relations_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return kga_err_set(err, KGA_ENOMEM, "structure: out of memory");
    r->p = g->p;
    kga_structure_stats_t stats;
    memset(&stats, 0, sizeof stats);
    int rc = seeded_relations(g, seeds, n, r->v, &stats, err);
    for (int s = 0; rc == 0 && s < 2; s++) {
        const side_graph_t *sg = &g->side[s];
        r->nrel[s] = sg->nrel;
        r->w[s] = malloc(((size_t)2 * sg->nrel + 1) * sizeof *r->w[s]);
        if (r->w[s] == NULL) {
            rc = kga_err_set(err, KGA_ENOMEM, "structure: out of memory");
            break;
        }
        /* A relation without triples has no weight in the graph; 1 is the
         * weight of a relation whose every triple is distinct. */
        for (uint32_t q = 0; q < 2 * sg->nrel; q++)
            r->w[s][q] = 1.0f;
        for (uint64_t x = 0; x < sg->off[sg->n]; x++)
            r->w[s][sg->drel[x]] = sg->w[x];
    }
    const kga_qmatrix_t *F[2] = {left_features, right_features};
    if (rc == 0 && context_relations(g, F, r) != 0)
        rc = kga_err_set(err, KGA_ENOMEM, "structure: out of memory");
    if (rc != 0) {
        kga_structure_relations_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

static size_t first_width(const kga_structure_params_t *p)
{
    return (size_t)context_first(p) * p->dim;
}

size_t kga_structure_row_work(const kga_structure_relations_t *r)
{
    const kga_structure_params_t *p = &r->p;
    return kga_structure_width(p) +
           (size_t)(p->context_levels + 2 + p->context_blocks) * p->dim;
}

/* Block b of graph entity e's row as propagation wrote it, before the
 * row was normalised: every block was unit or zero then, and the final
 * normalisation scaled them alike (up to the int8 rounding). */
static void block_of(const kga_qmatrix_t *F, uint32_t e, uint32_t b,
                     float *x)
{
    kga_qmatrix_block(F, e, b, x);
    kga_vnormalize(x, F->dim);
}

void kga_structure_row(const kga_structure_relations_t *r, int side,
                       const kga_structure_edge_t *edges, size_t n,
                       const kga_qmatrix_t *F, float *work,
                       kga_qmatrix_t *out, uint32_t row)
{
    const kga_structure_params_t *p = &r->p;
    uint32_t d = p->dim, D = kga_structure_width(p);
    side = side != 0;
    float x[KGA_STRUCTURE_MAX_DIM];
    memset(work, 0, (size_t)first_width(p) * sizeof *work); /* X0: 0 */
    for (size_t e = 0; e < n; e++) {
        uint32_t q = 2 * edges[e].rel + (edges[e].dir != 0);
        uint32_t nbr = edges[e].nbr;
        float w = r->w[side][q];
        const float *v = r->v[side] + (size_t)q * d;
        for (uint32_t h = 1; h <= p->hops; h++) {
            block_of(F, nbr, h - 1, x);
            kga_vaxpy(work + (size_t)h * d, w, x, d);
        }
        for (uint32_t h = 1; h <= p->typed_hops; h++) {
            block_of(F, nbr, h - 1, x);
            float *y = work + (size_t)(p->hops + h) * d;
            for (uint32_t k = 0; k < d; k++)
                y[k] += w * (v[k] * x[k]);
        }
        if (p->signature)
            kga_vaxpy(work + (size_t)(1 + p->hops + p->typed_hops) * d, 1.0f,
                      v, d);
    }
    uint32_t first = context_first(p);
    for (uint32_t b = 0; b < first; b++) {
        if (b > 0)
            kga_vnormalize(work + (size_t)b * d, d);
        kga_qmatrix_set(out, row, b, work + (size_t)b * d);
    }
    if (p->context_blocks > 0)
        kga_context_row(p, r->rp[side], r->W, edges, n, F, work + D, out,
                        row, first);
    kga_qmatrix_normalize_row(out, row);
}
