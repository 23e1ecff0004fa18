/* The fusion and GNN hyper-parameters as model-file settings (see
 * model_settings.h). One table per struct names each field once, with its
 * type and offset, for both the trainer's writing and the aligner's
 * reading, so the two cannot drift apart. It is in align/, not model/,
 * because it knows the fusion and GNN structs, which model/ must not. */
#include "align/model_settings.h"

#include "base/countof.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { SET_U32, SET_INT, SET_U64, SET_FLOAT, SET_DOUBLE } set_type_t;

typedef struct {
    const char *key;
    set_type_t type;
    size_t offset;
} setting_t;

#define FIELD(prefix, type, st, member) \
    {prefix #member, type, offsetof(st, member)}

static const setting_t fusion_settings[] = {
    FIELD("fusion.", SET_U32, kga_fusion_params_t, structure.dim),
    FIELD("fusion.", SET_U32, kga_fusion_params_t, structure.hops),
    FIELD("fusion.", SET_U32, kga_fusion_params_t, structure.typed_hops),
    FIELD("fusion.", SET_INT, kga_fusion_params_t, structure.signature),
    FIELD("fusion.", SET_U32, kga_fusion_params_t, structure.context_blocks),
    FIELD("fusion.", SET_U32, kga_fusion_params_t, structure.context_levels),
    FIELD("fusion.", SET_FLOAT, kga_fusion_params_t, structure.context_weight),
    FIELD("fusion.", SET_U64, kga_fusion_params_t, structure.seed),
    FIELD("fusion.", SET_U32, kga_fusion_params_t, names.bucket_bits),
    FIELD("fusion.", SET_U32, kga_fusion_params_t, names.ngram_min),
    FIELD("fusion.", SET_U32, kga_fusion_params_t, names.ngram_max),
    FIELD("fusion.", SET_INT, kga_fusion_params_t, names.per_word),
    FIELD("fusion.", SET_INT, kga_fusion_params_t, names.words),
    FIELD("fusion.", SET_FLOAT, kga_fusion_params_t, names.word_weight),
    FIELD("fusion.", SET_INT, kga_fusion_params_t, names.accents),
    FIELD("fusion.", SET_INT, kga_fusion_params_t, names.sublinear_tf),
    FIELD("fusion.", SET_INT, kga_fusion_params_t, names.translit),
    FIELD("fusion.", SET_FLOAT, kga_fusion_params_t, name_weight),
    FIELD("fusion.", SET_DOUBLE, kga_fusion_params_t, name_threshold),
    FIELD("fusion.", SET_U32, kga_fusion_params_t, topk),
    FIELD("fusion.", SET_DOUBLE, kga_fusion_params_t, tau),
    FIELD("fusion.", SET_U32, kga_fusion_params_t, sinkhorn_iters),
    FIELD("fusion.", SET_U32, kga_fusion_params_t, rounds),
    FIELD("fusion.", SET_DOUBLE, kga_fusion_params_t, min_gain),
    FIELD("fusion.", SET_DOUBLE, kga_fusion_params_t, seed_min_p),
};

static const setting_t gnn_settings[] = {
    FIELD("gnn.", SET_U32, kga_gnn_config_t, dim_proj),
    FIELD("gnn.", SET_U32, kga_gnn_config_t, dim_name),
    FIELD("gnn.", SET_U32, kga_gnn_config_t, dim_entity),
    FIELD("gnn.", SET_U32, kga_gnn_config_t, dim_hidden),
    FIELD("gnn.", SET_U32, kga_gnn_config_t, bases),
    FIELD("gnn.", SET_U32, kga_gnn_config_t, samples),
    FIELD("gnn.", SET_INT, kga_gnn_config_t, uniform_sampling),
    FIELD("gnn.", SET_INT, kga_gnn_config_t, cross_attention),
    FIELD("gnn.", SET_INT, kga_gnn_config_t, self_attention),
    FIELD("gnn.", SET_FLOAT, kga_gnn_config_t, leaky_slope),
    FIELD("gnn.", SET_FLOAT, kga_gnn_config_t, margin),
    FIELD("gnn.", SET_U32, kga_gnn_config_t, neg_right),
    FIELD("gnn.", SET_U32, kga_gnn_config_t, neg_left),
    FIELD("gnn.", SET_U32, kga_gnn_config_t, hard_negatives),
    FIELD("gnn.", SET_U32, kga_gnn_config_t, hard_pool),
    FIELD("gnn.", SET_U32, kga_gnn_config_t, hard_start),
    FIELD("gnn.", SET_U32, kga_gnn_config_t, batch),
    FIELD("gnn.", SET_FLOAT, kga_gnn_config_t, lr),
    FIELD("gnn.", SET_FLOAT, kga_gnn_config_t, beta1),
    FIELD("gnn.", SET_FLOAT, kga_gnn_config_t, beta2),
    FIELD("gnn.", SET_FLOAT, kga_gnn_config_t, adam_eps),
    FIELD("gnn.", SET_FLOAT, kga_gnn_config_t, weight_decay),
    FIELD("gnn.", SET_U64, kga_gnn_config_t, seed),
};


static int put_all(kga_model_kv_t *kv, const setting_t *t, size_t n,
                   const void *base)
{
    for (size_t i = 0; i < n; i++) {
        const char *p = (const char *)base + t[i].offset;
        int rc = 0;
        switch (t[i].type) {
        case SET_U32:
            rc = kga_model_kv_set_u64(kv, t[i].key, *(const uint32_t *)p);
            break;
        case SET_INT:
            rc = kga_model_kv_set_int(kv, t[i].key, *(const int *)p);
            break;
        case SET_U64:
            rc = kga_model_kv_set_u64(kv, t[i].key, *(const uint64_t *)p);
            break;
        case SET_FLOAT:
            rc = kga_model_kv_set_double(kv, t[i].key, *(const float *)p);
            break;
        case SET_DOUBLE:
            rc = kga_model_kv_set_double(kv, t[i].key, *(const double *)p);
            break;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int get_all(const kga_model_t *m, const setting_t *t, size_t n,
                   void *base, kga_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        char *p = (char *)base + t[i].offset;
        uint64_t u;
        int64_t v;
        double d;
        int rc;
        switch (t[i].type) {
        case SET_U32:
            if ((rc = kga_model_kv_get_u64(m, t[i].key, &u, err)) != 0)
                return rc;
            if (u > UINT32_MAX)
                return kga_err_set(err, KGA_ERANGE, "%s: setting %s out of range",
                                   kga_model_path(m), t[i].key);
            *(uint32_t *)p = (uint32_t)u;
            break;
        case SET_INT:
            if ((rc = kga_model_kv_get_int(m, t[i].key, &v, err)) != 0)
                return rc;
            if (v < INT32_MIN || v > INT32_MAX)
                return kga_err_set(err, KGA_ERANGE, "%s: setting %s out of range",
                                   kga_model_path(m), t[i].key);
            *(int *)p = (int)v;
            break;
        case SET_U64:
            if ((rc = kga_model_kv_get_u64(m, t[i].key, &u, err)) != 0)
                return rc;
            *(uint64_t *)p = u;
            break;
        case SET_FLOAT:
        case SET_DOUBLE:
            if ((rc = kga_model_kv_get_double(m, t[i].key, &d, err)) != 0)
                return rc;
            if (!isfinite(d))
                return kga_err_set(err, KGA_ERANGE, "%s: setting %s is not finite",
                                   kga_model_path(m), t[i].key);
            if (t[i].type == SET_FLOAT)
                *(float *)p = (float)d;
            else
                *(double *)p = d;
            break;
        }
    }
    return 0;
}

int kga_settings_put_fusion(kga_model_kv_t *kv, const kga_fusion_params_t *p)
{
    return put_all(kv, fusion_settings, KGA_COUNTOF(fusion_settings), p);
}

int kga_settings_get_fusion(const kga_model_t *m, kga_fusion_params_t *p,
                            kga_err_t *err)
{
    kga_fusion_params_init(p);
    int rc = get_all(m, fusion_settings, KGA_COUNTOF(fusion_settings), p, err);
    kga_err_t why;
    if (rc == 0 && (rc = kga_fusion_params_check(p, &why)) != 0)
        kga_err_set(err, rc, "%s: settings: %s", kga_model_path(m), why.msg);
    return rc;
}

int kga_settings_put_gnn(kga_model_kv_t *kv, const kga_gnn_config_t *c)
{
    return put_all(kv, gnn_settings, KGA_COUNTOF(gnn_settings), c);
}

int kga_settings_get_gnn(const kga_model_t *m, kga_gnn_config_t *c,
                         kga_err_t *err)
{
    *c = kga_gnn_config_default();
    int rc = get_all(m, gnn_settings, KGA_COUNTOF(gnn_settings), c, err);
    kga_err_t why;
    if (rc == 0 && (rc = kga_gnn_config_check(c, &why)) != 0)
        kga_err_set(err, rc, "%s: settings: %s", kga_model_path(m), why.msg);
    return rc;
}
