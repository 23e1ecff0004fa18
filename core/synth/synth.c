/* Two noisy views of one synthetic world, written in the OpenEA layout.
 *
 * Each view keeps most entities (a share is left out of one side or the
 * other), loses some edges, numbers its entities by its own random
 * permutation and writes its lines sorted by those numbers, so neither ids
 * nor line order carry any trace of the matching. The left view names
 * entities in its URIs (DBpedia style) with canonical names; the right view
 * uses opaque Q-numbers (Wikidata style), its own relation names (some
 * inverted) and noisy names. */
#include "synth/synth.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "synth/synth_file.h"
#include "synth/synth_names.h"
#include "synth/synth_world.h"

enum { LEFT, RIGHT, SIDES };
#define ON(side) (1u << (side))
#define BOTH_SIDES (ON(LEFT) | ON(RIGHT))
#define NO_RANK UINT32_MAX

/* Random streams of the views; per-entity streams put the purpose above
 * bit 32 and the entity below, so each entity draws its own numbers. */
enum {
    STREAM_PRESENCE = 101,
    STREAM_DROP,        /* + side */
    STREAM_IDS = STREAM_DROP + SIDES, /* + side */
    STREAM_FOLDS = STREAM_IDS + SIDES, /* + fold for the split of the rest */
};
enum { ENTITY_NAME = 1, ENTITY_YEAR /* + side */ };
#define ENTITY_STREAM(purpose, e) (((uint64_t)(purpose) << 32) | (e))

/* The right graph sometimes gives the premiere of another country. */
#define RIGHT_YEAR_SHIFT_SHARE 0.02
/* Of the shifted years, this share is one year later, the rest earlier. */
#define YEAR_LATER_SHARE 0.5
/* OpenEA 721 folds: 20% train, 10% valid, 70% test of the links. */
#define VALID_PER_LINKS 10
#define FOLDS_DIR "721_5fold"
#define PROGRESS_EVERY (1u << 16)
/* Rounds and tolerance of the one-sided share calibration (views_build). */
#define CALIBRATION_ROUNDS 4
#define CALIBRATION_TOLERANCE 0.005
/* "Left only" and "right only" together can take everything, not more. */
#define MAX_ONE_SIDE_CHANCE 0.5
#define README_LINE_MAX 1024
/* Room for an output file's name and for a progress stage. */
#define SHORT_TEXT 64
/* Average length of a left URI's local part, to size its buffer. */
#define LEFT_URI_BYTES_GUESS 24

static const char *const uri_prefix[SIDES] = {
    "http://kg1.example/resource/", "http://kg2.example/entity/Q"};

/* Right ids start at 1, as Wikidata's do. */
static const uint32_t first_id[SIDES] = {0, 1};

static const struct {
    const char *name[SIDES];
    int right_inverted; /* the right graph states it from the other end */
} relations[KGA_SYNTH_REL_COUNT] = {
    [KGA_SYNTH_DIRECTED] = {{"http://kg1.example/ontology/directed",
                             "http://kg2.example/prop/director"}, 1},
    [KGA_SYNTH_WROTE] = {{"http://kg1.example/ontology/wrote",
                          "http://kg2.example/prop/screenwriter"}, 1},
    [KGA_SYNTH_ACTED_IN] = {{"http://kg1.example/ontology/actedIn",
                             "http://kg2.example/prop/cast_member"}, 1},
    [KGA_SYNTH_PRODUCED] = {{"http://kg1.example/ontology/produced",
                             "http://kg2.example/prop/producer_of"}, 0},
    [KGA_SYNTH_HAS_GENRE] = {{"http://kg1.example/ontology/genre",
                              "http://kg2.example/prop/genre"}, 0},
    [KGA_SYNTH_PLAYS] = {{"http://kg1.example/ontology/playsCharacter",
                          "http://kg2.example/prop/performer"}, 1},
    [KGA_SYNTH_SEQUEL_OF] = {{"http://kg1.example/ontology/sequelOf",
                              "http://kg2.example/prop/followed_by"}, 1},
};

static const char *const label_key[SIDES] = {
    "http://www.w3.org/2000/01/rdf-schema#label",
    "http://www.w3.org/2004/02/skos/core#prefLabel"};
static const char type_key[] =
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
static const char *const type_name[KGA_SYNTH_KIND_COUNT] = {
    [KGA_SYNTH_GENRE] = "Genre", [KGA_SYNTH_FILM] = "Film",
    [KGA_SYNTH_CHARACTER] = "Character", [KGA_SYNTH_PERSON] = "Person"};
