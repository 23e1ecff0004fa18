/* The training loop: batches, negatives, hard-negative pools, Adam. */
#include "train/gnn_train.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/ann.h"
#include "gnn/adam.h"
#include "base/clock.h"
#include "base/rng.h"
#include "base/vec.h"

/* Adam work items: dense tensors in blocks of elements, sparse ones in
 * blocks of rows. */
#define ADAM_BLOCK 65536
#define ADAM_ROWS 2048
/* Queries per block of the hard-negative search. */
#define QUERY_BLOCK 64
/* Above this many (link, entity) pairs a direction of the hard-negative
 * search is approximate (features/ann.h): comparing every training link
 * with every entity grows with the square of the graph. */
#define HARD_EXACT_PAIRS 2.0e9
/* Tries to find a uniform negative that is not a training link. */
#define NEG_TRIES 32
/* RNG streams: shuffling, negatives of each batch. */
#define STREAM_SHUFFLE 0xffffffffull

typedef struct {
    float *p, *g, *m, *v;
    uint8_t *touched; /* sparse tensors */
    size_t count, width;
} tstate_t;

typedef struct {
    uint32_t tensor;
    size_t begin, end; /* elements, or rows of a sparse tensor */
} adam_task_t;

struct kga_gnn_trainer {
    kga_gnn_t *m;
    const kga_gnn_data_t *d;
    kga_pair_t *links;
    size_t n;
    uint64_t *gold; /* sorted (left << 32 | right) */
    int threads;
    kga_pool_t *pool;
    kga_gnn_work_t *work;
    kga_gnn_grad_t *grad;
    kga_adam_t adam;
    tstate_t *ts;
    size_t nts;
    adam_task_t *tasks;
    size_t ntasks;
    uint32_t epoch;
    uint32_t *order;
    size_t per_epoch; /* positives an epoch walks (0: all) */
    /* Hard pools: hard[0][k * K ..] are right entities near link k's left
     * entity, hard[1][k * K ..] left entities near its right entity. */
    uint32_t pool_k;
    uint32_t *hard[2];
    uint32_t *hard_n[2];
    int hard_ready;
    kga_pair_t *pairs;
    float *dist;
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pair_key(uint32_t left, uint32_t right)
{
    return (uint64_t)left << 32 | right;
}

static int is_gold(const kga_gnn_trainer_t *t, uint32_t left, uint32_t right)
{
    uint64_t k = pair_key(left, right);
    return bsearch(&k, t->gold, t->n, sizeof k, cmp_u64) != NULL;
}

void kga_gnn_trainer_free(kga_gnn_trainer_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nts; i++) {
        free(t->ts[i].m);
        free(t->ts[i].v);
    }
    free(t->ts);
    free(t->tasks);
    free(t->links);
    free(t->gold);
    free(t->order);
    free(t->hard[0]);
    free(t->hard[1]);
    free(t->hard_n[0]);
    free(t->hard_n[1]);
    free(t->pairs);
    free(t->dist);
    kga_gnn_grad_free(t->grad);
    kga_gnn_work_free(t->work);
    kga_pool_free(t->pool);
    free(t);
}

