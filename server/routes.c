/* Routing table and the pool-side work of /align and /match: decode with
 * proto/wire, resolve external ids in the snapshot's stores, score, encode.
 * Everything here runs on a pool thread and touches only the call's own
 * memory and the immutable aligner. */
#include "routes.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Evidence items per pair when "explain" is asked for: the name item and
 * the five strongest neighbour pairs. */
#define EXPLAIN_MAX 6
/* Requests up to this many pairs keep their arrays on the stack. */
#define SMALL_PAIRS 8

typedef struct {
    const char *path;
    const char *method;
    int work;
} route_info_t;

static const route_info_t route_table[KGA_ROUTE_COUNT_] = {
    [KGA_ROUTE_ALIGN] = {"/align", "POST", 1},
    [KGA_ROUTE_MATCH] = {"/match", "POST", 1},
    [KGA_ROUTE_HEALTHZ] = {"/healthz", "GET", 0},
    [KGA_ROUTE_READYZ] = {"/readyz", "GET", 0},
    [KGA_ROUTE_METRICS] = {"/metrics", "GET", 0},
    [KGA_ROUTE_RELOAD] = {"/admin/reload", "POST", 0},
    [KGA_ROUTE_UNKNOWN] = {"other", NULL, 0},
};

kga_route_t kga_route_find(const char *path)
{
    for (int r = 0; r < KGA_ROUTE_UNKNOWN; r++)
        if (strcmp(path, route_table[r].path) == 0)
            return (kga_route_t)r;
    return KGA_ROUTE_UNKNOWN;
}

const char *kga_route_label(kga_route_t route)
{
    return (unsigned)route < KGA_ROUTE_COUNT_ ? route_table[route].path
                                              : "other";
}

const char *kga_route_method(kga_route_t route)
{
    return (unsigned)route < KGA_ROUTE_COUNT_ ? route_table[route].method
                                              : NULL;
}

int kga_route_is_work(kga_route_t route)
{
    return (unsigned)route < KGA_ROUTE_COUNT_ && route_table[route].work;
}

uint64_t kga_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int past_deadline(const kga_route_call_t *c)
{
    return c->deadline_ns != 0 && kga_now_ns() > c->deadline_ns;
}

static void answer_error(kga_route_call_t *c, const kga_wire_meta_t *meta,
                         const kga_wire_error_t *e)
{
    c->status = e->status;
    if (kga_wire_error_format(meta, e, &c->out, &c->out_len) != 0)
        c->status = 500;
}

static void answer_code(kga_route_call_t *c, const kga_wire_meta_t *meta,
                        kga_wire_code_t code, const char *message)
{
    kga_wire_error_t e;
    kga_wire_error_set(&e, code, "%s", message);
    answer_error(c, meta, &e);
}

static void answer_deadline(kga_route_call_t *c, const kga_wire_meta_t *meta)
{
    answer_code(c, meta, KGA_WIRE_DEADLINE_EXCEEDED,
                "the request deadline passed before the work finished");
}

/* Per-request scratch of /align: one allocation, or the stack for small
 * requests (the common single pair). */
typedef struct {
    kga_align_result_t *results;
    uint32_t *left, *right; /* internal ids of the known pairs */
    size_t *slot;           /* result index of each known pair */
    kga_pair_score_t *scores;
    kga_evidence_t *evidence;    /* EXPLAIN_MAX per known pair */
    kga_wire_evidence_t *wire_ev; /* idem, resolved to names */
    void *heap;
} align_scratch_t;

typedef struct {
    kga_align_result_t results[SMALL_PAIRS];
    uint32_t left[SMALL_PAIRS], right[SMALL_PAIRS];
    size_t slot[SMALL_PAIRS];
    kga_pair_score_t scores[SMALL_PAIRS];
} align_small_t;

static int scratch_init(align_scratch_t *s, align_small_t *small, size_t n,
                        int explain)
{
    memset(s, 0, sizeof *s);
    if (n <= SMALL_PAIRS && !explain) {
        s->results = small->results;
        s->left = small->left;
        s->right = small->right;
        s->slot = small->slot;
        s->scores = small->scores;
        return 0;
    }
    /* n is bounded by max_pairs (checked by the decoder), so the sizes
     * below cannot overflow. */
    size_t ev = explain ? n * EXPLAIN_MAX : 0;
    size_t bytes = n * (sizeof(kga_align_result_t) + 2 * sizeof(uint32_t) +
                        sizeof(size_t) + sizeof(kga_pair_score_t)) +
                   ev * (sizeof(kga_evidence_t) + sizeof(kga_wire_evidence_t)) +
                   64;
    char *p = malloc(bytes);
    if (p == NULL)
        return -1;
    s->heap = p;
    /* Largest alignment first. */
    s->results = (kga_align_result_t *)(void *)p;
    p += n * sizeof(kga_align_result_t);
    s->wire_ev = (kga_wire_evidence_t *)(void *)p;
    p += ev * sizeof(kga_wire_evidence_t);
    s->slot = (size_t *)(void *)p;
    p += n * sizeof(size_t);
    s->evidence = (kga_evidence_t *)(void *)p;
    p += ev * sizeof(kga_evidence_t);
    s->scores = (kga_pair_score_t *)(void *)p;
    p += n * sizeof(kga_pair_score_t);
    s->left = (uint32_t *)(void *)p;
    p += n * sizeof(uint32_t);
    s->right = (uint32_t *)(void *)p;
    return 0;
}