static const char *const year_key[SIDES][KGA_SYNTH_KIND_COUNT] = {
    {[KGA_SYNTH_FILM] = "http://kg1.example/ontology/releaseYear",
     [KGA_SYNTH_PERSON] = "http://kg1.example/ontology/birthYear"},
    {[KGA_SYNTH_FILM] = "http://kg2.example/prop/publication_year",
     [KGA_SYNTH_PERSON] = "http://kg2.example/prop/birth_year"}};
static const char *const side_suffix[SIDES] = {"1", "2"};
static const char *const side_label[SIDES] = {"left", "right"};

typedef struct {
    const kga_synth_params_t *p;
    const char *dir;
    const kga_progress_t *progress;
    kga_err_t *err;
    kga_synth_world_t world;
    uint8_t *presence;      /* per entity: ON(side) bits */
    uint8_t *kept;          /* per edge: ON(side) bits */
    uint32_t *rank[SIDES];  /* entity -> its number on a side, or NO_RANK */
    uint32_t *order[SIDES]; /* number on a side -> entity */
    uint32_t count[SIDES];
    /* Local part of each entity's left URI ("Anna_Kovač_17"): entity e's
     * is left_uri[left_uri_at[e] .. left_uri_at[e + 1]). Built once, since
     * every URI is written many times. */
    char *left_uri;
    uint64_t *left_uri_at;
    uint32_t *links;        /* linked entities, in left-number order */
    uint32_t link_count;
    kga_synth_stats_t stats;
} synth_t;

/* ---- parameters ------------------------------------------------------ */

void kga_synth_params_init(kga_synth_params_t *p)
{
    p->entities = KGA_SYNTH_DEFAULT_ENTITIES;
    p->seed = KGA_SYNTH_DEFAULT_SEED;
    p->one_sided = KGA_SYNTH_DEFAULT_ONE_SIDED;
    p->edge_drop = KGA_SYNTH_DEFAULT_EDGE_DROP;
    p->name_noise = KGA_SYNTH_DEFAULT_NAME_NOISE;
    p->year_missing = KGA_SYNTH_DEFAULT_YEAR_MISSING;
}

static int share_check(const char *name, double v, double max, kga_err_t *err)
{
    /* Written so that NaN fails too. */
    if (v >= 0.0 && v <= max)
        return 0;
    return kga_err_set(err, KGA_ERANGE, "%s must be within [0, %g], not %g",
                       name, max, v);
}

int kga_synth_params_check(const kga_synth_params_t *p, kga_err_t *err)
{
    if (p->entities < KGA_SYNTH_MIN_ENTITIES ||
        p->entities > KGA_SYNTH_MAX_ENTITIES)
        return kga_err_set(err, KGA_ERANGE,
                           "entities must be within [%u, %u], not %llu",
                           KGA_SYNTH_MIN_ENTITIES, KGA_SYNTH_MAX_ENTITIES,
                           (unsigned long long)p->entities);
    int rc = share_check("one-sided share", p->one_sided,
                         KGA_SYNTH_MAX_ONE_SIDED, err);
    if (rc == 0)
        rc = share_check("edge drop", p->edge_drop, 1.0, err);
    if (rc == 0)
        rc = share_check("name noise", p->name_noise, 1.0, err);
    if (rc == 0)
        rc = share_check("missing-year share", p->year_missing, 1.0, err);
    return rc;
}

/* ---- views: who is where ------------------------------------------------ */

/* Each entity is on both sides, or on the left or the right only, with
 * chance q each for the latter two. Genres are shared by everyone. */
static void presence_draw(synth_t *s, double q)
{
    const kga_synth_world_t *w = &s->world;
    kga_rng_t r;
    kga_rng_init(&r, s->p->seed, STREAM_PRESENCE);
    for (uint32_t e = 0; e < w->entity_count; e++) {
        double u = kga_rng_unit(&r);
        if (w->entities[e].kind == KGA_SYNTH_GENRE || u >= 2.0 * q)
            s->presence[e] = BOTH_SIDES;
        else
            s->presence[e] = u < q ? ON(LEFT) : ON(RIGHT);
    }
}

/* Keeps on `side` the edges whose two ends are there, leaving out each with
 * the drop chance unless that would cut an end off from everything. An
 * entity left without edges (all its neighbours are elsewhere) is absent
 * from the side, as in OpenEA, where entities are what the triples name. */
