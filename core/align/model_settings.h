#ifndef KGA_MODEL_SETTINGS_H
#define KGA_MODEL_SETTINGS_H

#include "base/error.h"
#include "align/fusion.h"
#include "gnn/gnn.h"
#include "model/model_file.h"

/* The hyper-parameters of the fusion and of the GNN as model-file settings
 * ("fusion.tau=0.02", "gnn.dim_hidden=32", ...). One table per struct names
 * every field once, so saving and loading cannot drift apart. Loading fails
 * with a message naming the file and the key when one is missing, not of
 * its type, or out of the range its struct's check allows
 * (kga_fusion_params_check, kga_gnn_config_check). */

int kga_settings_put_fusion(kga_model_kv_t *kv, const kga_fusion_params_t *p);
int kga_settings_get_fusion(const kga_model_t *m, kga_fusion_params_t *p,
                            kga_err_t *err);

int kga_settings_put_gnn(kga_model_kv_t *kv, const kga_gnn_config_t *c);
int kga_settings_get_gnn(const kga_model_t *m, kga_gnn_config_t *c,
                         kga_err_t *err);

#endif