static int setup_adam(kga_gnn_trainer_t *t)
{
    size_t count = kga_gnn_tensor_count(t->m);
    t->ts = calloc(count > 0 ? count : 1, sizeof *t->ts);
    if (t->ts == NULL)
        return KGA_ENOMEM;
    size_t ntasks = 0;
    for (size_t i = 0; i < count; i++) {
        kga_gnn_tensor_t pt, gt;
        kga_gnn_tensor(t->m, i, &pt);
        if (!pt.trainable || pt.count == 0)
            continue;
        kga_gnn_grad_tensor(t->grad, i, &gt);
        tstate_t *s = &t->ts[t->nts++];
        s->p = pt.data;
        s->g = gt.data;
        s->count = pt.count;
        s->touched = pt.sparse ? kga_gnn_grad_touched(t->grad, i) : NULL;
        s->width = pt.sparse ? pt.dims[1] : 1;
        s->m = calloc(pt.count, sizeof(float));
        s->v = calloc(pt.count, sizeof(float));
        if (s->m == NULL || s->v == NULL)
            return KGA_ENOMEM;
        size_t units = s->touched != NULL ? pt.dims[0] : pt.count;
        size_t block = s->touched != NULL ? ADAM_ROWS : ADAM_BLOCK;
        ntasks += (units + block - 1) / block;
    }
    t->tasks = calloc(ntasks > 0 ? ntasks : 1, sizeof *t->tasks);
    if (t->tasks == NULL)
        return KGA_ENOMEM;
    for (size_t i = 0; i < t->nts; i++) {
        tstate_t *s = &t->ts[i];
        size_t units = s->touched != NULL ? s->count / s->width : s->count;
        size_t block = s->touched != NULL ? ADAM_ROWS : ADAM_BLOCK;
        for (size_t b = 0; b < units; b += block) {
            adam_task_t task = {(uint32_t)i, b,
                                b + block < units ? b + block : units};
            t->tasks[t->ntasks++] = task;
        }
    }
    const kga_gnn_config_t *c = kga_gnn_config(t->m);
    kga_adam_init(&t->adam, c->lr, c->beta1, c->beta2, c->adam_eps,
                  c->weight_decay);
    return 0;
}

int kga_gnn_trainer_new(kga_gnn_t *m, const kga_gnn_data_t *d,
                        const kga_pair_t *links, size_t count,
                        int threads, kga_gnn_trainer_t **out)
{
    *out = NULL;
    const kga_gnn_shape_t *sh = kga_gnn_shape(m);
    const kga_gnn_config_t *c = kga_gnn_config(m);
    if (count == 0 || count > UINT32_MAX || c->batch == 0)
        return KGA_EINVAL;
    for (size_t k = 0; k < count; k++)
        if (links[k].left >= sh->entities[0] ||
            links[k].right >= sh->entities[1])
            return KGA_EINVAL;
    int rc = kga_gnn_data_check(m, d, NULL);
    if (rc != 0)
        return rc;
    kga_gnn_trainer_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return KGA_ENOMEM;
    t->m = m;
    t->d = d;
    t->n = count;
    t->threads = threads;
    rc = KGA_ENOMEM;
    size_t per = 1 + (size_t)c->neg_right + c->neg_left;
    t->links = malloc(count * sizeof *t->links);
    t->gold = malloc(count * sizeof *t->gold);
    t->order = malloc(count * sizeof *t->order);
    t->pairs = malloc((size_t)c->batch * per * sizeof *t->pairs);
    t->dist = malloc((size_t)c->batch * per * sizeof *t->dist);
    if (t->links == NULL || t->gold == NULL || t->order == NULL ||
        t->pairs == NULL || t->dist == NULL)
        goto fail;
    memcpy(t->links, links, count * sizeof *links);
    for (size_t k = 0; k < count; k++)
        t->gold[k] = pair_key(links[k].left, links[k].right);
    qsort(t->gold, count, sizeof *t->gold, cmp_u64);
    t->pool_k = c->hard_negatives > 0 ? c->hard_pool : 0;
    if (t->pool_k > KGA_SAMPLE_MAX)
        t->pool_k = KGA_SAMPLE_MAX;
    if (t->pool_k > 0) {
        for (int s = 0; s < 2; s++) {
            t->hard[s] = malloc(count * t->pool_k * sizeof(uint32_t));
            t->hard_n[s] = calloc(count, sizeof(uint32_t));
            if (t->hard[s] == NULL || t->hard_n[s] == NULL)
                goto fail;
        }
    }
    if ((rc = kga_pool_new(threads, &t->pool)) != 0 ||
        (rc = kga_gnn_work_new(m, t->pool, &t->work)) != 0 ||
        (rc = kga_gnn_grad_new(m, &t->grad)) != 0 ||
        (rc = setup_adam(t)) != 0)
        goto fail;
    *out = t;
    return 0;
fail:
    kga_gnn_trainer_free(t);
    return rc != 0 ? rc : KGA_ENOMEM;
}

