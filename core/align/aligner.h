#ifndef KGA_ALIGNER_H
#define KGA_ALIGNER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/progress.h"
#include "store/store.h"

/* A trained aligner ready to answer: the two graph stores, the model file,
 * and every per-entity quantity that does not depend on the pair (the lower
 * GNN layers, the candidate vectors, the name features), computed once at
 * open. After kga_aligner_open() returns, the aligner is immutable: every
 * function below may be called from any number of threads at once. It is
 * what the server's snapshot holds and what `kgalign eval` and `align` use,
 * so the service scores a pair exactly as the offline tools do. */

typedef struct kga_aligner kga_aligner_t;

typedef enum { KGA_SIDE_LEFT = 0, KGA_SIDE_RIGHT = 1 } kga_side_t;

/* An entity a request describes instead of naming (inline_entity.h). */
typedef struct kga_inline_entity kga_inline_entity_t;

/* An entity to score: a stored one (inl NULL, id its internal id) or one
 * described inline (inl, id ignored). */
typedef struct {
    uint32_t id;
    const kga_inline_entity_t *inl;
} kga_entity_ref_t;

/* The distance is the negated logit of the calibrated final scorer, so that
 * ranking by distance and by probability agree, but distances keep their
 * order where probabilities round to 0 or 1 in float. */
typedef struct {
    float distance;    /* model distance, lower = more alike */
    float probability; /* calibrated probability that the pair matches */
    int match;         /* probability >= the decision threshold (the pair
                          threshold for a pair scored alone) */
} kga_pair_score_t;

typedef struct {
    uint32_t entity; /* internal id on the other side */
    kga_pair_score_t score;
} kga_candidate_t;

/* What one piece of evidence for a pair is (explain.h). */
typedef enum {
    KGA_EVIDENCE_NAMES = 0,   /* the TF-IDF name cosine of the pair itself */
    KGA_EVIDENCE_KNOWN_LINK,  /* neighbours in a training/validation link */
    KGA_EVIDENCE_PSEUDO_SEED, /* neighbours the fusion bootstrapped from */
    KGA_EVIDENCE_MUTUAL_BEST  /* neighbours each the other's likeliest match */
} kga_evidence_kind_t;

/* One piece of evidence for a pair. For KGA_EVIDENCE_NAMES only weight is
 * set (the name cosine; the neighbours are UINT32_MAX). Otherwise a
 * neighbour of the left entity and a neighbour of the right entity that the
 * model believes are one entity, the relation (store relation id) and
 * direction that reach each from its entity (KGA_DIR_OUT: the entity is the
 * head of the triple), and the probability that the two neighbours match
 * (1 for a known link). */
typedef struct {
    kga_evidence_kind_t kind;
    uint32_t left_neighbour, right_neighbour;
    uint32_t left_relation, right_relation;
    kga_dir_t left_dir, right_dir;
    float weight;
} kga_evidence_t;

typedef struct {
    int threads;     /* for the work done at open (0 = all cores) */
    float threshold; /* decision threshold; < 0 = the model's default */
    /* The candidate search (the fusion's kga_search_t: 0 auto, 1 exact,
     * 2 approximate). */
    int search;
    /* 1: also prepares the approximate search of right-side queries
     * (kga_aligner_match() with KGA_SIDE_RIGHT; the service), which
     * otherwise compares the query with every left entity. */
    int right_queries;
    /* The approximate search's knobs (kga_fusion_params_t); 0: the
     * defaults. */
    uint32_t probes, coarse, name_budget;
    /* Gets the stages of opening and of kga_aligner_rank() (NULL: none):
     * for callers that rank from one thread, the command-line tools. */
    const kga_progress_t *progress;
} kga_aligner_options_t;

/* Opens left_store, right_store and model_path and prepares the caches.
 * The stores may be the ones the model was trained on or later generations
 * of them (store.h, `kgalign add`): the entities they added are scored
 * from their names and neighbours, as entities described inline are
 * (inline_entity.h). Fails (KGA_EMISMATCH, with a message that says to
 * train a model on them) for any other stores. On failure *out is NULL and
 * err names the file and what was wrong. */
int kga_aligner_open(const char *left_store, const char *right_store,
                     const char *model_path,
                     const kga_aligner_options_t *options,
                     kga_aligner_t **out, kga_err_t *err);

/* kga_aligner_open() on the stores of a data directory as `kgalign
 * import` writes it (DATA_DIR/left.kgs and right.kgs). */
int kga_aligner_open_dir(const char *data_dir, const char *model_path,
                         const kga_aligner_options_t *options,
                         kga_aligner_t **out, kga_err_t *err);

void kga_aligner_close(kga_aligner_t *a);

/* Whether the three files it maps are as they were when opened: 0, or
 * KGA_ECHANGED (KGA_EIO) naming the first one rewritten in place since.
 * A changed file's bytes are no longer the validated ones, and a truncated
 * one faults (SIGBUS) when read: stop using the aligner. Any thread; three
 * fstat calls. */
int kga_aligner_check_files(const kga_aligner_t *a, kga_err_t *err);

/* The reporter given at open (may be NULL), for long loops over the
 * aligner run by its owner. */
const kga_progress_t *kga_aligner_progress(const kga_aligner_t *a);

