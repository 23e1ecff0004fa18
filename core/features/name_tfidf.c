/* The TF-IDF name model (see name_tfidf.h): one TF-IDF per form of the
 * names (the name itself, its Latin form), and the weighted rows of the
 * two that every search and cosine reads. Apart from name_features.c,
 * which turns one name into buckets and knows nothing of a corpus. */
#include "features/name_tfidf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "base/hash.h"
#include "features/translit.h"

/* One form's TF-IDF: unit rows of both sides and the idf of its buckets. */
typedef struct {
    kga_csr_t side[2];
    float *idf;
} form_t;

struct kga_tfidf {
    kga_name_feature_params_t params;
    int forms;           /* 1, or 2 with the Latin form */
    form_t form[2];
    float weight;        /* of the Latin form */
    int fixed;           /* the forms' rows are freed: the weight stays */
    kga_csr_t side[2];   /* the weighted rows of the forms */
    uint64_t *keys[2];
    /* Each side's inverted index over all of its rows, for the searches
     * against a whole side (one-entity queries would otherwise rebuild it,
     * at many times the cost of the search). */
    kga_sparse_index_t *index[2];
};

/* The names of one side, whatever their source. */
typedef struct {
    uint32_t rows;
    const char **names;   /* owned array, borrowed strings */
    const char **ext_ids; /* likewise */
} name_side_t;

static float tf_of(float count, int sublinear)
{
    return sublinear && count > 1.0f ? 1.0f + logf(count) : count;
}

/* Scratch arrays for one name's features, grown on demand. */
typedef struct {
    uint32_t *buckets;
    float *weights;
    size_t cap;
} feature_buf_t;

static int features_into(feature_buf_t *fb, const char *name,
                         const kga_name_feature_params_t *p, size_t *n)
{
    size_t len = name != NULL ? strnlen(name, KGA_NAME_MAX_BYTES + 1) : 0;
    size_t need = kga_name_features_bound(len, p);
    if (need > fb->cap) {
        int rc = kga_grow_resize(&fb->buckets, need, sizeof *fb->buckets);
        if (rc == 0)
            rc = kga_grow_resize(&fb->weights, need, sizeof *fb->weights);
        if (rc != 0)
            return rc;
        fb->cap = need;
    }
    return kga_name_features(name, p, fb->buckets, fb->weights, fb->cap, n);
}

/* Raw counts of one side's names into m (rows = entities), document
 * frequencies of its first `docs` rows into df. */
static int count_side(const char *const *names, uint32_t rows,
                      uint32_t docs, const kga_name_feature_params_t *p,
                      feature_buf_t *fb, kga_csr_t *m, uint32_t *df,
                      kga_err_t *err)
{
    uint64_t cap = (uint64_t)rows * 16 + 16, nnz = 0;
    int rc = kga_csr_init(m, rows, 1u << p->bucket_bits, cap);
    if (rc != 0)
        return kga_err_set(err, rc, "tf-idf: %u entities: %s", rows,
                           kga_strerror(rc));
    for (uint32_t r = 0; r < rows; r++) {
        size_t n;
        rc = features_into(fb, names[r], p, &n);
        if (rc != 0)
            return kga_err_set(err, rc, "tf-idf: entity %u: %s", r,
                               kga_strerror(rc));
        if (nnz + n > cap) {
            uint64_t ncap = cap * 2 > nnz + n ? cap * 2 : nnz + n;
            if (ncap > KGA_CSR_MAX_NNZ)
                return kga_err_set(err, KGA_ELIMIT,
                                   "tf-idf: more than %llu features",
                                   (unsigned long long)KGA_CSR_MAX_NNZ);
            if (kga_grow_resize(&m->indices, (size_t)ncap,
                                sizeof *m->indices) != 0 ||
                kga_grow_resize(&m->data, (size_t)ncap, sizeof *m->data) != 0)
                return kga_err_set(err, KGA_ENOMEM, "tf-idf: out of memory");
            cap = ncap;
        }
        for (size_t x = 0; x < n; x++) {
            m->indices[nnz + x] = fb->buckets[x];
            m->data[nnz + x] = fb->weights[x];
            df[fb->buckets[x]] += r < docs;
        }
        nnz += n;
        m->indptr[r + 1] = nnz;
    }
    return 0;
}

