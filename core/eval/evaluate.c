/* Evaluation of a trained aligner on gold links (see evaluate.h): the
 * aligner's candidates for each query, turned into ranks and labelled pairs
 * for stats/metrics.c. Apart from the metrics because it needs an aligner
 * (eval/ sits above align/), while the metrics need nothing and are tested
 * on hand-made scores. */
#include "eval/evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

void kga_eval_result_destroy(kga_eval_result_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_groups; i++)
        free(r->groups[i].name);
    free(r->groups);
    free(r->candidates);
    memset(r, 0, sizeof *r);
}

/* The groups that received queries, named, into out->groups. */
static int collect_groups(const kga_ranking_t *rk, const uint64_t *found,
                          const char *const *names, kga_eval_result_t *out,
                          kga_err_t *err)
{
    size_t used = 0;
    for (uint32_t g = 0; g < rk->n_groups; g++)
        used += rk->group[g].queries > 0;
    if (used == 0)
        return 0;
    out->groups = calloc(used, sizeof *out->groups);
    if (out->groups == NULL)
        return kga_err_set(err, KGA_ENOMEM, "evaluation: out of memory");
    for (uint32_t g = 0; g < rk->n_groups; g++) {
        if (rk->group[g].queries == 0)
            continue;
        kga_eval_group_t *eg = &out->groups[out->n_groups++];
        eg->group = g;
        (void)kga_ranking_group_result(rk, g, &eg->ranking);
        eg->candidate_recall =
            (double)found[g] / (double)rk->group[g].queries;
        if (names != NULL && names[g] != NULL) {
            eg->name = strdup(names[g]);
        } else {
            char buf[32];
            snprintf(buf, sizeof buf, "group %u", (unsigned)g);
            eg->name = strdup(buf);
        }
        if (eg->name == NULL)
            return kga_err_set(err, KGA_ENOMEM, "evaluation: out of memory");
    }
    return 0;
}

int kga_evaluate_candidates(const kga_candidate_t *cands, size_t k,
                            const uint32_t *true_right, size_t n,
                            const uint32_t *group,
                            const char *const *group_names,
                            uint32_t n_groups, kga_eval_result_t *out,
                            kga_err_t *err)
{
    double start = kga_clock_seconds();
    memset(out, 0, sizeof *out);
    if (n > 0 && (cands == NULL || true_right == NULL || k == 0))
        return kga_err_set(err, KGA_EINVAL,
                           "evaluation: no candidates or k = 0");
    /* Every candidate slot may hold a pair, and every query may add one
     * missed positive. */
    if (n > 0 && k > (KGA_PAIRS_MAX - n) / n)
        return kga_err_set(err, KGA_ELIMIT,
                           "evaluation: %zu queries x %zu candidates exceed "
                           "the limit of %zu pairs",
                           n, k, (size_t)KGA_PAIRS_MAX);
    if (group == NULL)
        n_groups = 0;

    kga_ranking_t rk;
    int rc = kga_ranking_init(&rk, n_groups);
    uint64_t *found_in_group = calloc(n_groups ? n_groups : 1,
                                      sizeof *found_in_group);
    float *others = malloc((k ? k : 1) * sizeof *others);
    size_t cap = n * k + n;
    float *score = malloc((cap ? cap : 1) * sizeof *score);
    uint8_t *label = malloc(cap ? cap : 1);
    if (rc == KGA_ELIMIT) {
        rc = kga_err_set(err, rc, "evaluation: %u groups exceed the limit "
                                  "of %u",
                         (unsigned)n_groups, (unsigned)KGA_RANKING_GROUPS_MAX);
        goto done;
    }
    if (rc != 0 || found_in_group == NULL || others == NULL ||
        score == NULL || label == NULL) {
        rc = kga_err_set(err, KGA_ENOMEM,
                         "evaluation: out of memory (%zu pairs)", cap);
        goto done;
    }

    size_t np = 0;
    for (size_t q = 0; q < n; q++) {
        const kga_candidate_t *c = cands + q * k;
        size_t truth = SIZE_MAX;
        for (size_t j = 0; j < k && truth == SIZE_MAX; j++)
            if (c[j].entity == true_right[q])
                truth = j;
        size_t m = 0;
        for (size_t j = 0; j < k; j++) {
            if (c[j].entity == UINT32_MAX || j == truth)
                continue;
            others[m++] = -c[j].score.distance;
            score[np] = c[j].score.probability;
            label[np++] = 0;
        }
        out->pairs += m;
        uint32_t g = group != NULL ? group[q] : KGA_GROUP_NONE;
        uint32_t rank = KGA_RANK_MISS;
        if (truth != SIZE_MAX) {
            rank = kga_rank_with_ties(-c[truth].score.distance, others, m);
            score[np] = c[truth].score.probability;
            out->pairs++;
            out->found++;
            if (g != KGA_GROUP_NONE && g < n_groups)
                found_in_group[g]++;
        } else {
            score[np] = NAN; /* a positive the candidates missed */
        }
        label[np++] = 1;
        if (kga_ranking_add(&rk, rank, g) != 0) {
            rc = kga_err_set(err, KGA_ERANGE,
                             "evaluation: query %zu: group %u is out of "
                             "range (%u groups)",
                             q, (unsigned)g, (unsigned)n_groups);
            goto done;
        }
    }

    out->k = n > 0 ? k : 0;
    out->queries = n;
    out->positives = n;
    kga_ranking_result(&rk, &out->ranking);
    out->candidate_recall = n > 0 ? (double)out->found / (double)n : 0.0;
    rc = kga_pairs_evaluate(score, label, np, &out->classification);
    if (rc != 0) {
        rc = kga_err_set(err, rc, "evaluation: pair classification: %s",
                         kga_strerror(rc));
        goto done;
    }
    rc = collect_groups(&rk, found_in_group, group_names, out, err);
    out->eval_seconds = kga_clock_seconds() - start;
done:
    free(label);
    free(score);
    free(others);
    free(found_in_group);
    kga_ranking_destroy(&rk);
    if (rc != 0)
        kga_eval_result_destroy(out);
    return rc;
}