static void edges_select(synth_t *s, int side, uint32_t *degree)
{
    const kga_synth_world_t *w = &s->world;
    uint8_t bit = (uint8_t)ON(side);
    memset(degree, 0, (size_t)w->entity_count * sizeof *degree);
    for (uint64_t i = 0; i < w->edge_count; i++) {
        const kga_synth_edge_t *e = &w->edges[i];
        if (s->presence[e->head] & s->presence[e->tail] & bit) {
            degree[e->head]++;
            degree[e->tail]++;
        }
    }
    kga_rng_t r;
    kga_rng_init(&r, s->p->seed, (uint64_t)STREAM_DROP + (uint64_t)side);
    for (uint64_t i = 0; i < w->edge_count; i++) {
        const kga_synth_edge_t *e = &w->edges[i];
        if (!(s->presence[e->head] & s->presence[e->tail] & bit))
            continue;
        if (kga_rng_chance(&r, s->p->edge_drop) && degree[e->head] > 1 &&
            degree[e->tail] > 1) {
            degree[e->head]--;
            degree[e->tail]--;
        } else {
            s->kept[i] |= bit;
        }
    }
    for (uint32_t e = 0; e < w->entity_count; e++)
        if (degree[e] == 0)
            s->presence[e] &= (uint8_t)~bit;
}

/* Numbers the side's entities by a random permutation. */
static void ids_assign(synth_t *s, int side)
{
    const kga_synth_world_t *w = &s->world;
    uint32_t n = 0;
    for (uint32_t e = 0; e < w->entity_count; e++) {
        s->rank[side][e] = NO_RANK;
        if (s->presence[e] & ON(side))
            s->order[side][n++] = e;
    }
    kga_rng_t r;
    kga_rng_init(&r, s->p->seed, (uint64_t)STREAM_IDS + (uint64_t)side);
    kga_rng_shuffle_u32(&r, s->order[side], n);
    for (uint32_t i = 0; i < n; i++)
        s->rank[side][s->order[side][i]] = i;
    s->count[side] = n;
}

/* Draws presence with chance q of "one side only" and selects the edges;
 * returns the share of each side's entities that the other side lacks
 * (averaged over the sides). */
static double views_try(synth_t *s, double q, uint32_t *degree)
{
    const kga_synth_world_t *w = &s->world;
    presence_draw(s, q);
    memset(s->kept, 0, w->edge_count);
    for (int side = 0; side < SIDES; side++)
        edges_select(s, side, degree);
    uint64_t on[SIDES] = {0, 0}, both = 0;
    for (uint32_t e = 0; e < w->entity_count; e++) {
        for (int side = 0; side < SIDES; side++)
            on[side] += (s->presence[e] & ON(side)) != 0;
        both += s->presence[e] == BOTH_SIDES;
    }
    double share = 0.0;
    for (int side = 0; side < SIDES; side++)
        if (on[side] > 0)
            share += (double)(on[side] - both) / (double)on[side] / SIDES;
    return share;
}

/* The one-sided share comes out above q / (1 - q): an entity whose
 * neighbours all stay on one side leaves the other side too. So q is
 * adjusted a few times until the share is close to the requested one; the
 * steps are deterministic, the result the same for the same parameters. */
static int views_build(synth_t *s)
{
    const kga_synth_world_t *w = &s->world;
    uint32_t *degree = calloc(w->entity_count, sizeof *degree);
    if (degree == NULL)
        return kga_err_set(s->err, KGA_ENOMEM,
                           "synth: cannot allocate %u degrees",
                           w->entity_count);
    double want = s->p->one_sided;
    double q = want / (1.0 + want);
    for (int round = 0;; round++) {
        double got = views_try(s, q, degree);
        kga_progress_report(s->progress, "synth: choosing one-sided entities",
                            "rounds", (uint64_t)round + 1,
                            CALIBRATION_ROUNDS);
        if (round + 1 == CALIBRATION_ROUNDS || got <= 0.0 ||
            fabs(got - want) <= CALIBRATION_TOLERANCE)
            break;
        q *= want / got;
        if (q > MAX_ONE_SIDE_CHANCE)
            q = MAX_ONE_SIDE_CHANCE;
    }
    free(degree);
    for (int side = 0; side < SIDES; side++)
        ids_assign(s, side);
    return 0;
}

/* ---- lines ------------------------------------------------------------- */

static void put_uri(const synth_t *s, kga_synth_file_t *f, int side,
                    uint32_t e)
{
    kga_synth_file_put_str(f, uri_prefix[side]);
    if (side == LEFT)
        kga_synth_file_put(f, s->left_uri + s->left_uri_at[e],
                           (size_t)(s->left_uri_at[e + 1] -
                                    s->left_uri_at[e]));
    else
        kga_synth_file_put_u64(f, (uint64_t)s->rank[side][e] +
                                      first_id[side]);
}

