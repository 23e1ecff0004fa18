/* `kgalign eval --json`: the evaluation result as one JSON object (see
 * eval_json.h). Here rather than in cli/ because JSON is written only by
 * proto/; apart from wire_encode.c because it is no service response. */
#include "eval_json.h"

#include <inttypes.h>
#include <math.h>

#include "base/countof.h"
#include "json_buf.h"

static void put_str(kga_json_buf_t *b, const char *s)
{
    kga_json_string(b, s, KGA_JSON_ESCAPE_NUMERIC);
}

/* A number, or null for infinities and NaN (JSON has neither). */
static void put_number(kga_json_buf_t *b, double v)
{
    if (isfinite(v))
        kga_json_printf(b, "%.10g", v);
    else
        KGA_JSON_LIT(b, "null");
}

/* `, "key": value`, a number after the first member of an object (the
 * keys are plain words: no escaping). */
static void put_field(kga_json_buf_t *b, const char *key, double value)
{
    kga_json_printf(b, ", \"%s\": ", key);
    put_number(b, value);
}

/* `, "key": "text"`. */
static void put_str_field(kga_json_buf_t *b, const char *key, const char *s)
{
    kga_json_printf(b, ", \"%s\": ", key);
    put_str(b, s);
}

/* Every result object opens with its protocol and closes with how long the
 * evaluation took and which model it was (before its per-type part). */
static void put_begin(kga_json_buf_t *b, size_t hint, const char *protocol)
{
    kga_json_buf_init(b, hint);
    kga_json_printf(b, "{\"protocol\": \"%s\"", protocol);
}

static void put_end(kga_json_buf_t *b, double seconds,
                    const char *model_version)
{
    kga_json_printf(b, ", \"eval_seconds\": %.3f", seconds);
    put_str_field(b, "model_version", model_version);
}

/* `"name": {`, the i-th member of a per-type object (a comma before all
 * but the first); the caller writes the type's fields and closes it. */
static void put_type_open(kga_json_buf_t *b, size_t i, const char *name)
{
    if (i > 0)
        KGA_JSON_LIT(b, ", ");
    put_str(b, name);
    KGA_JSON_LIT(b, ": {");
}

/* A named number of a result, for the runs of them. */
typedef struct {
    const char *key;
    double value;
} num_field_t;

static void put_numbers(kga_json_buf_t *b, const num_field_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_field(b, f[i].key, f[i].value);
}

static void put_ranking(kga_json_buf_t *b, const kga_ranking_result_t *r)
{
    kga_json_printf(b, "\"queries\": %" PRIu64, r->queries);
    const num_field_t f[] = {{"hits1", r->hits_at_1},
                             {"hits5", r->hits_at_5},
                             {"hits10", r->hits_at_10},
                             {"mrr", r->mrr}};
    put_numbers(b, f, KGA_COUNTOF(f));
}

int kga_eval_json_format(const char *direction, const char *split,
                         const char *model_version,
                         const kga_eval_result_t *res, char **out,
                         size_t *out_len)
{
    const kga_pairs_result_t *pr = &res->classification;
    kga_json_buf_t b;
    put_begin(&b, 1024 + res->n_groups * 160, "closed");
    put_str_field(&b, "direction", direction);
    put_str_field(&b, "split", split);
    kga_json_printf(&b,
                    ", \"k\": %zu, \"pairs\": %" PRIu64
                    ", \"positives\": %" PRIu64 ", \"misses\": %" PRIu64
                    ", ",
                    res->k, res->pairs, res->positives, res->ranking.misses);
    put_ranking(&b, &res->ranking);
    const num_field_t f[] = {{"candidate_recall", res->candidate_recall},
                             {"prauc", pr->prauc},
                             {"best_f1", pr->best_f1},
                             {"best_threshold", pr->best_threshold},
                             {"recall_at_p95", pr->recall_at_p95},
                             {"p95_threshold", pr->p95_threshold}};
    put_numbers(&b, f, KGA_COUNTOF(f));
    put_end(&b, res->eval_seconds, model_version);
    KGA_JSON_LIT(&b, ", \"per_type\": {");
    for (size_t i = 0; i < res->n_groups; i++) {
        const kga_eval_group_t *g = &res->groups[i];
        put_type_open(&b, i, g->name);
        put_ranking(&b, &g->ranking);
        put_field(&b, "candidate_recall", g->candidate_recall);
        kga_json_char(&b, '}');
    }
    KGA_JSON_LIT(&b, "}}");
    return kga_json_buf_finish(&b, out, out_len);
}

/* One row of the worst errors: ids and names of the query, the decided
 * candidate and the counterpart. */
static void put_entity(kga_json_buf_t *b, const char *key,
                       const kga_store_t *s, uint32_t ent)
{
    kga_json_printf(b, ", \"%s\": ", key);
    if (ent == UINT32_MAX) {
        KGA_JSON_LIT(b, "null");
        return;
    }
    KGA_JSON_LIT(b, "{\"id\": ");
    put_str(b, kga_store_entity_ext_id(s, ent));
    put_str_field(b, "name", kga_store_entity_name(s, ent));
    kga_json_char(b, '}');
}