/* The evidence for (left, right) into ev, resolved to ids, names and
 * relation names in wev (EXPLAIN_MAX slots each). Returns the count. */
static size_t explain_into(const kga_aligner_t *a, uint32_t left,
                           uint32_t right, kga_evidence_t *ev,
                           kga_wire_evidence_t *wev)
{
    const kga_store_t *ls = kga_aligner_store(a, KGA_SIDE_LEFT);
    const kga_store_t *rs = kga_aligner_store(a, KGA_SIDE_RIGHT);
    size_t n = kga_aligner_explain(a, left, right, ev, EXPLAIN_MAX);
    for (size_t i = 0; i < n; i++) {
        kga_wire_evidence_t *w = &wev[i];
        memset(w, 0, sizeof *w);
        w->kind = ev[i].kind;
        w->weight = ev[i].weight;
        if (ev[i].kind == KGA_EVIDENCE_NAMES) {
            w->left_name = kga_store_entity_name(ls, left);
            w->right_name = kga_store_entity_name(rs, right);
            continue;
        }
        w->left_neighbour = kga_store_entity_ext_id(ls, ev[i].left_neighbour);
        w->right_neighbour =
            kga_store_entity_ext_id(rs, ev[i].right_neighbour);
        w->left_name = kga_store_entity_name(ls, ev[i].left_neighbour);
        w->right_name = kga_store_entity_name(rs, ev[i].right_neighbour);
        w->left_relation = kga_store_relation_name(ls, ev[i].left_relation);
        w->right_relation = kga_store_relation_name(rs, ev[i].right_relation);
        w->left_dir = ev[i].left_dir;
        w->right_dir = ev[i].right_dir;
    }
    return n;
}

static void explain_pair(const kga_aligner_t *a, align_scratch_t *s,
                         size_t k, kga_align_result_t *r)
{
    kga_wire_evidence_t *wev = s->wire_ev + k * EXPLAIN_MAX;
    r->n_evidence = explain_into(a, s->left[k], s->right[k],
                                 s->evidence + k * EXPLAIN_MAX, wev);
    r->evidence = wev;
}

/* Clears the call's results; the metadata of its answer. */
static kga_wire_meta_t call_begin(kga_route_call_t *c)
{
    c->out = NULL;
    c->out_len = 0;
    c->pairs = 0;
    kga_wire_meta_t meta = {c->request_id,
                            kga_aligner_model_version(c->aligner)};
    return meta;
}

/* A request body that did not decode: 400 with the field, or 500. */
static void answer_parse_error(kga_route_call_t *c,
                               const kga_wire_meta_t *meta, int rc,
                               const kga_wire_error_t *werr)
{
    if (rc > 0)
        answer_error(c, meta, werr);
    else
        answer_code(c, meta, KGA_WIRE_INTERNAL, "out of memory");
}

