/* The trained aligner: stores + model file -> the scorer, rebuilt exactly as
 * training left it (scorer.h), behind the thread-safe interface the tools
 * and the server share. */
#include "align/aligner.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_file.h"
#include "model/model_layout.h"
#include "align/explain.h"
#include "align/inline_entity.h"
#include "align/model_settings.h"
#include "align/open_world.h"
#include "features/name_tfidf.h"
#include "align/scorer.h"

struct kga_aligner {
    kga_store_t *store[2];
    /* Entities of each store the model was trained on: all of them, or
     * the first ones when the store is a later generation (store.h). */
    uint32_t trained[2];
    kga_model_t *file;
    kga_scorer_t scorer;
    kga_ow_t ow;
    uint32_t *known[2];  /* per entity: its partner in a known link */
    uint8_t *taken[2];   /* per entity: 1 when in a known link */
    uint32_t *free_right; /* right entities in no known link */
    size_t n_free_right;
    kga_explainer_t *explainer;
    kga_pool_t *pool;
    const kga_progress_t *progress;
    float threshold;      /* open-world decisions */
    float pair_threshold; /* a pair scored alone */
    char version[17];
};

uint32_t kga_aligner_known_partner(const kga_aligner_t *a, kga_side_t side,
                                   uint32_t ent)
{
    if (ent >= kga_store_entity_count(a->store[side]))
        return UINT32_MAX;
    return a->known[side][ent];
}

const uint8_t *kga_aligner_known_mask(const kga_aligner_t *a, kga_side_t side)
{
    return a->taken[side];
}

const kga_progress_t *kga_aligner_progress(const kga_aligner_t *a)
{
    return a->progress;
}

const kga_scorer_t *kga_aligner_scorer(const kga_aligner_t *a)
{
    return &a->scorer;
}

const kga_store_t *kga_aligner_store(const kga_aligner_t *a, kga_side_t side)
{
    return a->store[side];
}

const char *kga_aligner_model_version(const kga_aligner_t *a)
{
    return a->version;
}

float kga_aligner_threshold(const kga_aligner_t *a)
{
    return a->threshold;
}

float kga_aligner_pair_threshold(const kga_aligner_t *a)
{
    return a->pair_threshold;
}

/* The stores must be the ones trained on or later generations of them
 * (store.h): then the model's entity ids still mean the same entities, and
 * a->trained gets how many of each store's entities it knows. */
static int check_fingerprints(kga_aligner_t *a, kga_err_t *err)
{
    const uint64_t *prints = NULL;
    int rc = kga_model_require_u64s(a->file, KGA_SEC_FINGERPRINTS, 2,
                                    &prints, err);
    if (rc != 0)
        return rc;
    static const char *const keys[2] = {KGA_KEY_GENERATION_LEFT,
                                        KGA_KEY_GENERATION_RIGHT};
    for (int side = 0; side < 2; side++) {
        const kga_store_t *st = a->store[side];
        int64_t trained_gen = 1; /* models from before generations */
        kga_err_t ignored;
        if (kga_model_kv_get_int(a->file, keys[side], &trained_gen,
                                 &ignored) != 0)
            trained_gen = 1;
        if (kga_store_find_generation(st, prints[side],
                                      &a->trained[side]) != 0)
            continue;
        return kga_err_set(
            err, KGA_EMISMATCH,
            "%s: trained on generation %lld of a %s store with fingerprint "
            "%016llx; %s (generation %u, fingerprint %016llx) is neither "
            "that store nor a later generation of it (kgalign add), so the "
            "model does not know its entities: train a model on it "
            "(kgalign train)",
            kga_model_path(a->file), (long long)trained_gen,
            side == 0 ? "left" : "right", (unsigned long long)prints[side],
            kga_store_path(st), kga_store_generation(st),
            (unsigned long long)kga_store_fingerprint(st));
    }
    return 0;
}

/* Reads a section of u32 pairs (left, right, ...). */
static int get_pairs(const kga_model_t *m, const char *name,
                     const uint32_t **pairs, size_t *n, kga_err_t *err)
{
    size_t count = 0;
    *pairs = kga_model_get_u32s(m, name, &count);
    if (*pairs == NULL || count % 2 != 0)
        return kga_err_set(err, KGA_EFORMAT,
                           "%s: section '%s' is missing or not pairs",
                           kga_model_path(m), name);
    *n = count / 2;
    return 0;
}

/* Doubles kept as their u64 bits: the container cannot tell them from
 * integers, so their finiteness is checked here. */
static int get_doubles(const kga_model_t *m, const char *name, size_t n,
                       double **out, kga_err_t *err)
{
    const uint64_t *bits = NULL;
    int rc = kga_model_require_u64s(m, name, n, &bits, err);
    if (rc != 0)
        return rc;
    *out = malloc((n ? n : 1) * sizeof **out);
    if (*out == NULL)
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    memcpy(*out, bits, n * sizeof **out);
    for (size_t i = 0; i < n; i++)
        if (!isfinite((*out)[i]))
            return kga_err_set(err, KGA_ENUMERIC,
                               "%s: section '%s': value %zu is not finite",
                               kga_model_path(m), name, i);
    return 0;
}