static void weigh_row(const float *idf, int sublinear, const uint32_t *ix,
                      float *v, size_t n)
{
    double ss = 0;
    for (size_t x = 0; x < n; x++) {
        v[x] = tf_of(v[x], sublinear) * idf[ix[x]];
        ss += (double)v[x] * v[x];
    }
    if (ss <= 0)
        return;
    double inv = 1.0 / sqrt(ss);
    for (size_t x = 0; x < n; x++)
        v[x] = (float)(v[x] * inv);
}

static void form_destroy(form_t *f)
{
    kga_csr_destroy(&f->side[0]);
    kga_csr_destroy(&f->side[1]);
    free(f->idf);
    memset(f, 0, sizeof *f);
}

/* The TF-IDF of one form: names[s] holds the form of every entity of
 * side s; the document frequencies count the first docs[s] of them. */
static int form_build(form_t *f, const char *const *names[2],
                      const uint32_t rows[2], const uint32_t docs[2],
                      const kga_name_feature_params_t *p, kga_err_t *err)
{
    size_t nb = (size_t)1 << p->bucket_bits;
    feature_buf_t fb = {NULL, NULL, 0};
    uint32_t *df = calloc(nb, sizeof *df);
    int rc = KGA_ENOMEM;
    memset(f, 0, sizeof *f);
    if (df == NULL || (f->idf = malloc(nb * sizeof *f->idf)) == NULL) {
        kga_err_set(err, rc, "tf-idf: out of memory");
        goto out;
    }
    for (int s = 0; s < 2; s++)
        if ((rc = count_side(names[s], rows[s], docs[s], p, &fb,
                             &f->side[s], df, err)) != 0)
            goto out;
    double ndocs = (double)docs[0] + docs[1];
    for (size_t b = 0; b < nb; b++)
        f->idf[b] = (float)(log((ndocs + 1.0) / (df[b] + 1.0)) + 1.0);
    for (int s = 0; s < 2; s++) {
        kga_csr_t *m = &f->side[s];
        for (uint32_t r = 0; r < m->rows; r++)
            weigh_row(f->idf, p->sublinear_tf, m->indices + m->indptr[r],
                      m->data + m->indptr[r],
                      (size_t)(m->indptr[r + 1] - m->indptr[r]));
    }
    rc = 0;
out:
    free(fb.weights);
    free(fb.buckets);
    free(df);
    if (rc != 0)
        form_destroy(f);
    return rc;
}

/* The weighted rows of one side under weight a, into m (initialised
 * here). */
static int combine_side(const kga_tfidf_t *t, int s, float a, kga_csr_t *m)
{
    uint32_t nb = 1u << t->params.bucket_bits;
    const kga_csr_t *f0 = &t->form[0].side[s];
    const kga_csr_t *f1 = t->forms > 1 ? &t->form[1].side[s] : NULL;
    int use0 = a < 1.0f, use1 = f1 != NULL && a > 0.0f;
    float w0 = (float)sqrt(1.0 - (double)a), w1 = (float)sqrt((double)a);
    uint64_t nnz = (use0 ? kga_csr_nnz(f0) : 0) + (use1 ? kga_csr_nnz(f1) : 0);
    int rc = kga_csr_init(m, f0->rows, (uint32_t)t->forms * nb, nnz + 1);
    if (rc != 0)
        return rc;
    uint64_t at = 0;
    for (uint32_t r = 0; r < f0->rows; r++) {
        if (use0)
            for (uint64_t x = f0->indptr[r]; x < f0->indptr[r + 1]; x++) {
                m->indices[at] = f0->indices[x];
                m->data[at++] = w0 * f0->data[x];
            }
        if (use1)
            for (uint64_t x = f1->indptr[r]; x < f1->indptr[r + 1]; x++) {
                m->indices[at] = nb + f1->indices[x];
                m->data[at++] = w1 * f1->data[x];
            }
        m->indptr[r + 1] = at;
    }
    return 0;
}