/* Appends the local part of e's left URI: DBpedia style, the name with
 * underscores, made unique by the entity's number. */
static void left_uri_append(const synth_t *s, uint32_t e, char *out,
                            uint64_t *len)
{
    kga_synth_name_t name;
    kga_synth_name_canonical(&s->world.entities[e], &name);
    char *p = out + *len;
    for (size_t i = 0; i < name.len; i++)
        *p++ = name.s[i] == ' ' ? '_' : name.s[i];
    *p++ = '_';
    char digits[16];
    int n = 0;
    uint32_t v = s->rank[LEFT][e];
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    while (n > 0)
        *p++ = digits[--n];
    *len = (uint64_t)(p - out);
}

static int left_uris_build(synth_t *s)
{
    const kga_synth_world_t *w = &s->world;
    /* A name, '_' and a 32-bit number. */
    const uint64_t most = KGA_SYNTH_NAME_MAX + 12;
    uint64_t cap = (uint64_t)s->count[LEFT] * LEFT_URI_BYTES_GUESS + most;
    uint64_t len = 0;
    s->left_uri_at = malloc(((size_t)w->entity_count + 1) *
                            sizeof *s->left_uri_at);
    s->left_uri = malloc(cap);
    if (s->left_uri_at == NULL || s->left_uri == NULL)
        goto nomem;
    for (uint32_t e = 0; e < w->entity_count; e++) {
        s->left_uri_at[e] = len;
        if (!(s->presence[e] & ON(LEFT)))
            continue;
        if (cap - len < most) {
            char *grown = realloc(s->left_uri, cap * 2);
            if (grown == NULL)
                goto nomem;
            s->left_uri = grown;
            cap *= 2;
        }
        left_uri_append(s, e, s->left_uri, &len);
    }
    s->left_uri_at[w->entity_count] = len;
    return 0;
nomem:
    return kga_err_set(s->err, KGA_ENOMEM,
                       "synth: cannot allocate the left URIs of %u entities",
                       s->count[LEFT]);
}

static void put_field(kga_synth_file_t *f, const char *s, size_t len)
{
    kga_synth_file_putc(f, '\t');
    kga_synth_file_put(f, s, len);
}

static int open_file(synth_t *s, kga_synth_file_t *f, const char *dir,
                     const char *name, int side)
{
    char full[SHORT_TEXT];
    snprintf(full, sizeof full, "%s%s", name,
             side < 0 ? "" : side_suffix[side]);
    return kga_synth_file_open(f, dir, full, s->err);
}

static int commit_file(synth_t *s, kga_synth_file_t *f)
{
    int rc = kga_synth_file_commit(f, s->err);
    s->stats.bytes += f->bytes;
    return rc;
}

/* ---- relation triples ------------------------------------------------ */

static void edge_ends(const kga_synth_edge_t *e, int side, uint32_t *head,
                      uint32_t *tail)
{
    int flip = side == RIGHT && relations[e->rel].right_inverted;
    *head = flip ? e->tail : e->head;
    *tail = flip ? e->head : e->tail;
}

/* The side's kept edges sorted by the number of their head (a counting
 * sort: linear, and the order is as random as the numbers). *out is
 * malloc'ed; the caller frees it. */
static int edges_by_head(synth_t *s, int side, uint32_t **out, uint64_t *n)
{
    const kga_synth_world_t *w = &s->world;
    uint8_t bit = (uint8_t)ON(side);
    uint32_t *start = calloc((size_t)s->count[side] + 1, sizeof *start);
    uint64_t kept = 0;
    uint32_t head, tail;
    if (start == NULL)
        goto nomem;
    for (uint64_t i = 0; i < w->edge_count; i++) {
        if (!(s->kept[i] & bit))
            continue;
        edge_ends(&w->edges[i], side, &head, &tail);
        start[s->rank[side][head] + 1]++;
        kept++;
    }
    for (uint32_t r = 0; r < s->count[side]; r++)
        start[r + 1] += start[r];
    *out = malloc((kept > 0 ? kept : 1) * sizeof **out);
    if (*out == NULL)
        goto nomem;
    for (uint64_t i = 0; i < w->edge_count; i++) {
        if (!(s->kept[i] & bit))
            continue;
        edge_ends(&w->edges[i], side, &head, &tail);
        (*out)[start[s->rank[side][head]]++] = (uint32_t)i;
    }
    free(start);
    *n = kept;
    return 0;
nomem:
    free(start);
    return kga_err_set(s->err, KGA_ENOMEM,
                       "synth: cannot sort the %s relation triples",
                       side_label[side]);
}