/* A setting that must lie in [lo, hi] (or (lo, hi] with lo_open). */
static int check_setting(const kga_model_t *m, const char *key, double v,
                         double lo, int lo_open, double hi, kga_err_t *err)
{
    if (v >= lo && v <= hi && !(lo_open && v == lo))
        return 0;
    return kga_err_set(err, KGA_ERANGE,
                       "%s: setting %s is %.17g, must be in %c%g, %g]",
                       kga_model_path(m), key, v, lo_open ? '(' : '[', lo,
                       hi);
}

static int load_fusion(kga_aligner_t *a, const kga_aligner_options_t *o,
                       kga_err_t *err)
{
    int threads = o->threads;
    const kga_model_t *m = a->file;
    kga_fusion_params_t fp;
    kga_fusion_state_t st;
    memset(&st, 0, sizeof st);
    double *lu = NULL, *lv = NULL, wn = 0, wt = 0;
    const uint32_t *seeds;
    kga_fusion_t *fusion = NULL;
    int rc = kga_settings_get_fusion(m, &fp, err);
    if (!rc)
        rc = kga_model_kv_get_double(m, KGA_KEY_NAME_WEIGHT, &wn, err);
    if (!rc)
        rc = check_setting(m, KGA_KEY_NAME_WEIGHT, wn, 0, 0, FLT_MAX, err);
    if (!rc)
        rc = kga_model_kv_get_double(m, KGA_KEY_TRANSLIT_WEIGHT, &wt, err);
    if (!rc)
        rc = check_setting(m, KGA_KEY_TRANSLIT_WEIGHT, wt, 0, 0, 1, err);
    if (!rc)
        rc = kga_model_kv_get_double(m, KGA_KEY_TAU, &st.tau, err);
    if (!rc)
        rc = check_setting(m, KGA_KEY_TAU, st.tau, 0, 1, FLT_MAX, err);
    if (!rc)
        rc = get_pairs(m, KGA_SEC_SEEDS, &seeds, &st.n_seeds, err);
    if (!rc)
        rc = get_doubles(m, KGA_SEC_LU, a->trained[0], &lu, err);
    if (!rc)
        rc = get_doubles(m, KGA_SEC_LV, a->trained[1], &lv, err);
    if (rc == 0) {
        fp.threads = threads;
        fp.trained[0] = a->trained[0];
        fp.trained[1] = a->trained[1];
        fp.search = (kga_search_t)o->search;
        if (o->probes != 0)
            fp.probes = o->probes;
        if (o->coarse != 0)
            fp.coarse = o->coarse;
        if (o->name_budget != 0)
            fp.name_budget = o->name_budget;
        rc = kga_fusion_params_check(&fp, err);
    }
    if (rc == 0) {
        st.name_weight = (float)wn;
        st.translit_weight = (float)wt;
        st.seeds = (const kga_pair_t *)(const void *)seeds;
        st.lu = lu;
        st.lv = lv;
        rc = kga_fusion_rebuild(a->store[0], a->store[1], &fp, &st,
                                o->progress, &fusion, err);
    }
    free(lu);
    free(lv);
    /* The entities of a later generation: scaled as training would have. */
    if (rc == 0)
        rc = kga_fusion_extend(fusion, a->free_right, a->n_free_right,
                               a->pool, err);
    if (rc == 0 && o->right_queries)
        rc = kga_fusion_prepare(fusion, 1, threads, err);
    if (rc != 0) {
        kga_fusion_free(fusion);
        return rc;
    }
    kga_scorer_init(&a->scorer, a->store[0], a->store[1], fusion);
    a->scorer.trained[0] = a->trained[0];
    a->scorer.trained[1] = a->trained[1];
    return 0;
}

static int load_gnn(kga_aligner_t *a, int threads, kga_err_t *err)
{
    const kga_model_t *m = a->file;
    kga_gnn_config_t cfg;
    const uint32_t *anchors;
    size_t n_anchors;
    int rc = kga_settings_get_gnn(m, &cfg, err);
    if (!rc)
        rc = get_pairs(m, KGA_SEC_ANCHORS, &anchors, &n_anchors, err);
    if (!rc)
        rc = kga_scorer_gnn_new(&a->scorer, &cfg,
                                (const kga_pair_t *)(const void *)anchors,
                                n_anchors, err);
    size_t nt = rc == 0 ? kga_gnn_tensor_count(a->scorer.gnn) : 0;
    for (size_t i = 0; rc == 0 && i < nt; i++) {
        kga_gnn_tensor_t t;
        if ((rc = kga_gnn_tensor(a->scorer.gnn, i, &t)) != 0)
            return kga_err_set(err, rc, "GNN tensor %zu", i);
        if (t.type != KGA_TENSOR_F32)
            continue;
        char name[64];
        snprintf(name, sizeof name, "%s%s", KGA_SEC_GNN_PREFIX, t.name);
        uint64_t shape[3] = {t.dims[0], t.dims[1], t.dims[2]};
        const float *data;
        rc = kga_model_require_tensor(m, name, t.rank, shape, &data, err);
        if (rc == 0)
            memcpy(t.data, data, t.count * sizeof(float));
    }
    kga_progress_report(a->progress, "opening: the GNN's cache", NULL, 0, 0);
    if (rc == 0)
        rc = kga_scorer_gnn_cache(&a->scorer, threads, err);
    return rc;
}

