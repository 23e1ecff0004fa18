/* Open-world decisions (open_world.h): candidates ranked by the pair
 * scorer, the rival table, the decision's logistic regression fitted in a
 * simulated open world, and its prior moved to the real queries. Separate
 * from the pair scorer because it judges a candidate among the others,
 * where the scorer judges a pair alone. */
#include "align/open_world.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "base/rng.h"

/* Share of the validation links whose right entity the simulation hides. */
#define SIM_HIDDEN_SHARE 0.2


static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float clip(float x)
{
    if (!(x < KGA_OW_CLIP)) /* NaN too */
        return KGA_OW_CLIP;
    return x > -KGA_OW_CLIP ? x : -KGA_OW_CLIP;
}

int kga_ow_partners_init(kga_ow_t *ow, const kga_scorer_t *s)
{
    uint32_t nl = kga_store_entity_count(s->store[0]);
    uint32_t nr = kga_store_entity_count(s->store[1]);
    ow->partner = malloc((nl ? nl : 1) * sizeof *ow->partner);
    ow->right_seeded = calloc(nr ? nr : 1, 1);
    ow->n_right_seeded = nr;
    if (ow->partner == NULL || ow->right_seeded == NULL) {
        free(ow->partner);
        free(ow->right_seeded);
        ow->partner = NULL;
        ow->right_seeded = NULL;
        return KGA_ENOMEM;
    }
    for (uint32_t i = 0; i < nl; i++)
        ow->partner[i] = UINT32_MAX;
    kga_fusion_state_t st;
    kga_fusion_get_state(s->fusion, &st);
    for (size_t i = 0; i < st.n_seeds; i++)
        if (st.seeds[i].left < nl && st.seeds[i].right < nr) {
            ow->partner[st.seeds[i].left] = st.seeds[i].right;
            ow->right_seeded[st.seeds[i].right] = 1;
        }
    return 0;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* log(1 / (1 + e^-x)): the log-probability, in the pair scorer's terms,
 * that the candidate beats the other by margin x. The rival margins go
 * through it: past a few logit units a wider margin says nothing more,
 * and a linear weight on the raw rival margin made an unrivalled candidate
 * (a margin up to the clip) a match whatever its own score (on DBP15K
 * fr_en with 20% of the test counterparts removed: 6.5% of the entities
 * without counterpart matched, 3.8% with this). The margin within the
 * query's own list stays linear: on structure alone (OpenEA D-Y) its
 * range up to about 10 separates matches, and saturating it cost
 * precision 0.92 -> 0.85 there. */
static float log_sigmoid(float x)
{
    return x >= 0 ? -log1pf(expf(-x)) : x - log1pf(expf(x));
}

/* Neighbours of the right entity, sorted, in buf (cap entries) or, when
 * they are more, in *heap (the caller frees it). */
static uint32_t right_neighbours(const kga_scorer_entity_t *r, uint32_t *buf,
                                 uint32_t cap, uint32_t **list,
                                 uint32_t **heap)
{
    const kga_edge_t *out = r->edges[KGA_DIR_OUT], *in = r->edges[KGA_DIR_IN];
    uint32_t no = r->degree[KGA_DIR_OUT], ni = r->degree[KGA_DIR_IN];
    uint32_t n = no + ni;
    *list = buf;
    if (n > cap) {
        *heap = malloc((size_t)n * sizeof **heap);
        if (*heap == NULL)
            return 0; /* no agreement counted: a weaker feature, no crash */
        *list = *heap;
    }
    for (uint32_t i = 0; i < no; i++)
        (*list)[i] = out[i].ent;
    for (uint32_t i = 0; i < ni; i++)
        (*list)[no + i] = in[i].ent;
    qsort(*list, n, sizeof **list, u32_cmp);
    return n;
}

/* The neighbourhood agreement of a pair, f[0..4) (open_world.h): how many
 * neighbours of `left` have their seed partner among the neighbours of
 * `right`, and how many could have: a pair whose neighbourhoods both hold
 * seeds and share none is evidence against it, while a pair with no seeded
 * neighbour on one side is no evidence either way. */
static void agreement(const kga_ow_t *ow, const kga_scorer_entity_t *left,
                      const kga_scorer_entity_t *right, float *f)
{
    uint32_t buf[512], *list, *heap = NULL;
    f[0] = f[1] = f[2] = f[3] = 0;
    if (ow->partner == NULL)
        return;
    uint32_t nr = right_neighbours(right, buf, 512, &list, &heap);
    uint32_t count = 0, nl = 0, seeded_l = 0, seeded_r = 0;
    for (int dir = 0; dir < 2; dir++) {
        const kga_edge_t *e = left->edges[dir];
        uint32_t n = left->degree[dir];
        nl += n;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t p = ow->partner[e[i].ent];
            seeded_l += p != UINT32_MAX;
            count += p != UINT32_MAX && nr > 0 &&
                     bsearch(&p, list, nr, sizeof *list, u32_cmp) != NULL;
        }
    }
    for (uint32_t i = 0; i < nr; i++)
        seeded_r += list[i] < ow->n_right_seeded && ow->right_seeded[list[i]];
    free(heap);
    uint32_t low = nl < nr ? nl : nr;
    uint32_t could = seeded_l < seeded_r ? seeded_l : seeded_r;
    f[0] = log1pf((float)count);
    f[1] = low > 0 ? (float)count / (float)low : 0.0f;
    if (f[1] > 1)
        f[1] = 1; /* several edges to one neighbour */
    f[2] = log1pf((float)could);
    f[3] = could > 0 ? (float)count / (float)could : 0.0f;
    if (f[3] > 1)
        f[3] = 1;
}