int kga_tfidf_set_translit_weight(kga_tfidf_t *t, float a, kga_err_t *err)
{
    if (!(a >= 0.0f && a <= 1.0f) || (t->forms < 2 && a != 0.0f))
        return kga_err_set(err, KGA_EINVAL,
                           "tf-idf: translit weight %g not in [0, %d]",
                           (double)a, t->forms - 1);
    if (t->fixed)
        return kga_err_set(err, KGA_EINVAL,
                           "tf-idf: translit weight fixed at %g, cannot "
                           "become %g",
                           (double)t->weight, (double)a);
    kga_csr_t side[2];
    kga_sparse_index_t *index[2] = {NULL, NULL};
    memset(side, 0, sizeof side);
    int rc = 0;
    for (int s = 0; s < 2 && rc == 0; s++)
        if ((rc = combine_side(t, s, a, &side[s])) != 0)
            kga_err_set(err, rc, "tf-idf: %s", kga_strerror(rc));
    for (int s = 0; s < 2 && rc == 0; s++)
        rc = kga_sparse_index_new(&side[s], t->keys[s], &index[s], err);
    if (rc != 0) {
        for (int s = 0; s < 2; s++) {
            kga_sparse_index_free(index[s]);
            kga_csr_destroy(&side[s]);
        }
        return rc;
    }
    for (int s = 0; s < 2; s++) {
        kga_sparse_index_free(t->index[s]);
        kga_csr_destroy(&t->side[s]);
        t->side[s] = side[s];
        t->index[s] = index[s];
    }
    t->weight = a;
    return 0;
}

static void name_side_destroy(name_side_t *ns)
{
    free(ns->names);
    free(ns->ext_ids);
}

/* Room for the n names and ids of one side, filled by the caller. */
static int name_side_alloc(name_side_t *ns, uint32_t n, kga_err_t *err)
{
    ns->rows = n;
    ns->names = malloc((n ? n : 1) * sizeof *ns->names);
    ns->ext_ids = malloc((n ? n : 1) * sizeof *ns->ext_ids);
    if (ns->names == NULL || ns->ext_ids == NULL)
        return kga_err_set(err, KGA_ENOMEM, "tf-idf: out of memory");
    return 0;
}