/* The stores (owned by the aligner). */
const kga_store_t *kga_aligner_store(const kga_aligner_t *a, kga_side_t side);

/* Identifies the model: the model file's checksum as 16 hex digits. */
const char *kga_aligner_model_version(const kga_aligner_t *a);
/* The decision threshold of the open-world decisions (kga_aligner_decide,
 * kga_aligner_match), and of a pair scored alone (kga_aligner_score: the
 * threshold of the best F1 on labelled validation pairs, where the model
 * had some). options.threshold, when given, sets both. */
float kga_aligner_threshold(const kga_aligner_t *a);
float kga_aligner_pair_threshold(const kga_aligner_t *a);

/* Scores n pairs (internal ids, left[i] with right[i]) into out[i]. Ids must
 * be in range (callers resolve external ids with kga_store_lookup). Runs on
 * the calling thread; allocation-free. */
void kga_aligner_score(const kga_aligner_t *a, const uint32_t *left,
                       const uint32_t *right, size_t n,
                       kga_pair_score_t *out);

/* kga_aligner_score() for pairs of references, either side possibly an
 * entity described inline (of the right side). The same scores for stored
 * entities. Returns 0, KGA_EINVAL (an id out of range or an inline entity
 * of the other side) or KGA_ENOMEM. */
int kga_aligner_score_refs(const kga_aligner_t *a,
                           const kga_entity_ref_t *left,
                           const kga_entity_ref_t *right, size_t n,
                           kga_pair_score_t *out);

/* The k best candidates on the other side for entity `ent` of `side`,
 * generated (kga_fusion_topk_one(), a pool of at least 32) and reranked by
 * the full model, best first. For a left entity they are decided as
 * kga_aligner_decide() does (open world: probabilities that each is the
 * counterpart, right entities of known links left out); for a right entity
 * the probabilities are the pair probabilities. Returns the number written to out (at most
 * k; 0 when out of memory); the slots after them have entity UINT32_MAX. */
size_t kga_aligner_match(const kga_aligner_t *a, kga_side_t side,
                         uint32_t ent, size_t k, kga_candidate_t *out);

/* kga_aligner_match() for a reference: a stored entity as above, or an
 * entity described inline, matched as a stored entity with its names and
 * neighbours would be (a left one in no known link: the open-world
 * decision, with the model's rivals). 0 for a reference of the other
 * side. */
size_t kga_aligner_match_ref(const kga_aligner_t *a, kga_side_t side,
                             const kga_entity_ref_t *ref, size_t k,
                             kga_candidate_t *out);

/* Batch candidates and reranking, for evaluation and bulk alignment: for
 * each left entity lefts[q] (q < nl), the at most k best right entities
 * among rights[0..nr) (NULL: every right entity), generated by the
 * pair-independent scores and reranked by the full model, best first (by
 * distance, ascending), in out[q * k ..]; unused slots have entity
 * UINT32_MAX. Uses the aligner's own threads; not to be called from two
 * threads at once. Returns 0, KGA_EINVAL (id out of range, k too large)
 * or KGA_ENOMEM. */
int kga_aligner_rank(const kga_aligner_t *a, const uint32_t *lefts,
                     size_t nl, const uint32_t *rights, size_t nr, size_t k,
                     kga_candidate_t *out, kga_err_t *err);

/* The partner of entity `ent` of `side` in a known link (the training and
 * validation links the model was trained with), or UINT32_MAX. */
uint32_t kga_aligner_known_partner(const kga_aligner_t *a, kga_side_t side,
                                   uint32_t ent);

/* One byte per entity of side: 1 when it is in a known link (owned by
 * the aligner). */
const uint8_t *kga_aligner_known_mask(const kga_aligner_t *a,
                                      kga_side_t side);

/* The open-world decision for each left entity lefts[q] (q < nl): its k
 * best candidates among the right entities in no known link, each with
 * the probability that it is the counterpart (open_world.h), best first,
 * in out[q * k ..]; only the first can be a match (probability at least
 * the threshold), and where all are below it the entity has no
 * counterpart. A left entity of a known link gets its partner with
 * probability 1 and no other candidate. Unused slots have entity
 * UINT32_MAX. Uses the aligner's threads; not to be called from two
 * threads at once. Returns 0, KGA_EINVAL (id out of range, k not within
 * 1..KGA_FUSION_MAX_TOPK) or KGA_ENOMEM. */
int kga_aligner_decide(const kga_aligner_t *a, const uint32_t *lefts,
                       size_t nl, size_t k, kga_candidate_t *out,
                       kga_err_t *err);

/* Why the model pairs left with right (ids out of range: none): the name
 * similarity when the model uses names, then the neighbour pairs it
 * believes are one entity, strongest first (explain.h). Returns the number
 * written (at most cap). Allocation-free; thread-safe. */
size_t kga_aligner_explain(const kga_aligner_t *a, uint32_t left,
                           uint32_t right, kga_evidence_t *out, size_t cap);

/* kga_aligner_explain() for references (none for one out of range or of
 * the other side). */
size_t kga_aligner_explain_ref(const kga_aligner_t *a,
                               const kga_entity_ref_t *left,
                               const kga_entity_ref_t *right,
                               kga_evidence_t *out, size_t cap);

#endif