/* The features before the pair's own: the margins, the rank and the
 * neighbourhood agreement. */
static void decision_features(const kga_ow_t *ow,
                              const kga_scorer_entity_t *left,
                              const kga_scorer_entity_t *right, float logit,
                              float margin, float rival_margin, size_t rank,
                              float *f)
{
    float m = clip(margin), v = clip(rival_margin);
    f[0] = logit;
    f[1] = m;
    f[2] = log_sigmoid(v);
    f[3] = log_sigmoid(m < v ? m : v);
    f[4] = rank == 0;
    agreement(ow, left, right, f + 5);
}

void kga_ow_features(const kga_ow_t *ow, const kga_scorer_t *s,
                     uint32_t left, uint32_t right, float logit,
                     float margin, float rival_margin, size_t rank, float *f)
{
    kga_scorer_entity_t l, r;
    kga_scorer_entity(s, 0, left, &l);
    kga_scorer_entity(s, 1, right, &r);
    decision_features(ow, &l, &r, logit, margin, rival_margin, rank, f);
    kga_scorer_features(s, &left, &right, 1, f + KGA_OW_OWN_FEATURES);
}

void kga_ow_features_view(const kga_ow_t *ow, const kga_scorer_t *s,
                          const kga_scorer_entity_t *left,
                          const kga_scorer_entity_t *right, float logit,
                          float margin, float rival_margin, size_t rank,
                          float *scratch, float *f)
{
    decision_features(ow, left, right, logit, margin, rival_margin, rank, f);
    kga_scorer_pair_features(s, left, right, scratch, f + KGA_OW_OWN_FEATURES);
}

float kga_ow_rival_margin(const kga_ow_t *ow, uint32_t left, uint32_t right,
                          float logit)
{
    if (right >= ow->n_right)
        return KGA_OW_CLIP;
    float rival = ow->rival_left[right] == left ? ow->rival_second[right]
                                                : ow->rival_best[right];
    /* No rival: -FLT_MAX, and the difference clips. */
    return logit - rival;
}

/* Margin of candidate r over the best other of the list. */
static float list_margin(const float *logit, size_t n, size_t r)
{
    if (n < 2)
        return KGA_OW_CLIP;
    return logit[r] - logit[r == 0 ? 1 : 0];
}