/* ------------------------------------------------------------------------
 * Hard-negative pools
 * ------------------------------------------------------------------------ */

typedef struct {
    kga_gnn_trainer_t *t;
    int dir;              /* 0: left queries against right targets */
    const float *qv, *tv; /* query side / target side vectors */
    const float *tnorm;   /* squared norms of the targets */
    uint32_t dim, nt;
    float *scores;        /* per worker: QUERY_BLOCK x nt */
    float *qbuf;          /* per worker: QUERY_BLOCK x dim */
    const uint32_t *sel;  /* the links to refresh */
    size_t nsel;
} hard_ctx_t;

static void hard_chunk(void *ctx, size_t b, size_t e, int worker)
{
    hard_ctx_t *h = ctx;
    kga_gnn_trainer_t *t = h->t;
    uint32_t K = t->pool_k;
    float *scores = h->scores + (size_t)worker * QUERY_BLOCK * h->nt;
    float *q = h->qbuf + (size_t)worker * QUERY_BLOCK * h->dim;
    float best[KGA_SAMPLE_MAX];
    uint32_t pick[KGA_SAMPLE_MAX];
    for (size_t blk = b; blk < e; blk++) {
        size_t k0 = blk * QUERY_BLOCK;
        size_t nq = h->nsel - k0 < QUERY_BLOCK ? h->nsel - k0 : QUERY_BLOCK;
        for (size_t i = 0; i < nq; i++) {
            const kga_pair_t *lk = &t->links[h->sel[k0 + i]];
            uint32_t ent = h->dir == 0 ? lk->left : lk->right;
            memcpy(q + i * h->dim, h->qv + (size_t)ent * h->dim,
                   h->dim * sizeof(float));
        }
        /* ||q - x||^2 ranks like ||x||^2 - 2 q.x. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq,
                    (int)h->nt, (int)h->dim, -2.0f, q, (int)h->dim, h->tv,
                    (int)h->dim, 0.0f, scores, (int)h->nt);
        for (size_t i = 0; i < nq; i++) {
            size_t link = h->sel[k0 + i];
            const kga_pair_t *lk = &t->links[link];
            const float *row = scores + i * h->nt;
            uint32_t cnt = 0;
            for (uint32_t x = 0; x < h->nt; x++) {
                float key = row[x] + h->tnorm[x];
                if (cnt == K && !(key < best[cnt - 1]))
                    continue;
                if (h->dir == 0 ? is_gold(t, lk->left, x)
                                : is_gold(t, x, lk->right))
                    continue;
                uint32_t j = cnt < K ? cnt++ : cnt - 1;
                while (j > 0 && best[j - 1] > key) {
                    best[j] = best[j - 1];
                    pick[j] = pick[j - 1];
                    j--;
                }
                best[j] = key;
                pick[j] = x;
            }
            memcpy(t->hard[h->dir] + link * K, pick, cnt * sizeof *pick);
            t->hard_n[h->dir][link] = cnt;
        }
    }
}

/* One direction of the hard pools by the nearest-neighbour index: the
 * K + 1 nearest of each link's entity, the gold partner left out. */
static int hard_approx(kga_gnn_trainer_t *t, int dir, const float *qv,
                       const float *tv, uint32_t dim, uint32_t nt,
                       const uint32_t *sel, size_t nsel,
                       kga_progress_ticker_t *ticker)
{
    uint32_t K = t->pool_k;
    size_t kk = (size_t)K + 1;
    uint32_t *q = malloc((nsel + 1) * sizeof *q);
    uint32_t *idx = malloc((nsel * kk + 1) * sizeof *idx);
    float *sc = malloc((nsel * kk + 1) * sizeof *sc);
    kga_ann_t *ix = NULL;
    int rc = KGA_ENOMEM;
    if (q == NULL || idx == NULL || sc == NULL)
        goto out;
    for (size_t i = 0; i < nsel; i++)
        q[i] = dir == 0 ? t->links[sel[i]].left : t->links[sel[i]].right;
    kga_ann_params_t ap;
    kga_ann_params_init(&ap);
    ap.metric = KGA_ANN_L2;
    ap.probes = 8; /* negatives need be hard, not the very hardest */
    if ((rc = kga_ann_new(tv, dim, NULL, nt, NULL, &ap, t->pool, NULL, &ix,
                          NULL)) != 0 ||
        (rc = kga_ann_search(ix, qv, q, nsel, NULL, kk, 0, t->pool, ticker,
                             idx, sc, NULL)) != 0)
        goto out;
    for (size_t i = 0; i < nsel; i++) {
        size_t k = sel[i];
        const kga_pair_t *lk = &t->links[k];
        uint32_t cnt = 0;
        for (size_t r = 0; r < kk && cnt < K; r++) {
            uint32_t x = idx[i * kk + r];
            if (x == UINT32_MAX)
                break;
            if (dir == 0 ? is_gold(t, lk->left, x) : is_gold(t, x, lk->right))
                continue;
            t->hard[dir][k * K + cnt++] = x;
        }
        t->hard_n[dir][k] = cnt;
    }
out:
    kga_ann_free(ix);
    free(sc);
    free(idx);
    free(q);
    return rc;
}

/* The hard pools of the links sel[0 .. nsel), from the current model. */
static int refresh_hard(kga_gnn_trainer_t *t, const uint32_t *sel,
                        size_t nsel, const kga_progress_t *progress)
{
    kga_gnn_cache_t *cache = NULL;
    int rc = kga_gnn_cache_build(t->m, t->d, t->threads, &cache);
    if (rc != 0)
        return rc;
    const kga_gnn_shape_t *sh = kga_gnn_shape(t->m);
    uint32_t dim;
    const float *vec[2] = {kga_gnn_cache_vectors(cache, 0, &dim),
                           kga_gnn_cache_vectors(cache, 1, &dim)};
    uint32_t nmax = sh->entities[0] > sh->entities[1] ? sh->entities[0]
                                                      : sh->entities[1];
    int threads = kga_pool_threads(t->pool);
    float *norm = NULL, *scores = NULL, *qbuf = NULL;
    char stage[64];
    snprintf(stage, sizeof stage, "GNN epoch %u: hard negatives",
             t->epoch + 1);
    kga_progress_ticker_t tk;
    kga_progress_ticker_init(&tk, progress, stage, "queries", 2 * nsel);
    int prev = kga_blas_serial_enter();
    for (int dir = 0; dir < 2 && rc == 0; dir++) {
        int tside = 1 - dir;
        uint32_t nt = sh->entities[tside];
        if ((double)nsel * nt > HARD_EXACT_PAIRS) {
            rc = hard_approx(t, dir, vec[dir], vec[tside], dim, nt, sel, nsel,
                             &tk);
            continue;
        }
        if (norm == NULL) {
            norm = malloc(((size_t)nmax + 1) * sizeof *norm);
            scores = malloc((size_t)threads * QUERY_BLOCK * nmax *
                                sizeof *scores + 4);
            qbuf = malloc((size_t)threads * QUERY_BLOCK * dim * sizeof *qbuf +
                          4);
            if (norm == NULL || scores == NULL || qbuf == NULL) {
                rc = KGA_ENOMEM;
                break;
            }
        }
        for (uint32_t x = 0; x < nt; x++)
            norm[x] = kga_vdot(vec[tside] + (size_t)x * dim,
                               vec[tside] + (size_t)x * dim, dim);
        hard_ctx_t h = {t, dir, vec[dir], vec[tside], norm, dim, nt, scores,
                        qbuf, sel, nsel};
        kga_pool_run(t->pool, (nsel + QUERY_BLOCK - 1) / QUERY_BLOCK, 1,
                     hard_chunk, &h);
        kga_progress_tick(&tk, nsel, 0);
    }
    kga_blas_serial_leave(prev);
    if (rc == 0)
        t->hard_ready = 1;
    free(norm);
    free(scores);
    free(qbuf);
    kga_gnn_cache_free(cache);
    return rc;
}

/* ------------------------------------------------------------------------
 * Epochs
 * ------------------------------------------------------------------------ */

/* Fills the `count` negatives of one side for link k: hard ones drawn
 * without replacement from its pool, the rest uniform, none a training
 * link. dir 0 corrupts the right side. */
static void corrupt(const kga_gnn_trainer_t *t, kga_rng_t *rng, size_t k,
                    int dir, uint32_t count, uint32_t hard,
                    kga_pair_t *out)
{
    const kga_pair_t lk = t->links[k];
    uint32_t n = kga_gnn_shape(t->m)->entities[1 - dir];
    uint32_t got = 0;
    if (hard > 0 && t->hard_ready) {
        uint32_t avail = t->hard_n[dir][k];
        uint32_t cand[KGA_SAMPLE_MAX];
        memcpy(cand, t->hard[dir] + k * t->pool_k, avail * sizeof *cand);
        for (; got < hard && got < avail; got++) {
            uint32_t j = got + kga_rng_below(rng, avail - got);
            uint32_t x = cand[j];
            cand[j] = cand[got];
            cand[got] = x;
            out[got] = lk;
            if (dir == 0)
                out[got].right = x;
            else
                out[got].left = x;
        }
    }
    for (; got < count; got++) {
        kga_pair_t p = lk;
        for (int tries = 0; tries < NEG_TRIES; tries++) {
            uint32_t x = kga_rng_below(rng, n);
            if (dir == 0)
                p.right = x;
            else
                p.left = x;
            if (!is_gold(t, p.left, p.right))
                break;
        }
        out[got] = p;
    }
}

static void adam_chunk(void *ctx, size_t b, size_t e, int worker)
{
    kga_gnn_trainer_t *t = ctx;
    (void)worker;
    for (size_t i = b; i < e; i++) {
        const adam_task_t *task = &t->tasks[i];
        tstate_t *s = &t->ts[task->tensor];
        if (s->touched == NULL) {
            size_t o = task->begin, n = task->end - task->begin;
            kga_adam_update(&t->adam, s->p + o, s->m + o, s->v + o, s->g + o,
                            n);
            memset(s->g + o, 0, n * sizeof(float));
            continue;
        }
        for (size_t r = task->begin; r < task->end; r++) {
            if (!s->touched[r])
                continue;
            size_t o = r * s->width;
            kga_adam_update(&t->adam, s->p + o, s->m + o, s->v + o, s->g + o,
                            s->width);
            memset(s->g + o, 0, s->width * sizeof(float));
            s->touched[r] = 0;
        }
    }
}

void kga_gnn_trainer_limit(kga_gnn_trainer_t *t, size_t positives)
{
    t->per_epoch = positives;
}

int kga_gnn_trainer_epoch(kga_gnn_trainer_t *t,
                          const kga_progress_t *progress,
                          kga_gnn_epoch_stats_t *stats)
{
    const kga_gnn_config_t *c = kga_gnn_config(t->m);
    double start = kga_clock_seconds(), hard_seconds = 0.0;
    uint32_t epoch = t->epoch;
    int rc;
    kga_rng_t rng;
    kga_rng_init(&rng, c->seed, (uint64_t)epoch << 32 | STREAM_SHUFFLE);
    for (size_t k = 0; k < t->n; k++)
        t->order[k] = (uint32_t)k;
    kga_rng_shuffle_u32(&rng, t->order, t->n);
    /* With a limit, each epoch walks the first `used` of its own shuffle:
     * another sample of the links every epoch. */
    size_t used = t->per_epoch > 0 && t->per_epoch < t->n ? t->per_epoch
                                                           : t->n;
    if (t->pool_k > 0 && epoch >= c->hard_start) {
        rc = refresh_hard(t, t->order, used, progress);
        if (rc != 0)
            return rc;
        hard_seconds = kga_clock_seconds() - start;
    }

    uint32_t negs = c->neg_right + c->neg_left;
    size_t per = 1 + (size_t)negs;
    size_t batches = (used + c->batch - 1) / c->batch;
    double loss_sum = 0.0;
    uint64_t active = 0, terms = 0;
    int prev = kga_blas_serial_enter();
    char stage[64];
    snprintf(stage, sizeof stage, "GNN epoch %u: training", epoch + 1);
    rc = 0;
    for (size_t bi = 0; bi < batches && rc == 0; bi++) {
        size_t first = bi * c->batch;
        size_t groups = used - first < c->batch ? used - first : c->batch;
        kga_rng_init(&rng, c->seed, (uint64_t)epoch << 32 | bi);
        for (size_t gi = 0; gi < groups; gi++) {
            size_t k = t->order[first + gi];
            kga_pair_t *g = t->pairs + gi * per;
            g[0] = t->links[k];
            corrupt(t, &rng, k, 0, c->neg_right, c->hard_negatives, g + 1);
            corrupt(t, &rng, k, 1, c->neg_left, c->hard_negatives,
                    g + 1 + c->neg_right);
        }
        kga_gnn_batch_t batch = {
            .pairs = t->pairs,
            .groups = groups,
            .negatives = negs,
            .seed = {kga_sample_seed(c->seed, epoch, 0),
                     kga_sample_seed(c->seed, epoch, 1)},
        };
        double loss;
        rc = kga_gnn_batch_run(t->work, t->m, t->d, &batch, t->grad, &loss,
                               t->dist);
        if (rc != 0)
            break;
        if (!isfinite(loss)) {
            rc = KGA_ENUMERIC;
            break;
        }
        loss_sum += loss * (double)groups;
        for (size_t gi = 0; gi < groups; gi++)
            for (size_t k = 1; k < per; k++) {
                const float *dg = t->dist + gi * per;
                active += kga_op_hinge_fwd(dg[0], dg[k], c->margin) > 0.0f;
                terms++;
            }
        kga_adam_begin_step(&t->adam);
        kga_pool_run(t->pool, t->ntasks, 1, adam_chunk, t);
        kga_progress_report(progress, stage, "positives",
                            first + groups, used);
    }
    kga_blas_serial_leave(prev);
    if (rc != 0)
        return rc;
    t->epoch++;
    if (stats != NULL) {
        stats->epoch = epoch;
        stats->positives = used;
        stats->loss = loss_sum / (double)used;
        stats->active = terms > 0 ? (double)active / (double)terms : 0.0;
        stats->seconds = kga_clock_seconds() - start;
        stats->hard_seconds = hard_seconds;
    }
    return 0;
}

int kga_gnn_train(kga_gnn_t *m, const kga_gnn_data_t *d,
                  const kga_pair_t *links, size_t count, uint32_t epochs,
                  int threads, const kga_progress_t *progress,
                  kga_gnn_epoch_stats_t *last)
{
    kga_gnn_trainer_t *t;
    int rc = kga_gnn_trainer_new(m, d, links, count, threads, &t);
    if (rc != 0)
        return rc;
    for (uint32_t e = 0; e < epochs && rc == 0; e++)
        rc = kga_gnn_trainer_epoch(t, progress, last);
    kga_gnn_trainer_free(t);
    return rc;
}
