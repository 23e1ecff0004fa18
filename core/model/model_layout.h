#ifndef KGA_MODEL_LAYOUT_H
#define KGA_MODEL_LAYOUT_H

/* Section and setting names of an alignment model file, shared by the
 * trainer that writes it and the aligner that reads it. A change here that
 * old files cannot satisfy bumps KGA_ALIGN_MODEL_FORMAT. */

/* 6: the structural features end in relational context blocks; 5: the
 * open-world decision weighs nine features of its own before the
 * pair's (the neighbourhood agreement gained what could have agreed); 4:
 * the structural features are int8 blocks, their projection a count
 * sketch (the scores of older files would change under them); 3 added the
 * Latin form of names and the attribute model. */
#define KGA_ALIGN_MODEL_FORMAT 6

#define KGA_SEC_SETTINGS "settings"       /* key=value settings */
#define KGA_SEC_FINGERPRINTS "stores"     /* u64[2]: left, right store checksums */
#define KGA_SEC_SEEDS "fusion.seeds"      /* u32[2n]: left, right, ... */
/* Per-entity sections hold the entities of the stores trained on; a later
 * generation of a store (store.h) adds entities after them. */
#define KGA_SEC_LU "fusion.lu"            /* u64[left n]: double bits */
#define KGA_SEC_LV "fusion.lv"            /* u64[right n]: double bits */
#define KGA_SEC_ANCHORS "gnn.anchors"     /* u32[2n]: left, right, ... */
#define KGA_SEC_GNN_PREFIX "gnn.param."   /* + tensor name */
#define KGA_SEC_LOGREG "scorer.logreg"    /* f32: kga_logreg_pack */
#define KGA_SEC_ATTR_LOGREG "scorer.attr_logreg" /* f32: kga_logreg_pack;
                                                    absent: no attribute
                                                    model */
#define KGA_SEC_KNOWN "links.known"       /* u32[2n]: training + validation */
#define KGA_SEC_OW_LOGREG "openworld.logreg" /* f32: kga_logreg_pack */
#define KGA_SEC_OW_RIVAL "openworld.rival"   /* f32[right n][2]: best, second */
#define KGA_SEC_OW_RIVAL_LEFT "openworld.rival_left" /* u32[right n] */

#define KGA_KEY_FORMAT "model.format"
#define KGA_KEY_FEATURES "model.features"      /* names|ids|both|auto */
#define KGA_KEY_NAME_WEIGHT "model.name_weight" /* wn decided by training */
#define KGA_KEY_TRANSLIT_WEIGHT "model.translit_weight" /* likewise */
#define KGA_KEY_TAU "model.tau"
#define KGA_KEY_GNN "model.gnn"                 /* 1: GNN present */
#define KGA_KEY_THRESHOLD "model.threshold"     /* decision probability */
/* Decision probability of a pair scored alone (kga_aligner_score): chosen
 * on the validation pairs where there are labelled ones, else the
 * threshold. */
#define KGA_KEY_PAIR_THRESHOLD "model.pair_threshold"
/* Features of the attribute model: 0 when absent; otherwise the rebuilt
 * channels must give as many. */
#define KGA_KEY_ATTR_FEATURES "model.attr_features"
/* Relation channels the attribute model was built with (attributes.h). */
#define KGA_KEY_ATTR_RELATIONS "model.attr_relations"
/* The generation (store.h) of each store trained on; absent: 1. Later
 * generations that only add are accepted (the fingerprints section names
 * the ones trained on). */
#define KGA_KEY_GENERATION_LEFT "stores.generation.left"
#define KGA_KEY_GENERATION_RIGHT "stores.generation.right"

#endif