double kga_ow_prob(const kga_ow_t *ow, const kga_scorer_t *s,
                   uint32_t query, const uint32_t *ent, const float *logit,
                   size_t n, size_t r)
{
    if (r >= KGA_OW_TOPK)
        return 0.0; /* past the rivals' lists: never decided */
    float f[KGA_OW_FEATURES];
    kga_ow_features(ow, s, query, ent[r], logit[r], list_margin(logit, n, r),
                    kga_ow_rival_margin(ow, query, ent[r], logit[r]), r, f);
    return kga_logreg_prob(&ow->logreg, f);
}

double kga_ow_prob_view(const kga_ow_t *ow, const kga_scorer_t *s,
                        const kga_scorer_entity_t *query,
                        const uint32_t *ent, const float *logit, size_t n,
                        size_t r, float *scratch)
{
    if (r >= KGA_OW_TOPK)
        return 0.0;
    float f[KGA_OW_FEATURES];
    kga_scorer_entity_t cand;
    kga_scorer_entity(s, 1, ent[r], &cand);
    kga_ow_features_view(
        ow, s, query, &cand, logit[r], list_margin(logit, n, r),
        kga_ow_rival_margin(ow, query->id, ent[r], logit[r]), r, scratch, f);
    return kga_logreg_prob(&ow->logreg, f);
}

/* ---- ranking by the pair scorer ---- */

typedef struct {
    uint32_t entity;
    float logit;
} ranked_t;

typedef struct {
    const kga_scorer_t *s;
    const uint32_t *lefts;
    const uint32_t *proposed; /* nl x pk */
    size_t pk, k;
    uint32_t *ent;
    float *logit;
    kga_progress_ticker_t *ticker;
} rank_ctx_t;

static _Thread_local const kga_store_t *sort_store;

/* Best first; ties by external id, never by internal id. */
static int ranked_cmp(const void *pa, const void *pb)
{
    const ranked_t *x = pa, *y = pb;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return strcmp(kga_store_entity_ext_id(sort_store, x->entity),
                  kga_store_entity_ext_id(sort_store, y->entity));
}

#define SCORE_SLICE 64

static void rank_range(void *vctx, size_t begin, size_t end, int worker)
{
    rank_ctx_t *c = vctx;
    ranked_t items[KGA_FUSION_MAX_TOPK];
    uint32_t l[SCORE_SLICE], r[SCORE_SLICE];
    float f[SCORE_SLICE * KGA_SCORER_FEATURES];
    sort_store = c->s->store[1];
    for (size_t q = begin; q < end; q++) {
        const uint32_t *prop = c->proposed + q * c->pk;
        size_t n = 0;
        for (size_t i = 0; i < c->pk; i++)
            if (prop[i] != UINT32_MAX)
                items[n++].entity = prop[i];
        for (size_t at = 0; at < n; at += SCORE_SLICE) {
            size_t m = n - at < SCORE_SLICE ? n - at : SCORE_SLICE;
            for (size_t i = 0; i < m; i++) {
                l[i] = c->lefts[q];
                r[i] = items[at + i].entity;
            }
            kga_scorer_features(c->s, l, r, m, f);
            for (size_t i = 0; i < m; i++)
                items[at + i].logit = (float)kga_scorer_logit(
                    c->s, f + i * KGA_SCORER_FEATURES);
        }
        qsort(items, n, sizeof *items, ranked_cmp);
        for (size_t i = 0; i < c->k; i++) {
            c->ent[q * c->k + i] = i < n ? items[i].entity : UINT32_MAX;
            c->logit[q * c->k + i] = i < n ? items[i].logit : -INFINITY;
        }
    }
    kga_progress_tick(c->ticker, end - begin, worker);
}