/* The known links: each entity's partner, and the right entities left to
 * match. */
static int load_known(kga_aligner_t *a, kga_err_t *err)
{
    const uint32_t *pairs;
    size_t n;
    int rc = get_pairs(a->file, KGA_SEC_KNOWN, &pairs, &n, err);
    if (rc != 0)
        return rc;
    uint32_t count[2];
    for (int side = 0; side < 2; side++) {
        count[side] = kga_store_entity_count(a->store[side]);
        a->known[side] = malloc((count[side] ? count[side] : 1) *
                                sizeof(uint32_t));
        if (a->known[side] == NULL)
            return kga_err_set(err, KGA_ENOMEM, "out of memory");
        for (uint32_t i = 0; i < count[side]; i++)
            a->known[side][i] = UINT32_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t l = pairs[2 * i], r = pairs[2 * i + 1];
        if (l >= a->trained[0] || r >= a->trained[1] ||
            a->known[0][l] != UINT32_MAX || a->known[1][r] != UINT32_MAX)
            return kga_err_set(err, KGA_EFORMAT,
                               "%s: section '%s': pair %zu (%u, %u) is out "
                               "of range or repeats an entity",
                               kga_model_path(a->file), KGA_SEC_KNOWN, i, l,
                               r);
        a->known[0][l] = r;
        a->known[1][r] = l;
    }
    for (int side = 0; side < 2; side++) {
        a->taken[side] = malloc(count[side] ? count[side] : 1);
        if (a->taken[side] == NULL)
            return kga_err_set(err, KGA_ENOMEM, "out of memory");
        for (uint32_t i = 0; i < count[side]; i++)
            a->taken[side][i] = a->known[side][i] != UINT32_MAX;
    }
    a->free_right = malloc((count[1] ? count[1] : 1) * sizeof(uint32_t));
    if (a->free_right == NULL)
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    for (uint32_t r = 0; r < count[1]; r++)
        if (a->known[1][r] == UINT32_MAX)
            a->free_right[a->n_free_right++] = r;
    return 0;
}

static int load_open_world(kga_aligner_t *a, kga_err_t *err)
{
    const kga_model_t *m = a->file;
    uint32_t nr = kga_store_entity_count(a->store[1]);
    const uint64_t *shape = NULL;
    uint32_t ndim = 0;
    const float *lr = kga_model_tensor(m, KGA_SEC_OW_LOGREG, &shape, &ndim);
    if (lr == NULL || ndim != 1)
        return kga_err_set(err, KGA_EFORMAT, "%s: no '%s' section",
                           kga_model_path(m), KGA_SEC_OW_LOGREG);
    int rc = kga_logreg_unpack(lr, shape[0], &a->ow.logreg, err);
    if (rc != 0)
        return rc;
    if (a->ow.logreg.dim != KGA_OW_FEATURES)
        return kga_err_set(err, KGA_EFORMAT,
                           "%s: '%s' has %u features, expected %u",
                           kga_model_path(m), KGA_SEC_OW_LOGREG,
                           a->ow.logreg.dim, KGA_OW_FEATURES);
    const float *rival;
    uint32_t tr = a->trained[1]; /* right entities the rivals cover */
    uint64_t want[2] = {tr, 2};
    const uint32_t *rival_left;
    if ((rc = kga_model_require_tensor(m, KGA_SEC_OW_RIVAL, 2, want, &rival,
                                       err)) != 0)
        return rc;
    size_t count = 0;
    rival_left = kga_model_get_u32s(m, KGA_SEC_OW_RIVAL_LEFT, &count);
    if (rival_left == NULL || count != tr)
        return kga_err_set(err, KGA_EFORMAT,
                           "%s: section '%s' is missing or not one entry "
                           "per right entity",
                           kga_model_path(m), KGA_SEC_OW_RIVAL_LEFT);
    if (kga_ow_partners_init(&a->ow, &a->scorer) != 0)
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    a->ow.n_right = nr;
    a->ow.rival_best = malloc((nr ? nr : 1) * sizeof(float));
    a->ow.rival_second = malloc((nr ? nr : 1) * sizeof(float));
    a->ow.rival_left = malloc((nr ? nr : 1) * sizeof(uint32_t));
    if (!a->ow.rival_best || !a->ow.rival_second || !a->ow.rival_left)
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    uint32_t nl = a->trained[0];
    /* A right entity of a later generation has no rival yet. */
    for (uint32_t r = tr; r < nr; r++) {
        a->ow.rival_best[r] = a->ow.rival_second[r] = -FLT_MAX;
        a->ow.rival_left[r] = UINT32_MAX;
    }
    for (uint32_t r = 0; r < tr; r++) {
        if (rival_left[r] != UINT32_MAX && rival_left[r] >= nl)
            return kga_err_set(err, KGA_EFORMAT,
                               "%s: section '%s': entry %u names left "
                               "entity %u of %u",
                               kga_model_path(m), KGA_SEC_OW_RIVAL_LEFT, r,
                               rival_left[r], nl);
        /* The best rival and the second (both finite: the container
         * refuses any other float). */
        if (!(rival[2 * r] >= rival[2 * r + 1]))
            return kga_err_set(err, KGA_ERANGE,
                               "%s: section '%s': entry %u has a second "
                               "rival (%g) above its best (%g)",
                               kga_model_path(m), KGA_SEC_OW_RIVAL, r,
                               (double)rival[2 * r + 1],
                               (double)rival[2 * r]);
        a->ow.rival_best[r] = rival[2 * r];
        a->ow.rival_second[r] = rival[2 * r + 1];
        a->ow.rival_left[r] = rival_left[r];
    }
    return 0;
}