static int write_rel_triples(synth_t *s, int side)
{
    uint32_t *sorted = NULL;
    uint64_t n = 0;
    int rc = edges_by_head(s, side, &sorted, &n);
    if (rc != 0)
        return rc;
    kga_synth_file_t f;
    rc = open_file(s, &f, s->dir, "rel_triples_", side);
    char stage[SHORT_TEXT];
    snprintf(stage, sizeof stage, "synth: %s relation triples",
             side_label[side]);
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        const kga_synth_edge_t *e = &s->world.edges[sorted[i]];
        uint32_t head, tail;
        edge_ends(e, side, &head, &tail);
        if ((rc = kga_synth_file_line(&f, s->err)) != 0)
            break;
        put_uri(s, &f, side, head);
        kga_synth_file_putc(&f, '\t');
        kga_synth_file_put_str(&f, relations[e->rel].name[side]);
        kga_synth_file_putc(&f, '\t');
        put_uri(s, &f, side, tail);
        kga_synth_file_putc(&f, '\n');
        if (i % PROGRESS_EVERY == 0)
            kga_progress_report(s->progress, stage, "lines", i, n);
    }
    if (rc == 0)
        rc = commit_file(s, &f);
    else
        kga_synth_file_abort(&f);
    kga_progress_report(s->progress, stage, "lines", n, n);
    free(sorted);
    s->stats.rel_triples[side] = n;
    return rc;
}

/* ---- attribute triples ----------------------------------------------- */

/* The name the side shows; counts linked entities whose names differ. */
static void side_name(synth_t *s, int side, uint32_t e,
                      kga_synth_name_t *name)
{
    const kga_synth_entity_t *ent = &s->world.entities[e];
    if (side == LEFT) {
        kga_synth_name_canonical(ent, name);
        return;
    }
    kga_rng_t r;
    kga_rng_init(&r, s->p->seed, ENTITY_STREAM(ENTITY_NAME, e));
    kga_synth_name_variant(ent, &r, s->p->name_noise, name);
    if (s->presence[e] == BOTH_SIDES) {
        kga_synth_name_t canonical;
        kga_synth_name_canonical(ent, &canonical);
        s->stats.name_variants += strcmp(canonical.s, name->s) != 0;
    }
}

/* The year the side states, or 0 when it states none. */
static unsigned side_year(const synth_t *s, int side, uint32_t e)
{
    const kga_synth_entity_t *ent = &s->world.entities[e];
    if (ent->year == 0 || year_key[side][ent->kind] == NULL)
        return 0;
    kga_rng_t r;
    kga_rng_init(&r, s->p->seed, ENTITY_STREAM(ENTITY_YEAR + side, e));
    if (kga_rng_chance(&r, s->p->year_missing))
        return 0;
    if (side == RIGHT && ent->kind == KGA_SYNTH_FILM &&
        kga_rng_chance(&r, RIGHT_YEAR_SHIFT_SHARE))
        return kga_rng_chance(&r, YEAR_LATER_SHARE) ? ent->year + 1u
                                                    : ent->year - 1u;
    return ent->year;
}

static int write_entity_attrs(synth_t *s, kga_synth_file_t *f, int side,
                              uint32_t e, uint64_t *lines)
{
    const kga_synth_entity_t *ent = &s->world.entities[e];
    kga_synth_name_t name;
    side_name(s, side, e, &name);
    unsigned year = side_year(s, side, e);
    const char *keys[] = {label_key[side], type_key, year_key[side][ent->kind]};
    int n_keys = year != 0 ? 3 : 2;
    for (int k = 0; k < n_keys; k++) {
        int rc = kga_synth_file_line(f, s->err);
        if (rc != 0)
            return rc;
        put_uri(s, f, side, e);
        put_field(f, keys[k], strlen(keys[k]));
        kga_synth_file_putc(f, '\t');
        if (k == 0)
            kga_synth_file_put(f, name.s, name.len);
        else if (k == 1)
            kga_synth_file_put_str(f, type_name[ent->kind]);
        else
            kga_synth_file_put_u64(f, year);
        kga_synth_file_putc(f, '\n');
    }
    *lines += (uint64_t)n_keys;
    return 0;
}