void kga_route_align(kga_route_call_t *c)
{
    const kga_aligner_t *a = c->aligner;
    kga_wire_meta_t meta = call_begin(c);
    kga_align_request_t req;
    kga_wire_error_t werr;
    int rc = kga_align_request_parse(&req, c->body, c->body_len, c->limits,
                                     &werr);
    if (rc != 0) {
        answer_parse_error(c, &meta, rc, &werr);
        kga_align_request_destroy(&req);
        return;
    }

    size_t n = req.n_pairs;
    align_scratch_t s;
    align_small_t small;
    if (scratch_init(&s, &small, n, req.explain) != 0) {
        answer_code(c, &meta, KGA_WIRE_INTERNAL, "out of memory");
        kga_align_request_destroy(&req);
        return;
    }

    const kga_store_t *ls = kga_aligner_store(a, KGA_SIDE_LEFT);
    const kga_store_t *rs = kga_aligner_store(a, KGA_SIDE_RIGHT);
    size_t known = 0;
    for (size_t i = 0; i < n; i++) {
        kga_align_result_t *r = &s.results[i];
        memset(r, 0, sizeof *r);
        r->left = req.pairs[i].left;
        r->right = req.pairs[i].right;
        int64_t l = kga_store_lookup(ls, r->left);
        int64_t rr = kga_store_lookup(rs, r->right);
        if (l < 0)
            r->unknown |= KGA_WIRE_UNKNOWN_LEFT;
        if (rr < 0)
            r->unknown |= KGA_WIRE_UNKNOWN_RIGHT;
        if (r->unknown != 0)
            continue;
        s.left[known] = (uint32_t)l;
        s.right[known] = (uint32_t)rr;
        s.slot[known] = i;
        known++;
    }

    int late = past_deadline(c);
    for (size_t b = 0; b < known && !late; b += KGA_ROUTE_SCORE_BATCH) {
        size_t nb = known - b < KGA_ROUTE_SCORE_BATCH ? known - b
                                                      : KGA_ROUTE_SCORE_BATCH;
        kga_aligner_score(a, s.left + b, s.right + b, nb, s.scores + b);
        c->pairs += nb;
        late = past_deadline(c);
    }
    for (size_t k = 0; k < known && !late; k++) {
        kga_align_result_t *r = &s.results[s.slot[k]];
        r->score = s.scores[k];
        if (req.explain) {
            explain_pair(a, &s, k, r);
            if ((k + 1) % KGA_ROUTE_SCORE_BATCH == 0)
                late = past_deadline(c);
        }
    }
    if (!late && req.explain)
        late = past_deadline(c);

    if (late) {
        answer_deadline(c, &meta);
    } else {
        c->status = 200;
        if (kga_align_response_format(&meta, s.results, n, req.explain,
                                      &c->out, &c->out_len) != 0)
            answer_code(c, &meta, KGA_WIRE_INTERNAL, "out of memory");
    }
    free(s.heap);
    kga_align_request_destroy(&req);
}

void kga_route_match(kga_route_call_t *c)
{
    const kga_aligner_t *a = c->aligner;
    kga_wire_meta_t meta = call_begin(c);
    kga_match_request_t req;
    kga_wire_error_t werr;
    int rc = kga_match_request_parse(&req, c->body, c->body_len, c->limits,
                                     &werr);
    if (rc != 0) {
        answer_parse_error(c, &meta, rc, &werr);
        kga_match_request_destroy(&req);
        return;
    }

    kga_side_t other = req.side == KGA_SIDE_LEFT ? KGA_SIDE_RIGHT
                                                 : KGA_SIDE_LEFT;
    const kga_store_t *qs = kga_aligner_store(a, req.side);
    const kga_store_t *os = kga_aligner_store(a, other);
    int64_t ent = kga_store_lookup(qs, req.id);
    if (ent < 0) {
        kga_wire_error_unknown_id(&werr, req.side, req.id);
        answer_error(c, &meta, &werr);
        kga_match_request_destroy(&req);
        return;
    }
    if (past_deadline(c)) {
        answer_deadline(c, &meta);
        kga_match_request_destroy(&req);
        return;
    }

    /* k <= KGA_WIRE_K_MAX (checked by the decoder). */
    size_t nev = req.explain ? req.k * EXPLAIN_MAX : 0;
    kga_candidate_t *cand = malloc(req.k * sizeof *cand);
    kga_match_candidate_t *wire = malloc(req.k * sizeof *wire);
    kga_evidence_t *ev = nev ? malloc(nev * sizeof *ev) : NULL;
    kga_wire_evidence_t *wev = nev ? malloc(nev * sizeof *wev) : NULL;
    if (cand == NULL || wire == NULL || (nev && (ev == NULL || wev == NULL))) {
        answer_code(c, &meta, KGA_WIRE_INTERNAL, "out of memory");
        goto out;
    }
    size_t n = kga_aligner_match(a, req.side, (uint32_t)ent, req.k, cand);
    c->pairs = n;
    if (past_deadline(c)) {
        answer_deadline(c, &meta);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        wire[i].id = kga_store_entity_ext_id(os, cand[i].entity);
        wire[i].score = cand[i].score;
        wire[i].evidence = NULL;
        wire[i].n_evidence = 0;
        if (!req.explain)
            continue;
        uint32_t q = (uint32_t)ent, o = cand[i].entity;
        wire[i].evidence = wev + i * EXPLAIN_MAX;
        wire[i].n_evidence = explain_into(
            a, req.side == KGA_SIDE_LEFT ? q : o,
            req.side == KGA_SIDE_LEFT ? o : q, ev + i * EXPLAIN_MAX,
            wev + i * EXPLAIN_MAX);
        if ((i + 1) % KGA_ROUTE_SCORE_BATCH == 0 && past_deadline(c)) {
            answer_deadline(c, &meta);
            goto out;
        }
    }
    if (req.explain && past_deadline(c)) {
        answer_deadline(c, &meta);
        goto out;
    }
    c->status = 200;
    if (kga_match_response_format(&meta, req.side, req.id, wire, n,
                                  req.explain, &c->out, &c->out_len) != 0)
        answer_code(c, &meta, KGA_WIRE_INTERNAL, "out of memory");
out:
    free(wev);
    free(ev);
    free(wire);
    free(cand);
    kga_match_request_destroy(&req);
}