/* The attribute model: channels rebuilt from the stores, weights from the
 * file; the channels must give the trained number of features. */
static int load_attributes(kga_aligner_t *a, kga_err_t *err)
{
    const kga_model_t *m = a->file;
    int64_t dim = 0;
    int rc = kga_model_kv_get_int(m, KGA_KEY_ATTR_FEATURES, &dim, err);
    if (rc != 0 || dim == 0)
        return rc;
    int64_t relations = 0;
    if ((rc = kga_model_kv_get_int(m, KGA_KEY_ATTR_RELATIONS, &relations,
                                   err)) != 0 ||
        (rc = check_setting(m, KGA_KEY_ATTR_RELATIONS, (double)relations, 0,
                            0, KGA_ATTR_MAX_RELATIONS, err)) != 0 ||
        (rc = kga_scorer_attr_new(&a->scorer, (uint32_t)relations, err)) != 0)
        return rc;
    const uint64_t *shape = NULL;
    uint32_t ndim = 0;
    const float *lr = kga_model_tensor(m, KGA_SEC_ATTR_LOGREG, &shape, &ndim);
    if (lr == NULL || ndim != 1)
        return kga_err_set(err, KGA_EFORMAT, "%s: no '%s' section",
                           kga_model_path(m), KGA_SEC_ATTR_LOGREG);
    rc = kga_logreg_unpack(lr, shape[0], &a->scorer.attr_logreg, err);
    if (rc != 0)
        return rc;
    uint32_t have = kga_attr_feature_count(a->scorer.attr);
    if (a->scorer.attr_logreg.dim != (uint32_t)dim || have != (uint32_t)dim)
        return kga_err_set(err, KGA_EMISMATCH,
                           "%s: the attribute model has %lld features, the "
                           "stores' attributes give %u",
                           kga_model_path(m), (long long)dim, have);
    a->scorer.has_attr_logreg = 1;
    return 0;
}

static int load_scorer(kga_aligner_t *a, const kga_aligner_options_t *o,
                       kga_err_t *err)
{
    const kga_model_t *m = a->file;
    int64_t format = 0, has_gnn = 0;
    double threshold = 0.5, pair_threshold = 0.5;
    int rc = kga_model_kv_get_int(m, KGA_KEY_FORMAT, &format, err);
    if (rc != 0)
        return rc;
    if (format != KGA_ALIGN_MODEL_FORMAT)
        return kga_err_set(err, KGA_EVERSION,
                           "%s: model format %lld, this kgalign reads %d",
                           kga_model_path(m), (long long)format,
                           KGA_ALIGN_MODEL_FORMAT);
    if ((rc = kga_model_kv_get_int(m, KGA_KEY_GNN, &has_gnn, err)) ||
        (rc = check_setting(m, KGA_KEY_GNN, (double)has_gnn, 0, 0, 1, err)) ||
        (rc = kga_model_kv_get_double(m, KGA_KEY_THRESHOLD, &threshold,
                                      err)) ||
        (rc = check_setting(m, KGA_KEY_THRESHOLD, threshold, 0, 0, 1, err)) ||
        (rc = kga_model_kv_get_double(m, KGA_KEY_PAIR_THRESHOLD,
                                      &pair_threshold, err)) ||
        (rc = check_setting(m, KGA_KEY_PAIR_THRESHOLD, pair_threshold, 0, 0,
                            1, err)))
        return rc;
    if ((rc = check_fingerprints(a, err)) || (rc = load_known(a, err)) ||
        (rc = load_fusion(a, o, err)))
        return rc;
    if (has_gnn && (rc = load_gnn(a, o->threads, err)) != 0)
        return rc;
    if ((rc = load_attributes(a, err)) != 0)
        return rc;
    size_t count = 0;
    const uint64_t *shape = NULL;
    uint32_t ndim = 0;
    const float *lr = kga_model_tensor(m, KGA_SEC_LOGREG, &shape, &ndim);
    if (lr != NULL)
        count = ndim == 1 ? shape[0] : 0;
    if (lr == NULL ||
        (rc = kga_logreg_unpack(lr, count, &a->scorer.logreg, err)) != 0)
        return lr == NULL ? kga_err_set(err, KGA_EFORMAT,
                                        "%s: no '%s' section",
                                        kga_model_path(m), KGA_SEC_LOGREG)
                          : rc;
    if (a->scorer.logreg.dim != KGA_SCORER_FEATURES)
        return kga_err_set(err, KGA_EFORMAT,
                           "%s: scorer has %u features, expected %u",
                           kga_model_path(m), a->scorer.logreg.dim,
                           KGA_SCORER_FEATURES);
    a->scorer.has_logreg = 1;
    if ((rc = load_open_world(a, err)) != 0)
        return rc;
    a->threshold = o->threshold >= 0 ? o->threshold : (float)threshold;
    a->pair_threshold =
        o->threshold >= 0 ? o->threshold : (float)pair_threshold;
    return 0;
}