static int write_attr_triples(synth_t *s, int side)
{
    kga_synth_file_t f;
    int rc = open_file(s, &f, s->dir, "attr_triples_", side);
    char stage[SHORT_TEXT];
    snprintf(stage, sizeof stage, "synth: %s attribute triples",
             side_label[side]);
    uint64_t lines = 0;
    uint32_t n = s->count[side];
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        rc = write_entity_attrs(s, &f, side, s->order[side][i], &lines);
        if (i % PROGRESS_EVERY == 0)
            kga_progress_report(s->progress, stage, "lines", i, n);
    }
    if (rc == 0)
        rc = commit_file(s, &f);
    else
        kga_synth_file_abort(&f);
    kga_progress_report(s->progress, stage, "lines", n, n);
    s->stats.attr_triples[side] = lines;
    return rc;
}

/* ---- links and folds ------------------------------------------------- */

static int links_collect(synth_t *s)
{
    s->links = malloc(((size_t)s->count[LEFT] + 1) * sizeof *s->links);
    if (s->links == NULL)
        return kga_err_set(s->err, KGA_ENOMEM,
                           "synth: cannot allocate %u links", s->count[LEFT]);
    s->link_count = 0;
    for (uint32_t i = 0; i < s->count[LEFT]; i++) {
        uint32_t e = s->order[LEFT][i];
        if (s->presence[e] == BOTH_SIDES)
            s->links[s->link_count++] = e;
    }
    s->stats.links = s->link_count;
    for (int side = 0; side < SIDES; side++)
        s->stats.one_sided[side] = s->count[side] - s->link_count;
    return 0;
}

static int write_links(synth_t *s, const char *dir, const char *name,
                       const uint32_t *ents, uint32_t n)
{
    kga_synth_file_t f;
    int rc = open_file(s, &f, dir, name, -1);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if ((rc = kga_synth_file_line(&f, s->err)) != 0)
            break;
        put_uri(s, &f, LEFT, ents[i]);
        kga_synth_file_putc(&f, '\t');
        put_uri(s, &f, RIGHT, ents[i]);
        kga_synth_file_putc(&f, '\n');
    }
    if (rc == 0)
        return commit_file(s, &f);
    kga_synth_file_abort(&f);
    return rc;
}

/* Fold k as OpenEA's 721_5fold makes it: the shuffled links cut into five
 * parts, part k for training (so the five training sets are disjoint and
 * cover all links), and the other four, shuffled again, split 1:7 into
 * validation and test. `rest` has room for all links. */
static int write_fold(synth_t *s, int k, const uint32_t *shuffled,
                      uint32_t *rest)
{
    uint64_t n = s->link_count;
    uint32_t begin = (uint32_t)(n * (uint64_t)k / KGA_SYNTH_FOLDS);
    uint32_t end = (uint32_t)(n * (uint64_t)(k + 1) / KGA_SYNTH_FOLDS);
    uint32_t n_rest = 0;
    for (uint32_t i = 0; i < s->link_count; i++)
        if (i < begin || i >= end)
            rest[n_rest++] = shuffled[i];
    kga_rng_t r;
    kga_rng_init(&r, s->p->seed, (uint64_t)STREAM_FOLDS + 1 + (uint64_t)k);
    kga_rng_shuffle_u32(&r, rest, n_rest);
    uint32_t n_valid = (uint32_t)(n / VALID_PER_LINKS);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s/%d", s->dir, FOLDS_DIR, k + 1);
    int rc = kga_synth_mkdirs(dir, s->err);
    if (rc == 0)
        rc = write_links(s, dir, "train_links", shuffled + begin, end - begin);
    if (rc == 0)
        rc = write_links(s, dir, "valid_links", rest, n_valid);
    if (rc == 0)
        rc = write_links(s, dir, "test_links", rest + n_valid,
                         n_rest - n_valid);
    if (k == 0) {
        s->stats.fold_train = end - begin;
        s->stats.fold_valid = n_valid;
        s->stats.fold_test = n_rest - n_valid;
    }
    return rc;
}

static int write_folds(synth_t *s)
{
    size_t bytes = ((size_t)s->link_count + 1) * sizeof(uint32_t);
    uint32_t *shuffled = malloc(bytes), *rest = malloc(bytes);
    int rc = 0;
    if (shuffled == NULL || rest == NULL) {
        rc = kga_err_set(s->err, KGA_ENOMEM,
                         "synth: cannot allocate the folds");
        goto out;
    }
    memcpy(shuffled, s->links, (size_t)s->link_count * sizeof *shuffled);
    kga_rng_t r;
    kga_rng_init(&r, s->p->seed, STREAM_FOLDS);
    kga_rng_shuffle_u32(&r, shuffled, s->link_count);
    for (int k = 0; k < KGA_SYNTH_FOLDS && rc == 0; k++) {
        rc = write_fold(s, k, shuffled, rest);
        kga_progress_report(s->progress, "synth: writing folds", "folds",
                            (uint64_t)k + 1,
                            KGA_SYNTH_FOLDS);
    }
out:
    free(shuffled);
    free(rest);
    return rc;
}