static int tfidf_build(name_side_t src[2],
                       const kga_name_feature_params_t *p,
                       const uint32_t *docs_in, kga_pool_t *pool,
                       kga_tfidf_t **out, kga_err_t *err)
{
    *out = NULL;
    int rc = kga_name_feature_params_check(p, err);
    if (rc != 0)
        return rc;
    kga_tfidf_t *t = calloc(1, sizeof *t);
    kga_translit_table_t *latin[2] = {NULL, NULL};
    if (t == NULL)
        return kga_err_set(err, KGA_ENOMEM, "tf-idf: out of memory");
    t->params = *p;
    t->forms = p->translit ? 2 : 1;
    uint32_t rows[2] = {src[0].rows, src[1].rows}, docs[2];
    for (int s = 0; s < 2; s++)
        docs[s] = docs_in != NULL && docs_in[s] < rows[s] ? docs_in[s]
                                                           : rows[s];
    for (int s = 0; s < 2; s++) {
        t->keys[s] = malloc((rows[s] ? rows[s] : 1) * sizeof *t->keys[s]);
        if (t->keys[s] == NULL) {
            rc = kga_err_set(err, KGA_ENOMEM, "tf-idf: out of memory");
            goto fail;
        }
        for (uint32_t r = 0; r < rows[s]; r++) {
            const char *ext = src[s].ext_ids[r];
            t->keys[s][r] = kga_hash64(ext, ext != NULL ? strlen(ext) : 0);
        }
    }
    const char *const *names[2] = {src[0].names, src[1].names};
    if ((rc = form_build(&t->form[0], names, rows, docs, p, err)) != 0)
        goto fail;
    if (t->forms > 1) {
        for (int s = 0; s < 2; s++) {
            rc = kga_translit_table_new(names[s], rows[s], pool, &latin[s],
                                        err);
            if (rc != 0)
                goto fail;
            names[s] = kga_translit_table_forms(latin[s]);
        }
        if ((rc = form_build(&t->form[1], names, rows, docs, p, err)) != 0)
            goto fail;
    }
    if ((rc = kga_tfidf_set_translit_weight(t, 0.0f, err)) != 0)
        goto fail;
    kga_translit_table_free(latin[0]);
    kga_translit_table_free(latin[1]);
    *out = t;
    return 0;
fail:
    kga_translit_table_free(latin[0]);
    kga_translit_table_free(latin[1]);
    kga_tfidf_free(t);
    return rc;
}

int kga_tfidf_build(const kga_store_t *left, const kga_store_t *right,
                    const kga_name_feature_params_t *p, kga_pool_t *pool,
                    kga_tfidf_t **out, kga_err_t *err)
{
    return kga_tfidf_build_docs(left, right, p, NULL, pool, out, err);
}

int kga_tfidf_build_docs(const kga_store_t *left, const kga_store_t *right,
                         const kga_name_feature_params_t *p,
                         const uint32_t *docs, kga_pool_t *pool,
                         kga_tfidf_t **out, kga_err_t *err)
{
    const kga_store_t *st[2] = {left, right};
    name_side_t src[2];
    memset(src, 0, sizeof src);
    int rc = 0;
    for (int s = 0; s < 2 && rc == 0; s++) {
        uint32_t n = kga_store_entity_count(st[s]);
        if ((rc = name_side_alloc(&src[s], n, err)) != 0)
            break;
        for (uint32_t i = 0; i < n; i++) {
            src[s].names[i] = kga_store_entity_name(st[s], i);
            src[s].ext_ids[i] = kga_store_entity_ext_id(st[s], i);
        }
    }
    if (rc == 0)
        rc = tfidf_build(src, p, docs, pool, out, err);
    name_side_destroy(&src[0]);
    name_side_destroy(&src[1]);
    return rc;
}

int kga_tfidf_build_lists(const kga_name_list_t *left,
                          const kga_name_list_t *right,
                          const kga_name_feature_params_t *p,
                          kga_pool_t *pool, kga_tfidf_t **out,
                          kga_err_t *err)
{
    *out = NULL;
    if ((left->count > 0 && left->ext_ids == NULL) ||
        (right->count > 0 && right->ext_ids == NULL) ||
        (left->count > 0 && left->names == NULL) ||
        (right->count > 0 && right->names == NULL))
        return kga_err_set(err, KGA_EINVAL,
                           "tf-idf: name list without names or ext ids");
    const kga_name_list_t *ls[2] = {left, right};
    name_side_t src[2];
    memset(src, 0, sizeof src);
    int rc = 0;
    for (int s = 0; s < 2 && rc == 0; s++) {
        uint32_t n = ls[s]->count;
        if ((rc = name_side_alloc(&src[s], n, err)) != 0)
            break;
        if (n > 0) {
            memcpy(src[s].names, ls[s]->names, n * sizeof *src[s].names);
            memcpy(src[s].ext_ids, ls[s]->ext_ids,
                   n * sizeof *src[s].ext_ids);
        }
    }
    if (rc == 0)
        rc = tfidf_build(src, p, NULL, pool, out, err);
    name_side_destroy(&src[0]);
    name_side_destroy(&src[1]);
    return rc;
}