int kga_aligner_open(const char *left_store, const char *right_store,
                     const char *model_path,
                     const kga_aligner_options_t *options,
                     kga_aligner_t **out, kga_err_t *err)
{
    kga_aligner_options_t defaults = {.threads = 0, .threshold = -1.0f};
    const kga_aligner_options_t *o = options ? options : &defaults;
    *out = NULL;
    kga_aligner_t *a = calloc(1, sizeof *a);
    if (a == NULL)
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    int rc;
    a->progress = o->progress;
    kga_progress_report(a->progress, "opening: the stores and the model",
                        NULL, 0, 0);
    if ((rc = kga_store_open(left_store, &a->store[0], err)) ||
        (rc = kga_store_open(right_store, &a->store[1], err)) ||
        (rc = kga_model_open(model_path, &a->file, err)))
        goto fail;
    if ((rc = kga_pool_new(o->threads, &a->pool)) != 0) {
        kga_err_set(err, rc, "out of memory");
        goto fail;
    }
    if ((rc = load_scorer(a, o, err)) != 0 ||
        (rc = kga_explainer_new(a, &a->explainer, err)) != 0)
        goto fail;
    snprintf(a->version, sizeof a->version, "%016llx",
             (unsigned long long)kga_model_checksum(a->file));
    *out = a;
    return 0;
fail:
    kga_aligner_close(a);
    return rc;
}

int kga_aligner_check_files(const kga_aligner_t *a, kga_err_t *err)
{
    int rc = kga_store_check_file(a->store[0], err);
    if (rc == 0)
        rc = kga_store_check_file(a->store[1], err);
    if (rc == 0)
        rc = kga_model_check_file(a->file, err);
    return rc;
}

void kga_aligner_close(kga_aligner_t *a)
{
    if (a == NULL)
        return;
    kga_scorer_destroy(&a->scorer);
    kga_ow_destroy(&a->ow);
    kga_explainer_free(a->explainer);
    free(a->known[0]);
    free(a->known[1]);
    free(a->taken[0]);
    free(a->taken[1]);
    free(a->free_right);
    kga_pool_free(a->pool);
    kga_model_close(a->file);
    kga_store_close(a->store[0]);
    kga_store_close(a->store[1]);
    free(a);
}

static kga_pair_score_t score_of(const kga_aligner_t *a, const float *f)
{
    double logit = kga_scorer_logit(&a->scorer, f);
    kga_pair_score_t s;
    s.distance = (float)-logit;
    s.probability = (float)(1.0 / (1.0 + exp(-logit)));
    s.match = s.probability >= a->pair_threshold;
    return s;
}

#define SCORE_SLICE 64

void kga_aligner_score(const kga_aligner_t *a, const uint32_t *left,
                       const uint32_t *right, size_t n,
                       kga_pair_score_t *out)
{
    float f[SCORE_SLICE * KGA_SCORER_FEATURES];
    for (size_t begin = 0; begin < n; begin += SCORE_SLICE) {
        size_t m = n - begin < SCORE_SLICE ? n - begin : SCORE_SLICE;
        kga_scorer_features(&a->scorer, left + begin, right + begin, m, f);
        for (size_t k = 0; k < m; k++)
            out[begin + k] = score_of(a, f + k * KGA_SCORER_FEATURES);
    }
}

/* The view of a reference on side (scorer.h): the inline entity's own,
 * or a stored entity's in tmp. */
static const kga_scorer_entity_t *view_of(const kga_aligner_t *a,
                                          kga_side_t side,
                                          const kga_entity_ref_t *r,
                                          kga_scorer_entity_t *tmp)
{
    if (r->inl != NULL)
        return kga_inline_entity_view(r->inl);
    kga_scorer_entity(&a->scorer, side, r->id, tmp);
    return tmp;
}

static int ref_valid(const kga_aligner_t *a, kga_side_t side,
                     const kga_entity_ref_t *r)
{
    if (r->inl != NULL)
        return kga_inline_entity_side(r->inl) == side;
    return r->id < kga_store_entity_count(a->store[side]);
}

/* The score of one pair of views. */
static kga_pair_score_t view_score(const kga_aligner_t *a,
                                   const kga_scorer_entity_t *l,
                                   const kga_scorer_entity_t *r,
                                   float *scratch)
{
    float f[KGA_SCORER_FEATURES];
    kga_scorer_pair_features(&a->scorer, l, r, scratch, f);
    return score_of(a, f);
}