int kga_evaluate(const kga_aligner_t *a, const kga_pairs_t *links, size_t k,
                 kga_eval_result_t *out, kga_err_t *err)
{
    double start = kga_clock_seconds();
    memset(out, 0, sizeof *out);
    kga_err_clear(err);
    if (a == NULL || links == NULL || k == 0)
        return kga_err_set(err, KGA_EINVAL,
                           "evaluation: no aligner, no links or k = 0");
    const kga_store_t *left = kga_aligner_store(a, KGA_SIDE_LEFT);
    const kga_store_t *right = kga_aligner_store(a, KGA_SIDE_RIGHT);
    size_t n = links->count;
    for (size_t q = 0; q < n; q++)
        if (links->left[q] >= kga_store_entity_count(left) ||
            links->right[q] >= kga_store_entity_count(right))
            return kga_err_set(err, KGA_EINVAL,
                               "evaluation: link %zu: entity id out of "
                               "range of the aligner's stores", q);
    if (k > n)
        k = n; /* no more candidates than the domain holds */
    if (n > 0 && k > (KGA_PAIRS_MAX - n) / n)
        return kga_err_set(err, KGA_ELIMIT,
                           "evaluation: %zu queries x %zu candidates exceed "
                           "the limit of %zu pairs",
                           n, k, (size_t)KGA_PAIRS_MAX);

    uint32_t n_types = kga_store_type_count(left);
    size_t slots = n * k;
    kga_candidate_t *cands = malloc((slots > 0 ? slots : 1) * sizeof *cands);
    uint32_t *group = malloc((n ? n : 1) * sizeof *group);
    const char **names = malloc((n_types ? n_types : 1) * sizeof *names);
    int rc;
    if (cands == NULL || group == NULL || names == NULL) {
        rc = kga_err_set(err, KGA_ENOMEM,
                         "evaluation: out of memory (%zu x %zu candidates)",
                         n, k);
        goto done;
    }
    for (size_t q = 0; q < n; q++) {
        uint32_t t = kga_store_entity_type(left, links->left[q]);
        group[q] = t == KGA_NO_TYPE ? KGA_GROUP_NONE : t;
    }
    for (uint32_t t = 0; t < n_types; t++)
        names[t] = kga_store_type_name(left, t);

    if (n > 0) {
        rc = kga_aligner_rank(a, links->left, n, links->right, n, k, cands,
                              err);
        if (rc != 0) {
            if (err != NULL && err->msg[0] == '\0')
                kga_err_set(err, rc, "evaluation: candidate ranking: %s",
                            kga_strerror(rc));
            goto done;
        }
    }
    rc = kga_evaluate_candidates(cands, k, links->right, n, group, names,
                                 n_types, out, err);
    if (rc == 0) {
        out->candidates = cands;
        cands = NULL;
        out->eval_seconds = kga_clock_seconds() - start;
    }
done:
    free(names);
    free(group);
    free(cands);
    return rc;
}