int kga_tfidf_forms(const kga_tfidf_t *t)
{
    return t->forms;
}

float kga_tfidf_translit_weight(const kga_tfidf_t *t)
{
    return t->weight;
}

const kga_csr_t *kga_tfidf_matrix(const kga_tfidf_t *t, int side)
{
    return &t->side[side == KGA_TFIDF_RIGHT];
}

const uint64_t *kga_tfidf_keys(const kga_tfidf_t *t, int side)
{
    return t->keys[side == KGA_TFIDF_RIGHT];
}

const kga_name_feature_params_t *kga_tfidf_params(const kga_tfidf_t *t)
{
    return &t->params;
}

float kga_tfidf_cosine(const kga_tfidf_t *t, uint32_t left, uint32_t right)
{
    return kga_csr_row_dot(&t->side[0], left, &t->side[1], right);
}

/* One form's row of a name into buckets / values from offset *at, scaled
 * by w and its buckets moved by base. */
static int vectorize_form(const kga_tfidf_t *t, int form, const char *name,
                          float w, uint32_t base, uint32_t *buckets,
                          float *values, size_t cap, size_t *at)
{
    size_t n = 0, room = *at < cap ? cap - *at : 0;
    int rc = kga_name_features(name, &t->params,
                               room ? buckets + *at : NULL,
                               room ? values + *at : NULL, room, &n);
    if (rc == KGA_ERANGE || (rc == 0 && n > room)) {
        *at += n;
        return KGA_ERANGE;
    }
    if (rc != 0)
        return rc;
    weigh_row(t->form[form].idf, t->params.sublinear_tf, buckets + *at,
              values + *at, n);
    for (size_t x = 0; x < n; x++) {
        buckets[*at + x] += base;
        values[*at + x] *= w;
    }
    *at += n;
    return 0;
}

int kga_tfidf_vectorize(const kga_tfidf_t *t, const char *name,
                        uint32_t *buckets, float *values, size_t cap,
                        size_t *n)
{
    float a = t->weight;
    size_t at = 0;
    int rc = 0, short_of_room = 0;
    *n = 0;
    if (a < 1.0f) {
        rc = vectorize_form(t, 0, name, (float)sqrt(1.0 - (double)a), 0,
                            buckets, values, cap, &at);
        short_of_room = rc == KGA_ERANGE;
        if (rc != 0 && !short_of_room)
            return rc;
    }
    if (t->forms > 1 && a > 0.0f) {
        kga_translit_t *tr = NULL;
        if ((rc = kga_translit_new(&tr, NULL)) != 0)
            return rc;
        const char *latin = kga_translit_name(tr, name, NULL);
        rc = latin == NULL ? KGA_ENOMEM
                           : vectorize_form(t, 1, latin, (float)sqrt((double)a),
                                            1u << t->params.bucket_bits,
                                            buckets, values, cap, &at);
        kga_translit_free(tr);
        short_of_room |= rc == KGA_ERANGE;
        if (rc != 0 && rc != KGA_ERANGE)
            return rc;
    }
    *n = at;
    return short_of_room ? KGA_ERANGE : 0;
}

kga_sparse_vec_t kga_tfidf_row(const kga_tfidf_t *t, int side, uint32_t ent)
{
    return kga_csr_row(&t->side[side == KGA_TFIDF_RIGHT], ent);
}

int kga_tfidf_topk_vec(const kga_tfidf_t *t, kga_sparse_vec_t row, int other,
                       const uint8_t *skip, size_t k, uint32_t *out_idx,
                       float *out_score, kga_err_t *err)
{
    int o = other == KGA_TFIDF_RIGHT;
    /* A one-row matrix over the caller's arrays, read only. */
    uint64_t indptr[2] = {0, row.n};
    kga_csr_t q = {1, t->side[o].cols, indptr, (uint32_t *)row.indices,
                   (float *)row.data};
    return kga_sparse_topk_indexed_skip(&q, NULL, 1, t->index[o], skip, k, 1,
                                        out_idx, out_score, err);
}

