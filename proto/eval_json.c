/* `kgalign eval --json`: the evaluation result as one JSON object (see
 * eval_json.h). Here rather than in cli/ because JSON is written only by
 * proto/; apart from wire_encode.c because it is no service response. */
#include "eval_json.h"

#include <inttypes.h>
#include <math.h>

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

static void put_ranking(kga_json_buf_t *b, const kga_ranking_result_t *r)
{
    kga_json_printf(b, "\"queries\": %" PRIu64, r->queries);
    KGA_JSON_LIT(b, ", \"hits1\": ");
    put_number(b, r->hits_at_1);
    KGA_JSON_LIT(b, ", \"hits5\": ");
    put_number(b, r->hits_at_5);
    KGA_JSON_LIT(b, ", \"hits10\": ");
    put_number(b, r->hits_at_10);
    KGA_JSON_LIT(b, ", \"mrr\": ");
    put_number(b, r->mrr);
}

int kga_eval_json_format(const char *direction, const char *split,
                         const char *model_version,
                         const kga_eval_result_t *res, char **out,
                         size_t *out_len)
{
    const kga_pairs_result_t *pr = &res->classification;
    kga_json_buf_t b;
    kga_json_buf_init(&b, 1024 + res->n_groups * 160);
    KGA_JSON_LIT(&b, "{\"direction\": ");
    put_str(&b, direction);
    KGA_JSON_LIT(&b, ", \"split\": ");
    put_str(&b, split);
    kga_json_printf(&b,
                    ", \"k\": %zu, \"pairs\": %" PRIu64
                    ", \"positives\": %" PRIu64 ", \"misses\": %" PRIu64
                    ", ",
                    res->k, res->pairs, res->positives, res->ranking.misses);
    put_ranking(&b, &res->ranking);
    KGA_JSON_LIT(&b, ", \"candidate_recall\": ");
    put_number(&b, res->candidate_recall);
    KGA_JSON_LIT(&b, ", \"prauc\": ");
    put_number(&b, pr->prauc);
    KGA_JSON_LIT(&b, ", \"best_f1\": ");
    put_number(&b, pr->best_f1);
    KGA_JSON_LIT(&b, ", \"best_threshold\": ");
    put_number(&b, pr->best_threshold);
    KGA_JSON_LIT(&b, ", \"recall_at_p95\": ");
    put_number(&b, pr->recall_at_p95);
    KGA_JSON_LIT(&b, ", \"p95_threshold\": ");
    put_number(&b, pr->p95_threshold);
    kga_json_printf(&b, ", \"eval_seconds\": %.3f", res->eval_seconds);
    KGA_JSON_LIT(&b, ", \"model_version\": ");
    put_str(&b, model_version);
    KGA_JSON_LIT(&b, ", \"per_type\": {");
    for (size_t i = 0; i < res->n_groups; i++) {
        const kga_eval_group_t *g = &res->groups[i];
        if (i > 0)
            KGA_JSON_LIT(&b, ", ");
        put_str(&b, g->name);
        KGA_JSON_LIT(&b, ": {");
        put_ranking(&b, &g->ranking);
        KGA_JSON_LIT(&b, ", \"candidate_recall\": ");
        put_number(&b, g->candidate_recall);
        kga_json_char(&b, '}');
    }
    KGA_JSON_LIT(&b, "}}");
    return kga_json_buf_finish(&b, out, out_len);
}