/* ---- README ------------------------------------------------------------ */

static void readme_line(kga_synth_file_t *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void readme_line(kga_synth_file_t *f, const char *fmt, ...)
{
    char line[README_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    kga_synth_file_put(f, line, (size_t)n < sizeof line ? (size_t)n
                                                        : sizeof line - 1);
    kga_synth_file_putc(f, '\n');
}

static void readme_counts(const synth_t *s, kga_synth_file_t *f)
{
    const kga_synth_stats_t *st = &s->stats;
    readme_line(f, "World: %llu entities (%llu films of which %llu sequels "
                   "and %llu remakes, %llu people of which %llu namesakes, "
                   "%llu characters, %llu genres), %llu relation edges.",
                (unsigned long long)st->world_entities,
                (unsigned long long)st->films, (unsigned long long)st->sequels,
                (unsigned long long)st->remakes, (unsigned long long)st->people,
                (unsigned long long)st->namesakes,
                (unsigned long long)st->characters,
                (unsigned long long)st->genres,
                (unsigned long long)st->world_edges);
    for (int side = 0; side < SIDES; side++)
        readme_line(f, "Graph %d (%s): %llu entities, %llu of them not in "
                       "the other graph; %llu relation triples; %llu "
                       "attribute triples.",
                    side + 1, side_label[side],
                    (unsigned long long)st->entities[side],
                    (unsigned long long)st->one_sided[side],
                    (unsigned long long)st->rel_triples[side],
                    (unsigned long long)st->attr_triples[side]);
    readme_line(f, "ent_links: %llu gold links (every entity in both "
                   "graphs); %llu of them have different names on the "
                   "two sides.",
                (unsigned long long)st->links,
                (unsigned long long)st->name_variants);
    readme_line(f, "%s/1..%d: train %llu / valid %llu / test %llu links in "
                   "each fold; the five training sets are disjoint.",
                FOLDS_DIR, KGA_SYNTH_FOLDS,
                (unsigned long long)st->fold_train,
                (unsigned long long)st->fold_valid,
                (unsigned long long)st->fold_test);
}

static void readme_schema(kga_synth_file_t *f)
{
    readme_line(f, "\nRelations (graph 1 -> graph 2; \"inverted\": graph 2 "
                   "states the edge from the other end):");
    for (int r = 0; r < KGA_SYNTH_REL_COUNT; r++)
        readme_line(f, "  %s -> %s%s", relations[r].name[LEFT],
                    relations[r].name[RIGHT],
                    relations[r].right_inverted ? " (inverted)" : "");
    readme_line(f, "Attributes: name under %s (graph 1) and %s (graph 2); "
                   "type under %s (Film, Person, Character, Genre); years "
                   "under %s, %s / %s, %s.",
                label_key[LEFT], label_key[RIGHT], type_key,
                year_key[LEFT][KGA_SYNTH_FILM],
                year_key[LEFT][KGA_SYNTH_PERSON],
                year_key[RIGHT][KGA_SYNTH_FILM],
                year_key[RIGHT][KGA_SYNTH_PERSON]);
}

static void readme_noise(const synth_t *s, kga_synth_file_t *f)
{
    const kga_synth_params_t *p = s->p;
    readme_line(f, "\nNoise: one-sided share %g per graph; each edge left "
                   "out of a graph with chance %g (never an entity's last); "
                   "a known year left out with chance %g per graph, and "
                   "graph 2 shifts %g of release years by one; graph 2 "
                   "names vary with chance %g (middle name dropped or an "
                   "initial added, \"Jr.\" dropped or moved, \"The\" dropped "
                   "or moved, sequel number in digits, accents stripped, "
                   "typos, case changes) and genres read \"comedy film\".",
                p->one_sided, p->edge_drop, p->year_missing,
                RIGHT_YEAR_SHIFT_SHARE, p->name_noise);
    readme_line(f, "Near duplicates: remakes share title, writers, genres "
                   "and characters with the original but have another "
                   "director and year; sequels repeat the title with a "
                   "number, a few years later; namesakes share a full "
                   "name. Other names are distinct: a name already taken "
                   "is drawn again, and one still taken after a few draws "
                   "ends in a disambiguator, \"(II)\", \"(III)\", "
                   "shown by both graphs.");
    readme_line(f, "Ids: graph 1 URIs are name_<n>, graph 2 URIs Q<n>, with "
                   "n from independent random permutations; lines are "
                   "sorted by those numbers, so neither ids nor order "
                   "reveal the links.");
}

static int write_readme(synth_t *s)
{
    kga_synth_file_t f;
    int rc = open_file(s, &f, s->dir, "README.txt", -1);
    if (rc != 0)
        return rc;
    readme_line(&f, "Synthetic entity-alignment pair in the OpenEA layout, "
                    "made by: kgalign synth --entities %llu --seed %llu "
                    "--one-sided %g --edge-drop %g --name-noise %g "
                    "--year-missing %g",
                (unsigned long long)s->p->entities,
                (unsigned long long)s->p->seed, s->p->one_sided,
                s->p->edge_drop, s->p->name_noise, s->p->year_missing);
    readme_line(&f, "The same command gives the same bytes.\n");
    readme_counts(s, &f);
    readme_schema(&f);
    readme_noise(s, &f);
    return commit_file(s, &f);
}

/* ---- driver ------------------------------------------------------------ */

static void world_stats(synth_t *s)
{
    const kga_synth_world_t *w = &s->world;
    kga_synth_stats_t *st = &s->stats;
    st->world_entities = w->entity_count;
    st->world_edges = w->edge_count;
    st->films = w->count[KGA_SYNTH_FILM];
    st->people = w->count[KGA_SYNTH_PERSON];
    st->characters = w->count[KGA_SYNTH_CHARACTER];
    st->genres = w->count[KGA_SYNTH_GENRE];
    st->sequels = w->sequels;
    st->remakes = w->remakes;
    st->namesakes = w->namesakes;
}

static int views_alloc(synth_t *s)
{
    const kga_synth_world_t *w = &s->world;
    size_t n = w->entity_count;
    s->presence = malloc(n);
    s->kept = calloc(w->edge_count + 1, 1);
    int ok = s->presence != NULL && s->kept != NULL;
    for (int side = 0; side < SIDES; side++) {
        s->rank[side] = malloc(n * sizeof *s->rank[side]);
        s->order[side] = malloc(n * sizeof *s->order[side]);
        ok = ok && s->rank[side] != NULL && s->order[side] != NULL;
    }
    return ok ? 0
              : kga_err_set(s->err, KGA_ENOMEM,
                            "synth: cannot allocate the views of %zu "
                            "entities",
                            n);
}

static void synth_destroy(synth_t *s)
{
    kga_synth_world_destroy(&s->world);
    free(s->presence);
    free(s->kept);
    for (int side = 0; side < SIDES; side++) {
        free(s->rank[side]);
        free(s->order[side]);
    }
    free(s->links);
    free(s->left_uri);
    free(s->left_uri_at);
}

static int write_all(synth_t *s)
{
    int rc = left_uris_build(s);
    for (int side = 0; side < SIDES && rc == 0; side++) {
        s->stats.entities[side] = s->count[side];
        rc = write_rel_triples(s, side);
        if (rc == 0)
            rc = write_attr_triples(s, side);
    }
    if (rc == 0)
        rc = links_collect(s);
    if (rc == 0)
        rc = write_links(s, s->dir, "ent_links", s->links, s->link_count);
    if (rc == 0)
        rc = write_folds(s);
    if (rc == 0)
        rc = write_readme(s);
    return rc;
}

int kga_synth_generate(const kga_synth_params_t *p, const char *out_dir,
                       const kga_progress_t *progress,
                       kga_synth_stats_t *stats, kga_err_t *err)
{
    int rc = kga_synth_params_check(p, err);
    if (rc != 0)
        return rc;
    synth_t s;
    memset(&s, 0, sizeof s);
    s.p = p;
    s.dir = out_dir;
    s.progress = progress;
    s.err = err;
    if ((rc = kga_synth_mkdirs(out_dir, err)) != 0)
        return rc;
    rc = kga_synth_world_build(&s.world, (uint32_t)p->entities, p->seed,
                               progress, err);
    if (rc != 0)
        return rc;
    world_stats(&s);
    if ((rc = views_alloc(&s)) == 0 && (rc = views_build(&s)) == 0)
        rc = write_all(&s);
    if (rc == 0 && stats != NULL)
        *stats = s.stats;
    synth_destroy(&s);
    return rc;
}