int kga_ow_rank(const kga_scorer_t *s, const uint32_t *lefts, size_t nl,
                const uint32_t *rights, size_t nr, size_t k,
                kga_pool_t *pool, const kga_progress_t *progress,
                const char *what, uint32_t *ent, float *logit,
                kga_err_t *err)
{
    char stage[128];
    kga_progress_ticker_t tk;
    int rc = kga_fusion_check_k(k, err);
    if (rc != 0)
        return rc;
    size_t pk = k < KGA_OW_PROPOSALS ? KGA_OW_PROPOSALS : k;
    uint32_t *proposed = malloc((nl ? nl : 1) * pk * sizeof *proposed);
    float *score = malloc((nl ? nl : 1) * pk * sizeof *score);
    rc = KGA_ENOMEM;
    if (proposed == NULL || score == NULL) {
        kga_err_set(err, rc, "out of memory (%zu x %zu candidates)", nl, pk);
        goto out;
    }
    snprintf(stage, sizeof stage, "%s: candidate search",
             what != NULL ? what : "ranking");
    kga_progress_ticker_init(&tk, progress, stage, "queries", nl);
    rc = kga_fusion_topk(s->fusion, lefts, nl, rights, nr, pk, pool, &tk,
                         proposed, score, err);
    if (rc != 0)
        goto out;
    snprintf(stage, sizeof stage, "%s: scoring the candidates",
             what != NULL ? what : "ranking");
    kga_progress_ticker_init(&tk, progress, stage, "queries", nl);
    rank_ctx_t ctx = {s, lefts, proposed, pk, k, ent, logit, &tk};
    kga_pool_run(pool, nl, 64, rank_range, &ctx);
out:
    free(proposed);
    free(score);
    return rc;
}

/* ---- rivals ---- */

/* Ranked candidate lists of a set of queries, best first; len[q] of them
 * are used. */
typedef struct {
    size_t nq, k;
    const uint32_t *query;
    uint32_t *ent;
    float *logit;
    uint32_t *len;
} lists_t;

static void lists_free(lists_t *l)
{
    free(l->ent);
    free(l->logit);
    free(l->len);
}

/* Ranks the queries against the right entities not marked in `absent`,
 * exactly as kga_aligner_decide() will. */
static int lists_rank(lists_t *out, const kga_scorer_t *s,
                      const uint32_t *query, size_t nq, size_t k,
                      const uint8_t *absent, kga_pool_t *pool,
                      const kga_progress_t *progress, const char *what,
                      kga_err_t *err)
{
    memset(out, 0, sizeof *out);
    uint32_t nr = kga_store_entity_count(s->store[1]);
    uint32_t *rights = malloc((nr ? nr : 1) * sizeof *rights);
    out->nq = nq;
    out->k = k;
    out->query = query;
    out->ent = malloc((nq ? nq : 1) * k * sizeof *out->ent);
    out->logit = malloc((nq ? nq : 1) * k * sizeof *out->logit);
    out->len = malloc((nq ? nq : 1) * sizeof *out->len);
    int rc;
    if (!rights || !out->ent || !out->logit || !out->len) {
        rc = kga_err_set(err, KGA_ENOMEM, "open-world calibration: out of "
                                          "memory");
        goto out;
    }
    size_t npool = 0;
    for (uint32_t j = 0; j < nr; j++)
        if (!absent[j])
            rights[npool++] = j;
    if (npool == 0 || nq == 0) {
        rc = kga_err_set(err, KGA_EINVAL, "open-world calibration: no "
                                          "left or right entity outside "
                                          "the known links");
        goto out;
    }
    rc = kga_ow_rank(s, query, nq, rights, npool, k, pool, progress, what,
                     out->ent, out->logit, err);
    for (size_t q = 0; rc == 0 && q < nq; q++) {
        uint32_t n = 0;
        while (n < k && out->ent[q * k + n] != UINT32_MAX)
            n++;
        out->len[q] = n;
    }
out:
    free(rights);
    if (rc != 0)
        lists_free(out);
    return rc;
}