int kga_tfidf_topk(const kga_tfidf_t *t, int query_side,
                   const uint32_t *queries, size_t nq, const uint32_t *cands,
                   size_t nc, size_t k, int threads, uint32_t *out_idx,
                   float *out_score, kga_err_t *err)
{
    int q = query_side == KGA_TFIDF_RIGHT;
    if (cands == NULL)
        return kga_sparse_topk_indexed(&t->side[q], queries, nq,
                                       t->index[!q], k, threads, out_idx,
                                       out_score, err);
    return kga_sparse_topk(&t->side[q], queries, nq, &t->side[!q], cands, nc,
                           t->keys[!q], k, threads, out_idx, out_score, err);
}

int kga_tfidf_topk_blocked(const kga_tfidf_t *t, int query_side,
                           const uint32_t *queries, size_t nq,
                           const uint8_t *allowed, uint64_t budget,
                           size_t pool, size_t k, int threads,
                           uint32_t *out_idx, float *out_score,
                           kga_err_t *err)
{
    int q = query_side == KGA_TFIDF_RIGHT;
    kga_sparse_options_t opt = {allowed, budget, pool};
    return kga_sparse_topk_blocked(&t->side[q], queries, nq, t->index[!q],
                                   &t->side[!q], &opt, k, threads, out_idx,
                                   out_score, err);
}

int kga_tfidf_topk_vec_blocked(const kga_tfidf_t *t, kga_sparse_vec_t row,
                               int other, const uint8_t *allowed,
                               uint64_t budget, size_t pool, size_t k,
                               uint32_t *out_idx, float *out_score,
                               kga_err_t *err)
{
    int o = other == KGA_TFIDF_RIGHT;
    uint64_t indptr[2] = {0, row.n};
    kga_csr_t q = {1, t->side[o].cols, indptr, (uint32_t *)row.indices,
                   (float *)row.data};
    kga_sparse_options_t opt = {allowed, budget, pool};
    return kga_sparse_topk_blocked(&q, NULL, 1, t->index[o], &t->side[o],
                                   &opt, k, 1, out_idx, out_score, err);
}

static size_t csr_bytes(const kga_csr_t *m)
{
    return ((size_t)m->rows + 1) * sizeof(uint64_t) +
           (size_t)kga_csr_nnz(m) * (sizeof(uint32_t) + sizeof(float));
}

void kga_tfidf_fix_weight(kga_tfidf_t *t)
{
    for (int f = 0; f < 2; f++)
        for (int s = 0; s < 2; s++)
            kga_csr_destroy(&t->form[f].side[s]);
    t->fixed = 1;
}

size_t kga_tfidf_bytes(const kga_tfidf_t *t)
{
    size_t nb = (size_t)1 << t->params.bucket_bits;
    size_t b = sizeof *t;
    for (int f = 0; f < t->forms; f++) {
        b += nb * sizeof(float);
        for (int s = 0; s < 2; s++)
            b += csr_bytes(&t->form[f].side[s]);
    }
    for (int s = 0; s < 2; s++)
        b += csr_bytes(&t->side[s]) + (size_t)t->side[s].rows *
                                          sizeof(uint64_t) +
             kga_sparse_index_bytes(t->index[s]);
    return b;
}

void kga_tfidf_free(kga_tfidf_t *t)
{
    if (t == NULL)
        return;
    for (int s = 0; s < 2; s++) {
        kga_sparse_index_free(t->index[s]);
        free(t->keys[s]);
        kga_csr_destroy(&t->side[s]);
    }
    form_destroy(&t->form[0]);
    form_destroy(&t->form[1]);
    free(t);
}