int kga_aligner_score_refs(const kga_aligner_t *a,
                           const kga_entity_ref_t *left,
                           const kga_entity_ref_t *right, size_t n,
                           kga_pair_score_t *out)
{
    float *scratch = malloc(kga_scorer_scratch(&a->scorer) * sizeof *scratch);
    if (scratch == NULL)
        return KGA_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!ref_valid(a, KGA_SIDE_LEFT, &left[i]) ||
            !ref_valid(a, KGA_SIDE_RIGHT, &right[i])) {
            free(scratch);
            return KGA_EINVAL;
        }
        kga_scorer_entity_t tl, tr;
        out[i] = view_score(a, view_of(a, KGA_SIDE_LEFT, &left[i], &tl),
                            view_of(a, KGA_SIDE_RIGHT, &right[i], &tr),
                            scratch);
    }
    free(scratch);
    return 0;
}

/* Orders candidates by distance, then by external id, so that ties never
 * follow internal ids. */
static _Thread_local const kga_store_t *sort_store;

/* Candidates kga_aligner_match() reranks at least. */
#define MATCH_POOL 32u

static int cand_cmp(const void *pa, const void *pb)
{
    const kga_candidate_t *x = pa, *y = pb;
    if (x->entity == UINT32_MAX || y->entity == UINT32_MAX)
        return (x->entity == UINT32_MAX) - (y->entity == UINT32_MAX);
    if (x->score.distance != y->score.distance)
        return x->score.distance < y->score.distance ? -1 : 1;
    const char *ix = kga_store_entity_ext_id(sort_store, x->entity);
    const char *iy = kga_store_entity_ext_id(sort_store, y->entity);
    return strcmp(ix, iy);
}

/* Scores the candidates c[0..k) of query q (up to the first empty slot)
 * by the full model and sorts them, best first. A stored query goes
 * through the batched scorer; the same values come from the views. */
static void rerank(const kga_aligner_t *a, const kga_scorer_entity_t *q,
                   kga_candidate_t *c, size_t k, float *scratch)
{
    kga_side_t other = q->side == KGA_SIDE_LEFT ? KGA_SIDE_RIGHT
                                                : KGA_SIDE_LEFT;
    size_t n = 0;
    while (n < k && c[n].entity != UINT32_MAX)
        n++;
    if (q->id != KGA_ENTITY_INLINE) {
        uint32_t left[KGA_FUSION_MAX_TOPK] = {0};
        uint32_t right[KGA_FUSION_MAX_TOPK] = {0};
        kga_pair_score_t scores[KGA_FUSION_MAX_TOPK];
        for (size_t r = 0; r < n; r++) {
            left[r] = q->side == KGA_SIDE_LEFT ? q->id : c[r].entity;
            right[r] = q->side == KGA_SIDE_LEFT ? c[r].entity : q->id;
        }
        kga_aligner_score(a, left, right, n, scores);
        for (size_t r = 0; r < n; r++)
            c[r].score = scores[r];
    } else {
        for (size_t r = 0; r < n; r++) {
            kga_scorer_entity_t o;
            kga_scorer_entity(&a->scorer, other, c[r].entity, &o);
            c[r].score = q->side == KGA_SIDE_LEFT
                             ? view_score(a, q, &o, scratch)
                             : view_score(a, &o, q, scratch);
        }
    }
    sort_store = a->store[other];
    qsort(c, n, sizeof *c, cand_cmp);
}

typedef struct {
    const kga_aligner_t *a;
    const uint32_t *lefts;
    const uint32_t *idx;
    size_t k;
    kga_candidate_t *out;
    kga_progress_ticker_t *ticker;
} rerank_ctx_t;

static void rerank_chunk(void *ctx, size_t begin, size_t end, int worker)
{
    const rerank_ctx_t *c = ctx;
    for (size_t q = begin; q < end; q++) {
        kga_candidate_t *o = c->out + q * c->k;
        for (size_t r = 0; r < c->k; r++)
            o[r].entity = c->idx[q * c->k + r];
        kga_scorer_entity_t view;
        kga_scorer_entity(&c->a->scorer, KGA_SIDE_LEFT, c->lefts[q], &view);
        rerank(c->a, &view, o, c->k, NULL);
    }
    kga_progress_tick(c->ticker, end - begin, worker);
}

int kga_aligner_rank(const kga_aligner_t *a, const uint32_t *lefts,
                     size_t nl, const uint32_t *rights, size_t nr, size_t k,
                     kga_candidate_t *out, kga_err_t *err)
{
    int rc = kga_fusion_check_k(k, err);
    if (rc != 0)
        return rc;
    uint32_t *idx = malloc((nl ? nl : 1) * k * sizeof *idx);
    float *score = malloc((nl ? nl : 1) * k * sizeof *score);
    rc = KGA_ENOMEM;
    kga_progress_ticker_t tk;
    if (idx == NULL || score == NULL) {
        kga_err_set(err, rc, "out of memory");
        goto out;
    }
    kga_progress_ticker_init(&tk, a->progress, "ranking: candidate search",
                             "queries", nl);
    rc = kga_fusion_topk(a->scorer.fusion, lefts, nl, rights, nr, k,
                         a->pool, &tk, idx, score, err);
    if (rc != 0)
        goto out;
    kga_progress_ticker_init(&tk, a->progress,
                             "ranking: scoring the candidates", "queries",
                             nl);
    rerank_ctx_t c = {a, lefts, idx, k, out, &tk};
    kga_pool_run(a->pool, nl, 64, rerank_chunk, &c);
out:
    free(idx);
    free(score);
    return rc;
}