static int rivals_build(kga_ow_t *ow, uint32_t n_right, const lists_t *l)
{
    ow->n_right = n_right;
    ow->rival_best = malloc((n_right ? n_right : 1) * sizeof(float));
    ow->rival_second = malloc((n_right ? n_right : 1) * sizeof(float));
    ow->rival_left = malloc((n_right ? n_right : 1) * sizeof(uint32_t));
    if (!ow->rival_best || !ow->rival_second || !ow->rival_left)
        return KGA_ENOMEM;
    for (uint32_t r = 0; r < n_right; r++) {
        ow->rival_best[r] = ow->rival_second[r] = -FLT_MAX;
        ow->rival_left[r] = UINT32_MAX;
    }
    for (size_t q = 0; q < l->nq; q++)
        for (uint32_t i = 0; i < l->len[q]; i++) {
            uint32_t r = l->ent[q * l->k + i];
            float x = l->logit[q * l->k + i];
            if (x > ow->rival_best[r]) {
                ow->rival_second[r] = ow->rival_best[r];
                ow->rival_best[r] = x;
                ow->rival_left[r] = l->query[q];
            } else if (x > ow->rival_second[r]) {
                ow->rival_second[r] = x;
            }
        }
    return 0;
}

static void rivals_free(kga_ow_t *ow)
{
    free(ow->rival_best);
    free(ow->rival_second);
    free(ow->rival_left);
    ow->rival_best = ow->rival_second = NULL;
    ow->rival_left = NULL;
}

void kga_ow_destroy(kga_ow_t *ow)
{
    if (ow == NULL)
        return;
    rivals_free(ow);
    free(ow->partner);
    free(ow->right_seeded);
    ow->partner = NULL;
    ow->right_seeded = NULL;
}

/* ---- fitting ---- */

/* Whether the simulation hides right entity r: a hash of its external id,
 * so that nothing depends on internal ids. */
static int hidden(const kga_store_t *right, uint32_t r, uint64_t seed)
{
    const char *id = kga_store_entity_ext_id(right, r);
    uint64_t h = kga_rng_hash(kga_hash64(id, strlen(id)) ^ seed ^
                              0x6f70656e776f726cULL);
    return (double)(h >> 11) * 0x1.0p-53 < SIM_HIDDEN_SHARE;
}

size_t kga_ow_hidden_mark(const kga_store_t *right, const kga_pair_t *valid,
                          size_t nv, uint64_t seed, uint8_t *hide)
{
    size_t n = 0;
    for (size_t i = 0; i < nv; i++)
        if (hidden(right, valid[i].right, seed)) {
            hide[valid[i].right] = 1;
            n++;
        }
    return n;
}

/* The share of positives among unlabelled rows whose probabilities p were
 * fitted at prior `prior`: EM of Saerens et al. (2002). */
static double em_prior(const double *p, size_t n, double prior)
{
    if (n == 0 || prior <= 0 || prior >= 1)
        return prior;
    double pi = prior;
    for (int it = 0; it < 200; it++) {
        double a = pi / prior, b = (1 - pi) / (1 - prior), sum = 0;
        for (size_t i = 0; i < n; i++) {
            double num = a * p[i];
            sum += num / (num + b * (1 - p[i]));
        }
        double next = sum / (double)n;
        if (next < 1e-4)
            next = 1e-4;
        if (next > 1 - 1e-4)
            next = 1 - 1e-4;
        int done = fabs(next - pi) < 1e-7;
        pi = next;
        if (done)
            break;
    }
    return pi;
}

/* The decision keeps one row per query, its best candidate, but the
 * regression is fitted on all of a query's candidates, most of them easy
 * negatives: the probability of the best row is recalibrated on the best
 * rows of the simulation (Platt scaling of the fitted logit, folded into
 * the weights, so the order of candidates stays). Query i's rows are
 * first[i] .. first[i + 1]; z and yb are scratch for nq rows. Kept as
 * fitted when the best rows hold one class only or the slope is not
 * positive. */
