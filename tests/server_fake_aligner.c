/* The fake aligner and its fixture (tests/server_fake_aligner.h): real
 * graph stores, a fake model, deterministic scores, and knobs that make
 * loading and scoring slow or hold them until a test lets them go. Apart
 * from the tests because it replaces a library module at link time. */
#include "server_fake_aligner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "align/aligner.h"
#include "align/inline_entity.h"
#include "store/graph_builder.h"
#include "store/store.h"

#include "server_harness.h"

struct kga_aligner {
    kga_store_t *store[2];
    char version[17];
    float threshold;
    long score_delay_ms;
    char score_gate[256]; /* "" = none */
};

static long fake_env_ms(const char *name)
{
    const char *v = getenv(name);
    return v != NULL ? strtol(v, NULL, 10) : 0;
}

static void fake_sleep_ms(long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Waits until the file gate (NULL or "": none) exists. */
static void fake_wait_for(const char *gate)
{
    while (gate != NULL && gate[0] != '\0' && access(gate, F_OK) != 0)
        fake_sleep_ms(5);
}

/* What every score and match call does before its work. */
static void fake_hold(const kga_aligner_t *a)
{
    fake_wait_for(a->score_gate);
    fake_sleep_ms(a->score_delay_ms);
}

int kga_aligner_open(const char *left_store, const char *right_store,
                     const char *model_path,
                     const kga_aligner_options_t *options,
                     kga_aligner_t **out, kga_err_t *err)
{
    *out = NULL;
    fake_wait_for(getenv("KGA_FAKE_OPEN_GATE"));
    fake_sleep_ms(fake_env_ms("KGA_FAKE_OPEN_DELAY_MS"));
    FILE *f = fopen(model_path, "r");
    if (f == NULL)
        return kga_err_set(err, KGA_ENOENT, "%s: cannot open", model_path);
    char line[128] = "";
    if (fgets(line, sizeof line, f) == NULL)
        line[0] = '\0';
    fclose(f);
    size_t ml = strlen(FAKE_MAGIC);
    if (strncmp(line, FAKE_MAGIC, ml) != 0 || strlen(line) < ml + 16)
        return kga_err_set(err, KGA_EMAGIC, "%s: offset 0: bad magic number",
                           model_path);
    kga_aligner_t *a = calloc(1, sizeof *a);
    if (a == NULL)
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    memcpy(a->version, line + ml, 16);
    a->version[16] = '\0';
    a->threshold = options != NULL && options->threshold >= 0
                       ? options->threshold
                       : 0.5f;
    a->score_delay_ms = fake_env_ms("KGA_FAKE_SCORE_DELAY_MS");
    const char *gate = getenv("KGA_FAKE_SCORE_GATE");
    snprintf(a->score_gate, sizeof a->score_gate, "%s",
             gate != NULL ? gate : "");
    int rc = kga_store_open(left_store, &a->store[0], err);
    if (rc == 0)
        rc = kga_store_open(right_store, &a->store[1], err);
    if (rc != 0) {
        kga_aligner_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

void kga_aligner_close(kga_aligner_t *a)
{
    if (a == NULL)
        return;
    if (a->store[0] != NULL)
        kga_store_close(a->store[0]);
    if (a->store[1] != NULL)
        kga_store_close(a->store[1]);
    free(a);
}

/* The stores are real and mapped; the fake model is read once at open and
 * not kept. */
int kga_aligner_check_files(const kga_aligner_t *a, kga_err_t *err)
{
    int rc = kga_store_check_file(a->store[0], err);
    return rc != 0 ? rc : kga_store_check_file(a->store[1], err);
}

const kga_store_t *kga_aligner_store(const kga_aligner_t *a, kga_side_t side)
{
    return a->store[side == KGA_SIDE_RIGHT];
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
    return a->threshold;
}

static const char *fake_suffix(const char *id)
{
    const char *c = strchr(id, ':');
    return c != NULL ? c + 1 : id;
}

static kga_pair_score_t fake_score_ids(const kga_aligner_t *a,
                                       const char *ls, const char *rs);

void kga_aligner_score(const kga_aligner_t *a, const uint32_t *left,
                       const uint32_t *right, size_t n,
                       kga_pair_score_t *out)
{
    fake_hold(a);
    for (size_t i = 0; i < n; i++)
        out[i] = fake_score_ids(
            a, kga_store_entity_ext_id(a->store[0], left[i]),
            kga_store_entity_ext_id(a->store[1], right[i]));
}

/* An entity described inline: its id, and the edges it had to entities
 * of the store, which count as the real ones do. */
struct kga_inline_entity {
    kga_side_t side;
    char *id;
    uint32_t unknown_neighbours, unknown_relations;
};

int kga_inline_entity_new(const kga_aligner_t *a, kga_side_t side,
                          const kga_inline_desc_t *d,
                          kga_inline_entity_t **out, kga_err_t *err)
{
    *out = NULL;
    const kga_store_t *st = a->store[side == KGA_SIDE_RIGHT];
    kga_inline_entity_t *e = calloc(1, sizeof *e);
    if (e == NULL || (e->id = strdup(d->id)) == NULL) {
        free(e);
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    }
    e->side = side;
    size_t known = 0;
    for (size_t i = 0; i < d->n_edges; i++) {
        if (kga_store_relation_lookup(st, d->edges[i].relation) < 0)
            e->unknown_relations++;
        else if (kga_store_lookup(st, d->edges[i].neighbour) < 0)
            e->unknown_neighbours++;
        else
            known++;
    }
    if (d->n_attrs == 0 && known == 0) {
        kga_inline_entity_free(e);
        return kga_err_set(err, KGA_EINVAL,
                           "inline entity '%s' has nothing to compare it by",
                           d->id);
    }
    *out = e;
    return 0;
}

void kga_inline_entity_free(kga_inline_entity_t *e)
{
    if (e == NULL)
        return;
    free(e->id);
    free(e);
}

const char *kga_inline_entity_name(const kga_inline_entity_t *e)
{
    return e->id;
}

uint32_t kga_inline_entity_unknown_neighbours(const kga_inline_entity_t *e)
{
    return e->unknown_neighbours;
}

uint32_t kga_inline_entity_unknown_relations(const kga_inline_entity_t *e)
{
    return e->unknown_relations;
}

/* The external id of a reference. */
static const char *fake_ref_id(const kga_aligner_t *a, kga_side_t side,
                               const kga_entity_ref_t *r)
{
    if (r->inl != NULL)
        return r->inl->id;
    return kga_store_entity_ext_id(a->store[side == KGA_SIDE_RIGHT], r->id);
}

static kga_pair_score_t fake_score_ids(const kga_aligner_t *a,
                                       const char *ls, const char *rs)
{
    kga_pair_score_t s;
    int same = strcmp(fake_suffix(ls), fake_suffix(rs)) == 0;
    s.distance = same ? 0.1f : 0.9f;
    s.probability = same ? 0.9f : 0.1f;
    s.match = s.probability >= a->threshold;
    return s;
}

int kga_aligner_score_refs(const kga_aligner_t *a,
                           const kga_entity_ref_t *left,
                           const kga_entity_ref_t *right, size_t n,
                           kga_pair_score_t *out)
{
    fake_hold(a);
    for (size_t i = 0; i < n; i++)
        out[i] = fake_score_ids(a, fake_ref_id(a, KGA_SIDE_LEFT, &left[i]),
                                fake_ref_id(a, KGA_SIDE_RIGHT, &right[i]));
    return 0;
}

/* The first k entities of the other side, the true match (same suffix)
 * first when it exists. */
size_t kga_aligner_match_ref(const kga_aligner_t *a, kga_side_t side,
                             const kga_entity_ref_t *ref, size_t k,
                             kga_candidate_t *out)
{
    fake_hold(a);
    const kga_store_t *os = a->store[side != KGA_SIDE_RIGHT];
    uint32_t n_other = kga_store_entity_count(os);
    size_t n = 0;
    const char *q = fake_suffix(fake_ref_id(a, side, ref));
    for (uint32_t e = 0; e < n_other && n < k; e++) {
        if (strcmp(fake_suffix(kga_store_entity_ext_id(os, e)), q) == 0) {
            out[n].entity = e;
            n++;
        }
    }
    for (uint32_t e = 0; e < n_other && n < k; e++) {
        if (strcmp(fake_suffix(kga_store_entity_ext_id(os, e)), q) == 0)
            continue;
        out[n].entity = e;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        const char *o = kga_store_entity_ext_id(os, out[i].entity);
        out[i].score = side == KGA_SIDE_LEFT
                           ? fake_score_ids(a, fake_ref_id(a, side, ref), o)
                           : fake_score_ids(a, o, fake_ref_id(a, side, ref));
    }
    return n;
}

/* One piece of evidence: the first out-edges of both entities (none for
 * an entity described inline). */
size_t kga_aligner_explain_ref(const kga_aligner_t *a,
                               const kga_entity_ref_t *lref,
                               const kga_entity_ref_t *rref,
                               kga_evidence_t *out, size_t cap)
{
    if (lref->inl != NULL || rref->inl != NULL)
        return 0;
    uint32_t left = lref->id, right = rref->id;
    const kga_edge_t *le, *re;
    uint32_t nl = kga_store_edges(a->store[0], left, KGA_DIR_OUT, &le);
    uint32_t nr = kga_store_edges(a->store[1], right, KGA_DIR_OUT, &re);
    if (cap == 0 || nl == 0 || nr == 0)
        return 0;
    out[0].kind = KGA_EVIDENCE_KNOWN_LINK;
    out[0].left_neighbour = le[0].ent;
    out[0].right_neighbour = re[0].ent;
    out[0].left_relation = le[0].rel;
    out[0].right_relation = re[0].rel;
    out[0].left_dir = KGA_DIR_OUT;
    out[0].right_dir = KGA_DIR_OUT;
    out[0].weight = 0.75f;
    return 1;
}

/* ------------------------------------------------------------------------
 * The fixture: two small stores ("L:e0".."L:e9" and "R:e0".."R:e9", each a
 * chain of "next" triples) and a fake model, in data_dir. Fixture code:
 * failures exit (FIXTURE_CHECK), in a test or not.
 * ------------------------------------------------------------------------ */

#define FAKE_N_ENT 10

static void fake_write_store(const char *path, const char *prefix)
{
    kga_graph_builder_t *b = kga_graph_builder_new();
    uint32_t ids[FAKE_N_ENT], rel;
    char ext[32];
    FIXTURE_CHECK(kga_graph_builder_relation(b, "next", &rel) == 0);
    for (int i = 0; i < FAKE_N_ENT; i++) {
        snprintf(ext, sizeof ext, "%s:e%d", prefix, i);
        FIXTURE_CHECK(kga_graph_builder_entity(b, ext, &ids[i], NULL) == 0);
    }
    for (int i = 0; i + 1 < FAKE_N_ENT; i++)
        FIXTURE_CHECK(kga_graph_builder_triple(b, ids[i], rel, ids[i + 1]) ==
                      0);
    kga_err_t err;
    if (kga_store_write(b, path, &err) != 0) {
        fprintf(stderr, "fixture: %s\n", err.msg);
        exit(EXIT_FAILURE);
    }
    kga_graph_builder_free(b);
}

/* Replaces data_dir/model.kgm with content (by rename, never in place). */
void set_model(const char *content)
{
    char path[512];
    snprintf(path, sizeof path, "%s/model.kgm", data_dir);
    FIXTURE_CHECK(write_file_atomic(path, content, strlen(content)) == 0);
}

/* In dir, or in a new temporary directory when dir is NULL. */
void make_fixture(const char *dir)
{
    if (dir != NULL) {
        snprintf(data_dir, sizeof data_dir, "%s", dir);
        mkdir(data_dir, 0755);
    } else {
        snprintf(data_dir, sizeof data_dir, "/tmp/kga_test_fake_XXXXXX");
        FIXTURE_CHECK(mkdtemp(data_dir) != NULL);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/left.kgs", data_dir);
    fake_write_store(path, "L");
    snprintf(path, sizeof path, "%s/right.kgs", data_dir);
    fake_write_store(path, "R");
    set_model(FAKE_MAGIC FAKE_MODEL_VERSION "\n");
}

void gate_init(char *out, size_t cap, const char *name)
{
    int n = snprintf(out, cap, "%s/%s.gate", data_dir, name);
    FIXTURE_CHECK(n > 0 && (size_t)n < cap);
    FIXTURE_CHECK(unlink(out) == 0 || errno == ENOENT);
}

void gate_open(const char *path)
{
    FILE *f = fopen(path, "w");
    FIXTURE_CHECK(f != NULL && fclose(f) == 0);
}

void remove_fixture(void)
{
    const char *names[] = {"left.kgs",   "right.kgs",  "model.kgm",
                           "server.log", "score.gate", "open.gate"};
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", data_dir, names[i]);
        unlink(path);
    }
    rmdir(data_dir);
}