int kga_owe_json_format(const char *split, const char *model_version,
                        const kga_owe_result_t *res, const kga_store_t *left,
                        const kga_store_t *right, const size_t *worst,
                        size_t n_worst, char **out, size_t *out_len)
{
    kga_json_buf_t b;
    put_begin(&b, 2048 + n_worst * 512, "open world");
    put_str_field(&b, "split", split);
    kga_json_printf(&b,
                    ", \"queries\": %" PRIu64
                    ", \"with_counterpart\": %" PRIu64
                    ", \"without_counterpart\": %" PRIu64
                    ", \"gold_links_of_known_entities\": %" PRIu64
                    ", \"matches\": %" PRIu64 ", \"correct_matches\": %" PRIu64
                    ", \"threshold\": ",
                    res->queries, res->with_counterpart,
                    res->without_counterpart, res->gold_skipped, res->matches,
                    res->correct_matches);
    put_number(&b, res->threshold);
    const num_field_t f[] = {
        {"precision", res->precision},
        {"recall", res->recall},
        {"f1", res->f1},
        {"without_counterpart_matched_share", res->without_matched_share},
        {"ece", res->ece}};
    put_numbers(&b, f, KGA_COUNTOF(f));
    KGA_JSON_LIT(&b, ", \"calibration\": [");
    for (size_t i = 0; i < KGA_OWE_BINS; i++) {
        const kga_owe_bin_t *bin = &res->bins[i];
        if (i > 0)
            KGA_JSON_LIT(&b, ", ");
        KGA_JSON_LIT(&b, "{\"lo\": ");
        put_number(&b, bin->lo);
        put_field(&b, "hi", bin->hi);
        kga_json_printf(&b, ", \"rows\": %" PRIu64, bin->rows);
        put_field(&b, "mean_probability", bin->mean_probability);
        put_field(&b, "share_correct", bin->share_correct);
        kga_json_char(&b, '}');
    }
    KGA_JSON_LIT(&b, "], \"worst_errors\": [");
    for (size_t i = 0; i < n_worst; i++) {
        const kga_owe_row_t *row = &res->rows[worst[i]];
        if (i > 0)
            KGA_JSON_LIT(&b, ", ");
        KGA_JSON_LIT(&b, "{\"probability\": ");
        put_number(&b, row->probability);
        put_str_field(&b, "decision", row->match ? "match" : "no-match");
        put_entity(&b, "left", left, row->left);
        put_entity(&b, "candidate", right, row->right);
        put_entity(&b, "counterpart", right, row->truth);
        kga_json_char(&b, '}');
    }
    kga_json_char(&b, ']');
    put_end(&b, res->seconds, model_version);
    kga_json_char(&b, '}');
    return kga_json_buf_finish(&b, out, out_len);
}

static void put_pair_metrics(kga_json_buf_t *b, const kga_pair_metrics_t *m)
{
    kga_json_printf(b, "\"pairs\": %" PRIu64 ", \"positives\": %" PRIu64,
                    m->pairs, m->positives);
    const num_field_t f[] = {{"precision", m->precision},
                             {"recall", m->recall},
                             {"f1", m->f1},
                             {"prauc", m->ranked.prauc},
                             {"recall_at_p95", m->ranked.recall_at_p95}};
    put_numbers(b, f, KGA_COUNTOF(f));
}

int kga_pair_eval_json_format(const char *split, const char *model_version,
                              const kga_pair_eval_result_t *res, char **out,
                              size_t *out_len)
{
    const kga_pair_metrics_t *m = &res->all;
    kga_json_buf_t b;
    put_begin(&b, 1024 + res->n_groups * 200, "labelled pairs");
    put_str_field(&b, "split", split);
    KGA_JSON_LIT(&b, ", ");
    put_pair_metrics(&b, m);
    put_field(&b, "threshold", res->threshold);
    kga_json_printf(&b,
                    ", \"predicted_matches\": %" PRIu64
                    ", \"true_positives\": %" PRIu64,
                    m->predicted, m->true_positives);
    const num_field_t f[] = {{"p95_threshold", m->ranked.p95_threshold},
                             {"best_f1", m->ranked.best_f1},
                             {"best_threshold", m->ranked.best_threshold}};
    put_numbers(&b, f, KGA_COUNTOF(f));
    put_end(&b, res->eval_seconds, model_version);
    KGA_JSON_LIT(&b, ", \"per_type\": {");
    for (size_t i = 0; i < res->n_groups; i++) {
        put_type_open(&b, i, res->groups[i].name);
        put_pair_metrics(&b, &res->groups[i].metrics);
        kga_json_char(&b, '}');
    }
    KGA_JSON_LIT(&b, "}}");
    return kga_json_buf_finish(&b, out, out_len);
}