/* Open-world order: probability first, then the pair distance, then the
 * external id. */
static int decided_cmp(const void *pa, const void *pb)
{
    const kga_candidate_t *x = pa, *y = pb;
    if (x->entity == UINT32_MAX || y->entity == UINT32_MAX)
        return (x->entity == UINT32_MAX) - (y->entity == UINT32_MAX);
    if (x->score.probability != y->score.probability)
        return x->score.probability > y->score.probability ? -1 : 1;
    return cand_cmp(pa, pb);
}

/* Turns candidates ranked by pair distance (best first, n of them) into
 * the open-world decision for left entity q: probabilities that each is
 * its counterpart, best first; only the first may be a match. */
static void decide(const kga_aligner_t *a, const kga_scorer_entity_t *q,
                   kga_candidate_t *c, size_t n, float *scratch)
{
    uint32_t ent[KGA_FUSION_MAX_TOPK];
    float logit[KGA_FUSION_MAX_TOPK];
    for (size_t r = 0; r < n; r++) {
        ent[r] = c[r].entity;
        logit[r] = -c[r].score.distance;
    }
    for (size_t r = 0; r < n; r++) {
        c[r].score.probability = (float)(
            q->id != KGA_ENTITY_INLINE
                ? kga_ow_prob(&a->ow, &a->scorer, q->id, ent, logit, n, r)
                : kga_ow_prob_view(&a->ow, &a->scorer, q, ent, logit, n, r,
                                   scratch));
        c[r].score.match = 0;
    }
    sort_store = a->store[KGA_SIDE_RIGHT];
    qsort(c, n, sizeof *c, decided_cmp);
    if (n > 0)
        c[0].score.match = c[0].score.probability >= a->threshold;
}

/* A left entity of a known link: its partner, certain. */
static void known_row(const kga_aligner_t *a, uint32_t left, uint32_t right,
                      kga_candidate_t *c, size_t k)
{
    kga_aligner_score(a, &left, &right, 1, &c[0].score);
    c[0].entity = right;
    c[0].score.probability = 1.0f;
    c[0].score.match = 1;
    for (size_t r = 1; r < k; r++)
        c[r].entity = UINT32_MAX;
}

/* The fetch best candidates of query q by fused score, into idx, those
 * marked in skip left out: a stored entity's from the fusion, an inline
 * entity's from its build when it found them (for an open-world query). */
static int fetch_candidates(const kga_aligner_t *a,
                            const kga_entity_ref_t *ref,
                            const kga_scorer_entity_t *q, const uint8_t *skip,
                            size_t fetch, uint32_t *idx, float *score)
{
    const kga_fusion_t *f = a->scorer.fusion;
    if (ref->inl == NULL)
        return kga_fusion_topk_one(f, q->side, q->id, skip, fetch, idx,
                                   score, NULL);
    size_t have = 0;
    const uint32_t *kept = kga_inline_entity_candidates(ref->inl, &have);
    if (kept != NULL && skip != NULL && have >= fetch) {
        memcpy(idx, kept, fetch * sizeof *idx);
        return 0;
    }
    return kga_fusion_topk_row(f, q->side, q->features, q->features_row,
                               q->name, skip, fetch, idx, score, NULL);
}

/* Right-side queries: the fusion generates left-to-right candidates only,
 * so a right entity is compared with every left entity by S directly. */
size_t kga_aligner_match_ref(const kga_aligner_t *a, kga_side_t side,
                             const kga_entity_ref_t *ref, size_t k,
                             kga_candidate_t *out)
{
    if (k == 0 || !ref_valid(a, side, ref))
        return 0;
    if (k > KGA_FUSION_MAX_TOPK)
        k = KGA_FUSION_MAX_TOPK;
    kga_scorer_entity_t tmp;
    const kga_scorer_entity_t *q = view_of(a, side, ref, &tmp);
    /* The full model reranks a pool wider than k: the fused score's k best
     * need not hold the model's k best, and the pool costs little beside
     * the pass over the other side's features that finds it. A left
     * entity's pool is the one kga_aligner_decide() reranks: the
     * KGA_OW_PROPOSALS best right entities in no known link by fused
     * score. An entity described inline is in no known link. */
    size_t pool = k < MATCH_POOL ? MATCH_POOL : k;
    int right_query = side == KGA_SIDE_RIGHT;
    uint32_t partner = ref->inl == NULL && !right_query
                           ? a->known[0][ref->id]
                           : UINT32_MAX;
    int open_world = !right_query && partner == UINT32_MAX;
    if (open_world && pool < KGA_OW_PROPOSALS)
        pool = KGA_OW_PROPOSALS;
    if (pool > KGA_FUSION_MAX_TOPK)
        pool = KGA_FUSION_MAX_TOPK;
    uint32_t *idx = malloc(pool * sizeof *idx);
    float *score = malloc(pool * sizeof *score);
    kga_candidate_t *cand = malloc(pool * sizeof *cand);
    /* Views of an inline entity are scored one pair at a time. */
    float *scratch = ref->inl != NULL ? malloc(kga_scorer_scratch(&a->scorer) *
                                               sizeof *scratch)
                                      : NULL;
    size_t n = 0;
    if (idx == NULL || score == NULL || cand == NULL ||
        (ref->inl != NULL && scratch == NULL) ||
        fetch_candidates(a, ref, q, open_world ? a->taken[1] : NULL, pool,
                         idx, score) != 0)
        goto out;
    size_t m = 0;
    for (size_t r = 0; r < pool && idx[r] != UINT32_MAX; r++)
        cand[m++].entity = idx[r];
    for (size_t r = m; r < pool; r++)
        cand[r].entity = UINT32_MAX;
    if (right_query) {
        rerank(a, q, cand, pool, scratch);
    } else if (!open_world) {
        known_row(a, ref->id, partner, cand, pool);
    } else {
        rerank(a, q, cand, pool, scratch);
        while (m > 0 && cand[m - 1].entity == UINT32_MAX)
            m--;
        decide(a, q, cand, m, scratch);
    }
    for (; n < k && cand[n].entity != UINT32_MAX; n++)
        out[n] = cand[n];
    for (size_t r = n; r < k; r++)
        out[r].entity = UINT32_MAX;
out:
    free(scratch);
    free(cand);
    free(score);
    free(idx);
    return n;
}