static int fit_best_rows(kga_logreg_t *m, const float *f, const uint8_t *y,
                         const size_t *first, size_t nq, float *z,
                         uint8_t *yb, kga_err_t *err)
{
    size_t pos = 0;
    for (size_t q = 0; q < nq; q++) {
        double best = -INFINITY;
        size_t at = first[q];
        for (size_t i = first[q]; i < first[q + 1]; i++) {
            double x = kga_logreg_logit(m, f + i * KGA_OW_FEATURES);
            if (x > best) {
                best = x;
                at = i;
            }
        }
        z[q] = (float)best;
        yb[q] = first[q] < first[q + 1] && y[at];
        pos += yb[q];
    }
    if (pos == 0 || pos == nq)
        return 0;
    kga_logreg_options_t opt;
    kga_logreg_options_init(&opt);
    kga_logreg_t platt;
    int rc = kga_logreg_fit(z, yb, nq, 1, &opt, &platt, err);
    if (rc != 0)
        return rc;
    double a = platt.w[0] / platt.scale[0];
    double c = platt.b - a * platt.mean[0];
    if (!(a > 0))
        return 0;
    for (uint32_t j = 0; j < m->dim; j++)
        m->w[j] *= a;
    m->b = a * m->b + c;
    return 0;
}

int kga_ow_fit(const kga_scorer_t *s, const kga_scorer_t *sim_s,
               const kga_pair_t *train, size_t nt,
               const kga_pair_t *valid, size_t nv, const uint8_t *hide,
               kga_pool_t *pool, const kga_progress_t *progress,
               kga_ow_t *out, kga_ow_report_t *report, kga_err_t *err)
{
    double t0 = now_seconds();
    memset(out, 0, sizeof *out);
    kga_ow_report_t local;
    if (report == NULL)
        report = &local;
    memset(report, 0, sizeof *report);
    uint32_t nl = kga_store_entity_count(s->store[0]);
    uint32_t nr = kga_store_entity_count(s->store[1]);
    size_t k = KGA_OW_TOPK;
    uint8_t *taken_l = calloc(nl ? nl : 1, 1);
    uint8_t *absent = calloc(nr ? nr : 1, 1);
    uint32_t *truth = malloc((nl ? nl : 1) * sizeof *truth);
    uint32_t *query = malloc((nl ? nl : 1) * sizeof *query);
    uint32_t *real_query = malloc((nl ? nl : 1) * sizeof *real_query);
    size_t cap = k * (nv ? nv : 1);
    float *f = malloc(cap * KGA_OW_FEATURES * sizeof *f);
    uint8_t *y = malloc(2 * cap);
    size_t *first = malloc(((nv ? nv : 1) + 1) * sizeof *first);
    float *pf = malloc(cap * sizeof *pf);
    double *p = malloc((nl ? nl : 1) * sizeof *p);
    lists_t sim = {0}, real = {0};
    kga_ow_t sim_ow = {0};
    int rc = KGA_ENOMEM;
    if (kga_ow_partners_init(out, s) != 0)
        goto nomem;
    if (!taken_l || !absent || !truth || !query || !real_query || !f || !y ||
        !pf || !p || !first)
        goto nomem;
    for (uint32_t i = 0; i < nl; i++)
        truth[i] = UINT32_MAX;
    for (size_t i = 0; i < nt; i++) {
        taken_l[train[i].left] = 1;
        absent[train[i].right] = 1;
    }
    for (size_t i = 0; i < nv; i++)
        truth[valid[i].left] = valid[i].right;

    /* The simulation: the validation links play the test links, and the
     * hidden share of their right entities is absent. */
    size_t nq = 0, nreal = 0;
    for (uint32_t i = 0; i < nl; i++)
        if (!taken_l[i]) {
            query[nq++] = i;
            if (truth[i] == UINT32_MAX)
                real_query[nreal++] = i;
        }
    for (size_t i = 0; i < nv; i++)
        if (hide[valid[i].right]) {
            absent[valid[i].right] = 1;
            report->sim_hidden++;
        }
    if ((rc = lists_rank(&sim, sim_s, query, nq, k, absent, pool, progress,
                         "open world: simulation", err)) != 0)
        goto out;
    if (rivals_build(&sim_ow, nr, &sim) != 0 ||
        kga_ow_partners_init(&sim_ow, sim_s) != 0)
        goto nomem;
    size_t rows = 0, top_ok = 0;
    for (size_t q = 0; q < nq; q++) {
        uint32_t want = truth[query[q]];
        if (want == UINT32_MAX)
            continue;
        first[report->sim_queries] = rows;
        report->sim_queries++;
        const uint32_t *e = sim.ent + q * k;
        const float *x = sim.logit + q * k;
        uint32_t n = sim.len[q];
        for (uint32_t r = 0; r < n; r++) {
            kga_ow_features(&sim_ow, sim_s, query[q], e[r], x[r],
                            list_margin(x, n, r),
                            kga_ow_rival_margin(&sim_ow, query[q], e[r],
                                                x[r]),
                            r, f + rows * KGA_OW_FEATURES);
            y[rows] = e[r] == want;
            top_ok += r == 0 && y[rows];
            rows++;
        }
    }
    report->sim_rows = (uint32_t)rows;
    first[report->sim_queries] = rows;
    if (report->sim_queries == 0) {
        rc = kga_err_set(err, KGA_EINVAL, "open-world calibration: no "
                                          "validation link outside the "
                                          "training links");
        goto out;
    }
    size_t positives = 0;
    for (size_t i = 0; i < rows; i++)
        positives += y[i];
    if (positives == 0 || positives == rows) {
        /* Too few validation links for both kinds of row (a handful of
         * labelled pairs): the pair's own logit decides. */
        memset(&out->logreg, 0, sizeof out->logreg);
        out->logreg.dim = KGA_OW_FEATURES;
        for (uint32_t j = 0; j < KGA_OW_FEATURES; j++)
            out->logreg.scale[j] = 1;
        out->logreg.w[0] = 1;
        report->fallback = 1;
    } else {
        kga_logreg_options_t opt;
        kga_logreg_options_init(&opt);
        rc = kga_logreg_fit(f, y, rows, KGA_OW_FEATURES, &opt, &out->logreg,
                            err);
        if (rc == 0)
            rc = fit_best_rows(&out->logreg, f, y, first,
                               report->sim_queries, pf, y + rows, err);
        if (rc != 0)
            goto out;
    }
    for (size_t i = 0; i < rows; i++)
        pf[i] = (float)kga_logreg_prob(&out->logreg, f + i * KGA_OW_FEATURES);
    report->sim_ece = kga_calib_ece(pf, y, rows, 10);
    report->sim_prior = (double)top_ok / report->sim_queries;

    /* The real queries: no validation left entity; no validation or
     * training right entity (taken). Their rivals are the model's. */
    memset(absent, 0, nr);
    for (size_t i = 0; i < nt; i++)
        absent[train[i].right] = 1;
    for (size_t i = 0; i < nv; i++)
        absent[valid[i].right] = 1;
    report->queries = (uint32_t)nreal;
    if (nreal > 0) {
        if ((rc = lists_rank(&real, s, real_query, nreal, k, absent, pool,
                             progress, "open world: the real queries",
                             err)) != 0)
            goto out;
    }
    if (rivals_build(out, nr, &real) != 0)
        goto nomem;
    size_t np = 0;
    for (size_t q = 0; q < nreal; q++)
        if (real.len[q] > 0)
            p[np++] = kga_ow_prob(out, s, real_query[q], real.ent + q * k,
                                  real.logit + q * k, real.len[q], 0);
    report->real_prior = em_prior(p, np, report->sim_prior);
    double a = report->sim_prior, b = report->real_prior;
    if (a > 0 && a < 1)
        out->logreg.b += log(b / (1 - b)) - log(a / (1 - a));
    rc = 0;
    goto out;
nomem:
    rc = kga_err_set(err, KGA_ENOMEM, "open-world calibration: out of "
                                      "memory");
out:
    if (rc != 0)
        kga_ow_destroy(out);
    kga_ow_destroy(&sim_ow);
    lists_free(&sim);
    lists_free(&real);
    free(p);
    free(pf);
    free(f);
    free(y);
    free(first);
    free(taken_l);
    free(absent);
    free(truth);
    free(query);
    free(real_query);
    report->seconds = now_seconds() - t0;
    return rc;
}
