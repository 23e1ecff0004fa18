/* Routing table and the pool-side work of /align and /match: decode with
 * proto/wire, resolve external ids in the snapshot's stores (or build the
 * entities a request describes inline), score, encode. Everything here
 * runs on a pool thread and touches only the call's own memory and the
 * immutable aligner. */
#include "routes.h"

#include <stdio.h>
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

/* The display name of a reference. */
static const char *ref_name(const kga_aligner_t *a, kga_side_t side,
                            const kga_entity_ref_t *r)
{
    if (r->inl != NULL)
        return kga_inline_entity_name(r->inl);
    return kga_store_entity_name(kga_aligner_store(a, side), r->id);
}

/* The evidence for (left, right) into ev, resolved to ids, names and
 * relation names in wev (EXPLAIN_MAX slots each). Returns the count. */
static size_t explain_refs(const kga_aligner_t *a,
                           const kga_entity_ref_t *left,
                           const kga_entity_ref_t *right, kga_evidence_t *ev,
                           kga_wire_evidence_t *wev)
{
    const kga_store_t *ls = kga_aligner_store(a, KGA_SIDE_LEFT);
    const kga_store_t *rs = kga_aligner_store(a, KGA_SIDE_RIGHT);
    size_t n = kga_aligner_explain_ref(a, left, right, ev, EXPLAIN_MAX);
    for (size_t i = 0; i < n; i++) {
        kga_wire_evidence_t *w = &wev[i];
        memset(w, 0, sizeof *w);
        w->kind = ev[i].kind;
        w->weight = ev[i].weight;
        if (ev[i].kind == KGA_EVIDENCE_NAMES) {
            w->left_name = ref_name(a, KGA_SIDE_LEFT, left);
            w->right_name = ref_name(a, KGA_SIDE_RIGHT, right);
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

static size_t explain_into(const kga_aligner_t *a, uint32_t left,
                           uint32_t right, kga_evidence_t *ev,
                           kga_wire_evidence_t *wev)
{
    kga_entity_ref_t l = {left, NULL}, r = {right, NULL};
    return explain_refs(a, &l, &r, ev, wev);
}

static void explain_pair(const kga_aligner_t *a, align_scratch_t *s,
                         size_t k, kga_align_result_t *r)
{
    /* Slots by the pair's index: the pairs described inline use theirs. */
    size_t at = s->slot[k] * EXPLAIN_MAX;
    kga_wire_evidence_t *wev = s->wire_ev + at;
    r->n_evidence = explain_into(a, s->left[k], s->right[k],
                                 s->evidence + at, wev);
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

/* Builds the entity described inline as `field` ("pairs[3].left"), or
 * answers the call: 400 naming the field when the model cannot read it,
 * 500 when memory ran out. Returns 0 or -1 (answered). */
static int build_inline(kga_route_call_t *c, const kga_wire_meta_t *meta,
                        kga_side_t side, const kga_inline_desc_t *d,
                        const char *field, kga_inline_entity_t **out)
{
    kga_err_t err;
    int rc = kga_inline_entity_new(c->aligner, side, d, out, &err);
    if (rc == 0)
        return 0;
    if (rc == KGA_ENOMEM) {
        answer_code(c, meta, KGA_WIRE_INTERNAL, "out of memory");
    } else {
        kga_wire_error_t e;
        kga_wire_error_set(&e, KGA_WIRE_BAD_REQUEST, "%s: %s", field,
                           err.msg);
        answer_error(c, meta, &e);
    }
    return -1;
}

/* What a pair's or a query's inline entities met, for the answer. */
static void note_inline(kga_wire_inline_t *w, const kga_inline_entity_t *e)
{
    if (e == NULL)
        return;
    w->described = 1;
    w->unknown_neighbours += kga_inline_entity_unknown_neighbours(e);
    w->unknown_relations += kga_inline_entity_unknown_relations(e);
}

/* The entities of an /align request described inline, two slots a pair
 * (NULL for a side given by id). Returns 0 or -1 (answered). */
static int build_pairs_inline(kga_route_call_t *c,
                              const kga_wire_meta_t *meta,
                              const kga_align_request_t *req,
                              kga_inline_entity_t **ents)
{
    for (size_t i = 0; i < req->n_pairs; i++)
        for (int side = 0; side < 2; side++) {
            const kga_inline_desc_t *d = side == 0
                                             ? req->pairs[i].left_inline
                                             : req->pairs[i].right_inline;
            if (d == NULL)
                continue;
            char field[64];
            if (req->batch)
                snprintf(field, sizeof field, "pairs[%zu].%s", i,
                         side == 0 ? "left" : "right");
            else
                snprintf(field, sizeof field, "%s",
                         side == 0 ? "left" : "right");
            if (build_inline(c, meta, (kga_side_t)side, d, field,
                             &ents[2 * i + (size_t)side]) != 0)
                return -1;
            if (past_deadline(c)) {
                answer_deadline(c, meta);
                return -1;
            }
        }
    return 0;
}

static void free_inline(kga_inline_entity_t **ents, size_t n)
{
    for (size_t i = 0; ents != NULL && i < n; i++)
        kga_inline_entity_free(ents[i]);
    free(ents);
}

/* The pairs with an entity described inline: scored (and explained) one
 * by one through references, after the pairs of ids. Returns 1 when the
 * deadline passed, 0 otherwise (-1 on out of memory). */
static int score_inline_pairs(kga_route_call_t *c,
                              const kga_align_request_t *req,
                              kga_inline_entity_t **ents,
                              align_scratch_t *s)
{
    const kga_aligner_t *a = c->aligner;
    for (size_t i = 0; i < req->n_pairs; i++) {
        kga_align_result_t *r = &s->results[i];
        kga_inline_entity_t *li = ents[2 * i], *ri = ents[2 * i + 1];
        if ((li == NULL && ri == NULL) || r->unknown != 0)
            continue;
        const kga_store_t *ls = kga_aligner_store(a, KGA_SIDE_LEFT);
        const kga_store_t *rs = kga_aligner_store(a, KGA_SIDE_RIGHT);
        kga_entity_ref_t l = {li ? 0 : (uint32_t)kga_store_lookup(ls, r->left),
                              li};
        kga_entity_ref_t rr = {ri ? 0
                                  : (uint32_t)kga_store_lookup(rs, r->right),
                               ri};
        if (kga_aligner_score_refs(a, &l, &rr, 1, &r->score) != 0)
            return -1;
        c->pairs++;
        note_inline(&r->inl, li);
        note_inline(&r->inl, ri);
        if (req->explain) {
            kga_wire_evidence_t *wev = s->wire_ev + i * EXPLAIN_MAX;
            r->n_evidence = explain_refs(a, &l, &rr,
                                         s->evidence + i * EXPLAIN_MAX, wev);
            r->evidence = wev;
        }
        if (past_deadline(c))
            return 1;
    }
    return 0;
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
    /* Entities described inline: built first, so that one the model
     * cannot read fails the request before any work. */
    kga_inline_entity_t **ents = NULL;
    if (req.n_inline > 0) {
        ents = calloc(2 * n, sizeof *ents);
        if (ents == NULL) {
            answer_code(c, &meta, KGA_WIRE_INTERNAL, "out of memory");
            goto done;
        }
        if (build_pairs_inline(c, &meta, &req, ents) != 0)
            goto done;
    }

    const kga_store_t *ls = kga_aligner_store(a, KGA_SIDE_LEFT);
    const kga_store_t *rs = kga_aligner_store(a, KGA_SIDE_RIGHT);
    size_t known = 0;
    for (size_t i = 0; i < n; i++) {
        kga_align_result_t *r = &s.results[i];
        memset(r, 0, sizeof *r);
        r->left = req.pairs[i].left;
        r->right = req.pairs[i].right;
        int described = req.pairs[i].left_inline != NULL ||
                        req.pairs[i].right_inline != NULL;
        if (req.pairs[i].left_inline == NULL &&
            kga_store_lookup(ls, r->left) < 0)
            r->unknown |= KGA_WIRE_UNKNOWN_LEFT;
        if (req.pairs[i].right_inline == NULL &&
            kga_store_lookup(rs, r->right) < 0)
            r->unknown |= KGA_WIRE_UNKNOWN_RIGHT;
        if (r->unknown != 0 || described)
            continue;
        int64_t l = kga_store_lookup(ls, r->left);
        int64_t rr = kga_store_lookup(rs, r->right);
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
    if (!late && ents != NULL) {
        int st = score_inline_pairs(c, &req, ents, &s);
        if (st < 0) {
            answer_code(c, &meta, KGA_WIRE_INTERNAL, "out of memory");
            goto done;
        }
        late = st > 0;
    }

    if (late) {
        answer_deadline(c, &meta);
    } else {
        c->status = 200;
        if (kga_align_response_format(&meta, s.results, n, req.explain,
                                      &c->out, &c->out_len) != 0)
            answer_code(c, &meta, KGA_WIRE_INTERNAL, "out of memory");
    }
done:
    free_inline(ents, 2 * n);
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
    kga_entity_ref_t query = {0, NULL};
    kga_inline_entity_t *described = NULL;
    kga_wire_inline_t inl = {0, 0, 0};
    kga_candidate_t *cand = NULL;
    kga_match_candidate_t *wire = NULL;
    kga_evidence_t *ev = NULL;
    kga_wire_evidence_t *wev = NULL;
    if (req.inline_desc != NULL) {
        if (build_inline(c, &meta, req.side, req.inline_desc,
                         req.side == KGA_SIDE_LEFT ? "left" : "right",
                         &described) != 0)
            goto out;
        query.inl = described;
        note_inline(&inl, described);
    } else {
        int64_t ent = kga_store_lookup(qs, req.id);
        if (ent < 0) {
            kga_wire_error_unknown_id(&werr, req.side, req.id);
            answer_error(c, &meta, &werr);
            goto out;
        }
        query.id = (uint32_t)ent;
    }
    if (past_deadline(c)) {
        answer_deadline(c, &meta);
        goto out;
    }

    /* k <= KGA_WIRE_K_MAX (checked by the decoder). */
    size_t nev = req.explain ? req.k * EXPLAIN_MAX : 0;
    cand = malloc(req.k * sizeof *cand);
    wire = malloc(req.k * sizeof *wire);
    ev = nev ? malloc(nev * sizeof *ev) : NULL;
    wev = nev ? malloc(nev * sizeof *wev) : NULL;
    if (cand == NULL || wire == NULL || (nev && (ev == NULL || wev == NULL))) {
        answer_code(c, &meta, KGA_WIRE_INTERNAL, "out of memory");
        goto out;
    }
    size_t n = kga_aligner_match_ref(a, req.side, &query, req.k, cand);
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
        kga_entity_ref_t o = {cand[i].entity, NULL};
        int left_query = req.side == KGA_SIDE_LEFT;
        wire[i].evidence = wev + i * EXPLAIN_MAX;
        wire[i].n_evidence = explain_refs(
            a, left_query ? &query : &o, left_query ? &o : &query,
            ev + i * EXPLAIN_MAX, wev + i * EXPLAIN_MAX);
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
    if (kga_match_response_format(&meta, req.side, req.id, &inl, wire, n,
                                  req.explain, &c->out, &c->out_len) != 0)
        answer_code(c, &meta, KGA_WIRE_INTERNAL, "out of memory");
out:
    free(wev);
    free(ev);
    free(wire);
    free(cand);
    kga_inline_entity_free(described);
    kga_match_request_destroy(&req);
}