size_t kga_aligner_match(const kga_aligner_t *a, kga_side_t side,
                         uint32_t ent, size_t k, kga_candidate_t *out)
{
    kga_entity_ref_t ref = {ent, NULL};
    return kga_aligner_match_ref(a, side, &ref, k, out);
}

int kga_aligner_decide(const kga_aligner_t *a, const uint32_t *lefts,
                       size_t nl, size_t k, kga_candidate_t *out,
                       kga_err_t *err)
{
    int rc = kga_fusion_check_k(k, err);
    if (rc != 0)
        return rc;
    /* Every candidate the decision can choose, whatever k: the answer
     * must not depend on how many the caller wants to see. */
    size_t kr = k < KGA_OW_TOPK ? KGA_OW_TOPK : k;
    uint32_t *ent = malloc((nl ? nl : 1) * kr * sizeof *ent);
    float *logit = malloc((nl ? nl : 1) * kr * sizeof *logit);
    uint32_t *query = malloc((nl ? nl : 1) * sizeof *query);
    size_t *slot = malloc((nl ? nl : 1) * sizeof *slot);
    rc = KGA_ENOMEM;
    if (ent == NULL || logit == NULL || query == NULL || slot == NULL) {
        kga_err_set(err, rc, "out of memory");
        goto out;
    }
    size_t nq = 0;
    for (size_t q = 0; q < nl; q++) {
        if (lefts[q] >= kga_store_entity_count(a->store[0])) {
            rc = kga_err_set(err, KGA_EINVAL, "left entity %u out of range",
                             lefts[q]);
            goto out;
        }
        uint32_t partner = a->known[0][lefts[q]];
        if (partner != UINT32_MAX) {
            known_row(a, lefts[q], partner, out + q * k, k);
            continue;
        }
        slot[nq] = q;
        query[nq++] = lefts[q];
    }
    rc = kga_ow_rank(&a->scorer, query, nq, a->free_right, a->n_free_right,
                     kr, a->pool, NULL, NULL, ent, logit, err);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i < nq; i++) {
        kga_candidate_t c[KGA_FUSION_MAX_TOPK];
        size_t n = 0;
        for (; n < kr && ent[i * kr + n] != UINT32_MAX; n++) {
            c[n].entity = ent[i * kr + n];
            c[n].score.distance = -logit[i * kr + n];
        }
        kga_scorer_entity_t view;
        kga_scorer_entity(&a->scorer, KGA_SIDE_LEFT, query[i], &view);
        decide(a, &view, c, n, NULL);
        kga_candidate_t *o = out + slot[i] * k;
        for (size_t r = 0; r < k; r++)
            if (r < n)
                o[r] = c[r];
            else
                o[r].entity = UINT32_MAX;
    }
out:
    free(ent);
    free(logit);
    free(query);
    free(slot);
    return rc;
}

size_t kga_aligner_explain_ref(const kga_aligner_t *a,
                               const kga_entity_ref_t *left,
                               const kga_entity_ref_t *right,
                               kga_evidence_t *out, size_t cap)
{
    if (!ref_valid(a, KGA_SIDE_LEFT, left) ||
        !ref_valid(a, KGA_SIDE_RIGHT, right))
        return 0;
    kga_scorer_entity_t tl, tr;
    return kga_explainer_explain(a->explainer, a,
                                 view_of(a, KGA_SIDE_LEFT, left, &tl),
                                 view_of(a, KGA_SIDE_RIGHT, right, &tr), out,
                                 cap);
}

size_t kga_aligner_explain(const kga_aligner_t *a, uint32_t left,
                           uint32_t right, kga_evidence_t *out, size_t cap)
{
    kga_entity_ref_t l = {left, NULL}, r = {right, NULL};
    return kga_aligner_explain_ref(a, &l, &r, out, cap);
}
