/* The synthetic world: a movie database with realistic fan-outs (one
 * director, a few writers, a cast of 5 to 15 drawn with a heavy-tailed
 * popularity so that a few actors appear in hundreds of films), sequels and
 * remakes that make near-duplicate films, characters that recur across a
 * franchise, and namesakes. Other names are distinct at any size, as in a
 * real catalogue: a fresh name that is taken is drawn again, and one still
 * taken after a few draws gets the catalogue's disambiguator ("(II)").
 * Everything is drawn from seeded streams, so one seed gives one world. */
#include "synth/synth_world.h"

#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "synth/synth_lists.h"
#include "synth/synth_name_set.h"
#include "synth/synth_names.h"

/* Each part of the world draws from its own stream. */
enum {
    STREAM_PEOPLE = 1,
    STREAM_PLAN,
    STREAM_CHARACTERS,
    STREAM_FILMS,
    STREAM_SWEEP,
};

/* Composition: a handful of genres, then films, characters and people in
 * the proportions of a movie database (people outnumber films about 3:1). */
#define ENTITIES_PER_GENRE 200
#define MIN_GENRES 2
#define FILM_SHARE 0.22
#define CHARACTER_SHARE 0.14

/* Film kinds: the near duplicates. */
#define SEQUEL_SHARE 0.12
#define REMAKE_SHARE 0.08

/* Years. Later decades have more films: the year of an original is the
 * later of two uniform draws. */
#define FILM_YEAR_MIN 1920
#define FILM_YEAR_SPAN 100
#define YEAR_CAP 2030
#define BIRTH_YEAR_MIN 1900
#define BIRTH_YEAR_MAX 2005
#define FILM_YEAR_UNKNOWN 0.03
#define BIRTH_YEAR_UNKNOWN 0.15
#define SEQUEL_GAP_MIN 1
#define SEQUEL_GAP_MAX 4
#define REMAKE_GAP_MIN 10
#define REMAKE_GAP_MAX 40

/* People. */
#define MIDDLE_NAME_SHARE 0.30
#define JR_SHARE 0.03
#define NAMESAKE_SHARE 0.03
/* Share of surnames that are double-barrelled ("Berg-Lindqvist"). */
#define DOUBLE_SURNAME_SHARE 0.10
/* Draws of a fresh name before one that stays taken gets a qualifier. */
#define FRESH_NAME_TRIES 8
/* Popularity is Pareto with exponent 1 (weight 1 / (1 - u)), capped so that
 * the most popular person is this many times as likely as the least. */
#define POPULARITY_CAP 100.0
/* Share of a role's slots filled from that profession; the rest go to
 * anyone (actor-directors, writer-producers). */
#define OWN_PROFESSION_SHARE 0.85

/* Crews. */
#define CO_DIRECTOR_SHARE 0.07
#define WRITERS_MIN 2
#define WRITERS_MAX 3
#define DIRECTOR_WRITES_SHARE 0.20
#define ACTORS_MIN 5
#define ACTORS_MAX 15
#define PRODUCERS_MIN 1
#define PRODUCERS_MAX 3
#define GENRES_MIN 1
#define GENRES_MAX 3
/* Draws per wanted member before a small world gives up on distinct ones. */
#define PICK_TRIES 8

/* What a sequel or a remake keeps of the film it follows. A remake keeps
 * title, writers, genres and characters, but never the director: that one
 * neighbour (and the year) is what tells the two films apart. */
#define SEQUEL_KEEPS_DIRECTOR 0.6
#define SEQUEL_KEEPS_WRITER 0.7
#define SEQUEL_KEEPS_ACTOR 0.5
#define SEQUEL_KEEPS_PRODUCER 0.5
#define SEQUEL_KEEPS_PERFORMER 0.8
#define REMAKE_KEEPS_ACTOR 0.15

/* Capacity of one crew list; also bounds the edges one film adds. */
#define CREW_MAX 32
#define FILM_EDGE_BOUND (5 * CREW_MAX + 1)

#define PROGRESS_EVERY (1u << 16)
#define INITIAL_EDGES_PER_FILM 20

typedef enum {
    ROLE_ACTOR,
    ROLE_DIRECTOR,
    ROLE_WRITER,
    ROLE_PRODUCER,
    ROLE_COUNT
} role_t;

/* Profession shares of people, in role_t order. */
static const double profession_share[ROLE_COUNT] = {0.70, 0.08, 0.12, 0.10};
/* The relation through which people of each profession who got no part
 * join a film (people_sweep). Directors join as writers: a film has one
 * director, and writing credits are where directors start. */
static const uint8_t idle_profession_rel[ROLE_COUNT] = {
    KGA_SYNTH_ACTED_IN, KGA_SYNTH_WROTE, KGA_SYNTH_WROTE,
    KGA_SYNTH_PRODUCED};

typedef enum { FILM_ORIGINAL, FILM_SEQUEL, FILM_REMAKE } film_kind_t;

/* Weighted choice among people in constant time (Walker's alias method):
 * draw a slot uniformly, then take its own person with chance `keep`,
 * else the slot's alias. */
typedef struct {
    double keep;
    uint32_t id, alias;
} alias_slot_t;

typedef struct {
    alias_slot_t *slot;
    uint32_t n;
} sampler_t;

typedef struct {
    uint32_t id[CREW_MAX];
    uint32_t n;
} crew_list_t;

typedef struct {
    crew_list_t directors, writers, actors, producers, genres;
} crew_t;

typedef struct {
    kga_synth_world_t *w;
    kga_rng_t rng;
    uint64_t edge_cap;
    uint8_t *profession;         /* per person: role_t */
    sampler_t by_profession[ROLE_COUNT];
    sampler_t anyone;
    /* Per film (film-local index). */
    uint8_t *film_kind;          /* film_kind_t */
    uint32_t *film_base;         /* the film a sequel follows or a remake redoes */
    uint32_t *film_root;         /* the original whose characters it has */
    uint64_t *film_edges;        /* film f's own edges: [film_edges[f], [f+1]) */
    /* Characters of each original film: char_list[char_start[f] ..
     * char_start[f + 1]) (character-local indices). */
    uint32_t *char_start, *char_list;
    uint32_t *char_performer;    /* first performer of each character */
    uint32_t *performer_scratch; /* one film's performers */
    uint32_t max_chars_per_film;
    kga_synth_name_set_t names;  /* the names given out */
    const kga_progress_t *progress;
    kga_err_t *err;
} builder_t;

/* ---- layout and small helpers ---------------------------------------- */

static void layout(kga_synth_world_t *w, uint32_t n)
{
    uint32_t genres = n / ENTITIES_PER_GENRE;
    if (genres < MIN_GENRES)
        genres = MIN_GENRES;
    if (genres > kga_synth_genres.count)
        genres = (uint32_t)kga_synth_genres.count;
    uint32_t rest = n - genres;
    uint32_t films = (uint32_t)((double)rest * FILM_SHARE);
    if (films == 0)
        films = 1;
    uint32_t characters = (uint32_t)((double)rest * CHARACTER_SHARE);
    w->entity_count = n;
    w->count[KGA_SYNTH_GENRE] = genres;
    w->count[KGA_SYNTH_FILM] = films;
    w->count[KGA_SYNTH_CHARACTER] = characters;
    w->count[KGA_SYNTH_PERSON] = rest - films - characters;
    uint32_t first = 0;
    for (int k = 0; k < KGA_SYNTH_KIND_COUNT; k++) {
        w->first[k] = first;
        first += w->count[k];
    }
}

static uint32_t word(kga_rng_t *r, const kga_synth_list_t *list)
{
    return kga_rng_below(r, (uint32_t)list->count);
}

static uint32_t surname(kga_rng_t *r)
{
    uint32_t count = kga_synth_surname_count();
    uint32_t code = kga_rng_below(r, count);
    if (kga_rng_chance(r, DOUBLE_SURNAME_SHARE))
        code += count * (1u + kga_rng_below(r, count));
    return code;
}

typedef void (*name_draw_fn)(kga_synth_entity_t *e, kga_rng_t *r);

/* Draws e's name with draw until it is free, as a new entry in a
 * catalogue gets a name of its own; one still taken after
 * FRESH_NAME_TRIES draws keeps the last and gets a qualifier. Short names
 * ("The Stranger") are soon taken, so larger worlds use longer ones, as
 * later works do. Returns 0 or KGA_ENOMEM. */
static int name_fresh(builder_t *b, kga_synth_entity_t *e, kga_rng_t *r,
                      name_draw_fn draw)
{
    uint32_t taken = 0;
    for (int t = 0; t < FRESH_NAME_TRIES; t++) {
        draw(e, r);
        if ((taken = kga_synth_name_set_taken(&b->names, e)) == 0)
            break;
    }
    e->qualifier = taken > UINT16_MAX ? UINT16_MAX : (uint16_t)taken;
    if (kga_synth_name_set_add(&b->names, e) != 0)
        return kga_err_set(b->err, KGA_ENOMEM,
                           "synth: cannot allocate the table of names");
    return 0;
}

static uint16_t cap_year(uint32_t year)
{
    return (uint16_t)(year > YEAR_CAP ? YEAR_CAP : year);
}

static uint32_t film_entity(const builder_t *b, uint32_t f)
{
    return b->w->first[KGA_SYNTH_FILM] + f;
}

static int edges_reserve(builder_t *b, uint64_t extra)
{
    kga_synth_world_t *w = b->w;
    if (w->edge_count + extra <= b->edge_cap)
        return 0;
    uint64_t need = w->edge_count + extra;
    /* Views index edges with 32 bits. */
    if (need >= UINT32_MAX)
        return kga_err_set(b->err, KGA_ELIMIT,
                           "synth: more than %u edges in the world",
                           UINT32_MAX - 1);
    uint64_t cap = b->edge_cap * 2;
    if (cap < need)
        cap = need;
    if (cap >= UINT32_MAX)
        cap = UINT32_MAX - 1;
    kga_synth_edge_t *e = realloc(w->edges, cap * sizeof *e);
    if (e == NULL)
        return kga_err_set(b->err, KGA_ENOMEM,
                           "synth: cannot allocate %llu edges",
                           (unsigned long long)cap);
    w->edges = e;
    b->edge_cap = cap;
    return 0;
}

/* Callers reserve room first. */
static void edge_push(builder_t *b, uint32_t head, uint8_t rel, uint32_t tail)
{
    kga_synth_edge_t *e = &b->w->edges[b->w->edge_count++];
    e->head = head;
    e->tail = tail;
    e->rel = rel;
}

static void *alloc_array(builder_t *b, size_t n, size_t size, const char *what)
{
    /* calloc(0) may return NULL: ask for one element at least. */
    void *p = calloc(n > 0 ? n : 1, size);
    if (p == NULL)
        kga_err_set(b->err, KGA_ENOMEM, "synth: cannot allocate %zu %s", n,
                    what);
    return p;
}

/* ---- people ------------------------------------------------------------ */

static role_t draw_profession(kga_rng_t *r)
{
    double u = kga_rng_unit(r);
    for (int k = 0; k < ROLE_COUNT - 1; k++) {
        if (u < profession_share[k])
            return (role_t)k;
        u -= profession_share[k];
    }
    return (role_t)(ROLE_COUNT - 1);
}

static void person_name(kga_synth_entity_t *e, kga_rng_t *r)
{
    e->word[0] = word(r, &kga_synth_first_names);
    e->word[1] = kga_rng_chance(r, MIDDLE_NAME_SHARE)
                     ? word(r, &kga_synth_first_names)
                     : KGA_SYNTH_NO_WORD;
    e->word[2] = surname(r);
    e->flags = kga_rng_chance(r, JR_SHARE) ? KGA_SYNTH_FLAG_JR : 0;
}

static double popularity(kga_rng_t *r)
{
    double weight = 1.0 / (1.0 - kga_rng_unit(r));
    return weight > POPULARITY_CAP ? POPULARITY_CAP : weight;
}

static int people_generate(builder_t *b, double *weight)
{
    kga_synth_world_t *w = b->w;
    int rc;
    uint32_t first = w->first[KGA_SYNTH_PERSON];
    for (uint32_t i = 0; i < w->count[KGA_SYNTH_PERSON]; i++) {
        kga_synth_entity_t *e = &w->entities[first + i];
        e->kind = KGA_SYNTH_PERSON;
        /* Namesakes share the whole name with an earlier person, so that
         * only the neighbourhood can tell them apart. */
        if (i > 0 && kga_rng_chance(&b->rng, NAMESAKE_SHARE)) {
            const kga_synth_entity_t *twin =
                &w->entities[first + kga_rng_below(&b->rng, i)];
            memcpy(e->word, twin->word, sizeof e->word);
            e->flags = twin->flags;
            e->qualifier = twin->qualifier;
            w->namesakes++;
        } else if ((rc = name_fresh(b, e, &b->rng, person_name)) != 0) {
            return rc;
        }
        e->year = kga_rng_chance(&b->rng, BIRTH_YEAR_UNKNOWN)
                      ? 0
                      : (uint16_t)kga_rng_range(&b->rng, BIRTH_YEAR_MIN,
                                                BIRTH_YEAR_MAX);
        b->profession[i] = (uint8_t)draw_profession(&b->rng);
        weight[i] = popularity(&b->rng);
    }
    return 0;
}

static int sampler_init(builder_t *b, sampler_t *s, uint32_t n)
{
    s->n = 0;
    s->slot = alloc_array(b, n, sizeof *s->slot, "sampler slots");
    return s->slot != NULL ? 0 : KGA_ENOMEM;
}

static void sampler_add(sampler_t *s, uint32_t id, double weight)
{
    s->slot[s->n++] = (alias_slot_t){weight, id, id};
}

/* Turns the weights into alias slots (Vose's construction). Slots whose
 * scaled weight is below 1 ("small") take the rest of their chance from a
 * "large" one; `work` holds the small ones from the front and the large ones
 * from the back, and has room for n indices. */
static void sampler_finish(sampler_t *s, uint32_t *work)
{
    uint32_t n = s->n, n_small = 0, large_begin = n;
    double total = 0.0;
    for (uint32_t i = 0; i < n; i++)
        total += s->slot[i].keep;
    for (uint32_t i = 0; i < n; i++) {
        s->slot[i].keep *= (double)n / total;
        if (s->slot[i].keep < 1.0)
            work[n_small++] = i;
        else
            work[--large_begin] = i;
    }
    while (n_small > 0 && large_begin < n) {
        alias_slot_t *small = &s->slot[work[--n_small]];
        uint32_t big_index = work[large_begin];
        alias_slot_t *big = &s->slot[big_index];
        small->alias = big->id;
        big->keep -= 1.0 - small->keep;
        if (big->keep < 1.0) {
            large_begin++;
            work[n_small++] = big_index;
        }
    }
    /* What is left is 1 up to rounding. */
    while (n_small > 0)
        s->slot[work[--n_small]].keep = 1.0;
    for (uint32_t i = large_begin; i < n; i++)
        s->slot[work[i]].keep = 1.0;
}

static void sampler_destroy(sampler_t *s)
{
    free(s->slot);
}

/* The caller makes sure s->n > 0. */
static uint32_t sampler_pick(const sampler_t *s, kga_rng_t *r)
{
    const alias_slot_t *slot = &s->slot[kga_rng_below(r, s->n)];
    return kga_rng_unit(r) < slot->keep ? slot->id : slot->alias;
}

static int samplers_build(builder_t *b, const double *weight)
{
    const kga_synth_world_t *w = b->w;
    uint32_t people = w->count[KGA_SYNTH_PERSON];
    uint32_t per_role[ROLE_COUNT] = {0};
    for (uint32_t i = 0; i < people; i++)
        per_role[b->profession[i]]++;
    int rc = sampler_init(b, &b->anyone, people);
    for (int k = 0; k < ROLE_COUNT && rc == 0; k++)
        rc = sampler_init(b, &b->by_profession[k], per_role[k]);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < people; i++) {
        uint32_t id = w->first[KGA_SYNTH_PERSON] + i;
        sampler_add(&b->anyone, id, weight[i]);
        sampler_add(&b->by_profession[b->profession[i]], id, weight[i]);
    }
    uint32_t *work = alloc_array(b, people, sizeof *work, "sampler work");
    if (work == NULL)
        return KGA_ENOMEM;
    sampler_finish(&b->anyone, work);
    for (int k = 0; k < ROLE_COUNT; k++)
        sampler_finish(&b->by_profession[k], work);
    free(work);
    return 0;
}

static uint32_t pick_person(builder_t *b, role_t role)
{
    const sampler_t *own = &b->by_profession[role];
    if (own->n > 0 && kga_rng_chance(&b->rng, OWN_PROFESSION_SHARE))
        return sampler_pick(own, &b->rng);
    return sampler_pick(&b->anyone, &b->rng);
}

/* ---- genres and characters -------------------------------------------- */

static void genres_generate(kga_synth_world_t *w)
{
    for (uint32_t i = 0; i < w->count[KGA_SYNTH_GENRE]; i++) {
        kga_synth_entity_t *e = &w->entities[w->first[KGA_SYNTH_GENRE] + i];
        e->kind = KGA_SYNTH_GENRE;
        e->word[0] = i;
    }
}

static void character_name(kga_synth_entity_t *e, kga_rng_t *r)
{
    /* Full names are the most common, bare nouns the least. */
    static const double share[KGA_SYNTH_CHAR_PATTERN_COUNT] = {0.40, 0.30,
                                                               0.15, 0.15};
    double u = kga_rng_unit(r);
    int pattern = 0;
    while (pattern < KGA_SYNTH_CHAR_PATTERN_COUNT - 1 && u >= share[pattern])
        u -= share[pattern++];
    e->kind = KGA_SYNTH_CHARACTER;
    e->pattern = (uint8_t)pattern;
    e->word[0] = e->word[1] = e->word[2] = KGA_SYNTH_NO_WORD;
    switch (pattern) {
    case KGA_SYNTH_CHAR_FULL_NAME:
        e->word[0] = word(r, &kga_synth_first_names);
        e->word[1] = surname(r);
        break;
    case KGA_SYNTH_CHAR_HONORIFIC:
        e->word[0] = word(r, &kga_synth_honorifics);
        e->word[1] = surname(r);
        break;
    case KGA_SYNTH_CHAR_FIRST_NAME:
        e->word[0] = word(r, &kga_synth_first_names);
        break;
    default:
        e->word[0] = word(r, &kga_synth_nouns);
        break;
    }
}

/* Gives every character to one original film (its franchise), as a
 * compressed list per film. */
static int characters_assign(builder_t *b)
{
    kga_synth_world_t *w = b->w;
    uint32_t films = w->count[KGA_SYNTH_FILM];
    uint32_t chars = w->count[KGA_SYNTH_CHARACTER];
    uint32_t *originals = alloc_array(b, films, sizeof *originals, "films");
    uint32_t *owner = alloc_array(b, chars, sizeof *owner, "characters");
    b->char_start = alloc_array(b, (size_t)films + 1, sizeof *b->char_start,
                                "character offsets");
    b->char_list = alloc_array(b, chars, sizeof *b->char_list, "characters");
    b->char_performer = alloc_array(b, chars, sizeof *b->char_performer,
                                    "characters");
    int rc = KGA_ENOMEM;
    if (originals == NULL || owner == NULL || b->char_start == NULL ||
        b->char_list == NULL || b->char_performer == NULL)
        goto out;
    uint32_t n_orig = 0;
    for (uint32_t f = 0; f < films; f++)
        if (b->film_kind[f] == FILM_ORIGINAL)
            originals[n_orig++] = f;
    kga_rng_t r;
    kga_rng_init(&r, kga_rng_next(&b->rng), STREAM_CHARACTERS);
    for (uint32_t c = 0; c < chars; c++) {
        if ((rc = name_fresh(b, &w->entities[w->first[KGA_SYNTH_CHARACTER] + c],
                             &r, character_name)) != 0)
            goto out;
        owner[c] = originals[kga_rng_below(&r, n_orig)];
        b->char_start[owner[c] + 1]++;
    }
    for (uint32_t f = 0; f < films; f++) {
        uint32_t here = b->char_start[f + 1];
        if (here > b->max_chars_per_film)
            b->max_chars_per_film = here;
        b->char_start[f + 1] += b->char_start[f];
    }
    /* Fill each film's slice in character order. */
    for (uint32_t c = 0; c < chars; c++)
        b->char_list[b->char_start[owner[c]]++] = c;
    for (uint32_t f = films; f > 0; f--)
        b->char_start[f] = b->char_start[f - 1];
    b->char_start[0] = 0;
    b->performer_scratch = alloc_array(b, b->max_chars_per_film,
                                       sizeof *b->performer_scratch,
                                       "performers");
    rc = b->performer_scratch != NULL ? 0 : KGA_ENOMEM;
out:
    free(originals);
    free(owner);
    return rc;
}

/* ---- films: plan, titles, crews --------------------------------------- */

static int films_plan(builder_t *b)
{
    uint32_t films = b->w->count[KGA_SYNTH_FILM];
    b->film_kind = alloc_array(b, films, 1, "films");
    b->film_base = alloc_array(b, films, sizeof *b->film_base, "films");
    b->film_root = alloc_array(b, films, sizeof *b->film_root, "films");
    b->film_edges = alloc_array(b, (size_t)films + 1, sizeof *b->film_edges,
                                "films");
    if (b->film_kind == NULL || b->film_base == NULL ||
        b->film_root == NULL || b->film_edges == NULL)
        return KGA_ENOMEM;
    kga_rng_t r;
    kga_rng_init(&r, kga_rng_next(&b->rng), STREAM_PLAN);
    for (uint32_t f = 0; f < films; f++) {
        double u = kga_rng_unit(&r);
        uint32_t earlier = f > 0 ? kga_rng_below(&r, f) : 0;
        b->film_kind[f] = f == 0                      ? FILM_ORIGINAL
                          : u < SEQUEL_SHARE          ? FILM_SEQUEL
                          : u < SEQUEL_SHARE + REMAKE_SHARE ? FILM_REMAKE
                                                            : FILM_ORIGINAL;
        switch (b->film_kind[f]) {
        case FILM_SEQUEL:
            b->film_base[f] = earlier;
            b->film_root[f] = b->film_root[earlier];
            b->w->sequels++;
            break;
        case FILM_REMAKE:
            /* A remake redoes the original, not one of its sequels. */
            b->film_base[f] = b->film_root[earlier];
            b->film_root[f] = b->film_root[earlier];
            b->w->remakes++;
            break;
        default:
            b->film_base[f] = f;
            b->film_root[f] = f;
        }
    }
    return 0;
}

static void title_generate(kga_synth_entity_t *e, kga_rng_t *r)
{
    e->pattern = (uint8_t)kga_rng_below(r, KGA_SYNTH_TITLE_PATTERN_COUNT);
    const kga_synth_title_form_t *f = &kga_synth_title_forms[e->pattern];
    for (int i = 0; i < 3; i++)
        e->word[i] = f->list[i] != NULL ? word(r, f->list[i])
                                        : KGA_SYNTH_NO_WORD;
}

static uint16_t original_year(kga_rng_t *r)
{
    if (kga_rng_chance(r, FILM_YEAR_UNKNOWN))
        return 0;
    uint32_t a = kga_rng_below(r, FILM_YEAR_SPAN);
    uint32_t c = kga_rng_below(r, FILM_YEAR_SPAN);
    return (uint16_t)(FILM_YEAR_MIN + (a > c ? a : c));
}

/* Title and year of film f: fresh for an original; a sequel continues the
 * title with the next number a few years later; a remake repeats the title
 * decades later. */
static int film_identity(builder_t *b, uint32_t f)
{
    kga_synth_entity_t *e = &b->w->entities[film_entity(b, f)];
    e->kind = KGA_SYNTH_FILM;
    if (b->film_kind[f] == FILM_ORIGINAL) {
        int rc = name_fresh(b, e, &b->rng, title_generate);
        e->year = original_year(&b->rng);
        return rc;
    }
    const kga_synth_entity_t *base =
        &b->w->entities[film_entity(b, b->film_base[f])];
    memcpy(e->word, base->word, sizeof e->word);
    e->pattern = base->pattern;
    e->qualifier = base->qualifier;
    int sequel = b->film_kind[f] == FILM_SEQUEL;
    if (sequel)
        e->sequel = base->sequel == 0 ? 2
                    : base->sequel == UINT8_MAX ? UINT8_MAX
                                                : (uint8_t)(base->sequel + 1);
    uint32_t gap = sequel ? kga_rng_range(&b->rng, SEQUEL_GAP_MIN,
                                          SEQUEL_GAP_MAX)
                          : kga_rng_range(&b->rng, REMAKE_GAP_MIN,
                                          REMAKE_GAP_MAX);
    e->year = base->year != 0 ? cap_year(base->year + gap)
                              : original_year(&b->rng);
    return 0;
}

static int crew_has(const crew_list_t *l, uint32_t id)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->id[i] == id)
            return 1;
    return 0;
}

static void crew_add(crew_list_t *l, uint32_t id)
{
    if (l->n < CREW_MAX && !crew_has(l, id))
        l->id[l->n++] = id;
}

/* Adds distinct people of a role until the list holds `target`, leaving out
 * those in `avoid` (may be NULL). Small worlds may fall short. */
static void crew_fill(builder_t *b, crew_list_t *l, role_t role,
                      uint32_t target, const crew_list_t *avoid)
{
    for (uint32_t tries = 0; l->n < target && tries < target * PICK_TRIES;
         tries++) {
        uint32_t id = pick_person(b, role);
        if (avoid == NULL || !crew_has(avoid, id))
            crew_add(l, id);
    }
}

static void crew_keep(builder_t *b, crew_list_t *to, const crew_list_t *from,
                      double share)
{
    for (uint32_t i = 0; i < from->n; i++)
        if (kga_rng_chance(&b->rng, share))
            crew_add(to, from->id[i]);
}

static void genres_fill(builder_t *b, crew_list_t *l)
{
    const kga_synth_world_t *w = b->w;
    uint32_t target = kga_rng_range(&b->rng, GENRES_MIN, GENRES_MAX);
    if (target > w->count[KGA_SYNTH_GENRE])
        target = w->count[KGA_SYNTH_GENRE];
    while (l->n < target)
        crew_add(l, w->first[KGA_SYNTH_GENRE] +
                        kga_rng_below(&b->rng, w->count[KGA_SYNTH_GENRE]));
}

/* Reads back the crew of an earlier film from its edges. */
static void crew_of(const builder_t *b, uint32_t f, crew_t *c)
{
    memset(c, 0, sizeof *c);
    for (uint64_t i = b->film_edges[f]; i < b->film_edges[f + 1]; i++) {
        const kga_synth_edge_t *e = &b->w->edges[i];
        switch (e->rel) {
        case KGA_SYNTH_DIRECTED:
            crew_add(&c->directors, e->head);
            break;
        case KGA_SYNTH_WROTE:
            crew_add(&c->writers, e->head);
            break;
        case KGA_SYNTH_ACTED_IN:
            crew_add(&c->actors, e->head);
            break;
        case KGA_SYNTH_PRODUCED:
            crew_add(&c->producers, e->head);
            break;
        case KGA_SYNTH_HAS_GENRE:
            crew_add(&c->genres, e->tail);
            break;
        default:
            break;
        }
    }
}

static void crew_original(builder_t *b, crew_t *c)
{
    crew_fill(b, &c->directors, ROLE_DIRECTOR,
              kga_rng_chance(&b->rng, CO_DIRECTOR_SHARE) ? 2 : 1, NULL);
    if (kga_rng_chance(&b->rng, DIRECTOR_WRITES_SHARE))
        crew_add(&c->writers, c->directors.id[0]);
    crew_fill(b, &c->writers, ROLE_WRITER,
              kga_rng_range(&b->rng, WRITERS_MIN, WRITERS_MAX), NULL);
    crew_fill(b, &c->actors, ROLE_ACTOR,
              kga_rng_range(&b->rng, ACTORS_MIN, ACTORS_MAX), NULL);
    crew_fill(b, &c->producers, ROLE_PRODUCER,
              kga_rng_range(&b->rng, PRODUCERS_MIN, PRODUCERS_MAX), NULL);
    genres_fill(b, &c->genres);
}

static void crew_sequel(builder_t *b, const crew_t *base, crew_t *c)
{
    if (kga_rng_chance(&b->rng, SEQUEL_KEEPS_DIRECTOR))
        crew_keep(b, &c->directors, &base->directors, 1.0);
    crew_fill(b, &c->directors, ROLE_DIRECTOR, 1, NULL);
    crew_keep(b, &c->writers, &base->writers, SEQUEL_KEEPS_WRITER);
    crew_fill(b, &c->writers, ROLE_WRITER,
              kga_rng_range(&b->rng, WRITERS_MIN, WRITERS_MAX), NULL);
    crew_keep(b, &c->actors, &base->actors, SEQUEL_KEEPS_ACTOR);
    crew_fill(b, &c->actors, ROLE_ACTOR,
              kga_rng_range(&b->rng, ACTORS_MIN, ACTORS_MAX), NULL);
    crew_keep(b, &c->producers, &base->producers, SEQUEL_KEEPS_PRODUCER);
    crew_fill(b, &c->producers, ROLE_PRODUCER,
              kga_rng_range(&b->rng, PRODUCERS_MIN, PRODUCERS_MAX), NULL);
    c->genres = base->genres;
}

static void crew_remake(builder_t *b, const crew_t *base, crew_t *c)
{
    crew_fill(b, &c->directors, ROLE_DIRECTOR, 1, &base->directors);
    c->writers = base->writers;
    crew_keep(b, &c->actors, &base->actors, REMAKE_KEEPS_ACTOR);
    crew_fill(b, &c->actors, ROLE_ACTOR,
              kga_rng_range(&b->rng, ACTORS_MIN, ACTORS_MAX), NULL);
    crew_fill(b, &c->producers, ROLE_PRODUCER,
              kga_rng_range(&b->rng, PRODUCERS_MIN, PRODUCERS_MAX),
              &base->producers);
    c->genres = base->genres;
}

/* Chooses who plays each character of the film's franchise in film f and
 * returns how many characters there are. An original casts its top-billed
 * actors; a sequel mostly brings the same performers back (adding them to
 * the cast); a remake recasts every part. */
static uint32_t cast_characters(builder_t *b, uint32_t f, crew_t *c)
{
    uint32_t root = b->film_root[f];
    uint32_t begin = b->char_start[root], n = b->char_start[root + 1] - begin;
    if (c->actors.n == 0)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t ch = b->char_list[begin + i];
        uint32_t performer;
        if (b->film_kind[f] == FILM_ORIGINAL) {
            performer = c->actors.id[i % c->actors.n];
            b->char_performer[ch] = performer;
        } else if (b->film_kind[f] == FILM_SEQUEL &&
                   kga_rng_chance(&b->rng, SEQUEL_KEEPS_PERFORMER)) {
            performer = b->char_performer[ch];
            crew_add(&c->actors, performer);
        } else {
            performer = c->actors.id[kga_rng_below(&b->rng, c->actors.n)];
        }
        b->performer_scratch[i] = performer;
    }
    return n;
}

static void crew_emit(builder_t *b, const crew_list_t *l, uint8_t rel,
                      uint32_t film)
{
    for (uint32_t i = 0; i < l->n; i++)
        edge_push(b, l->id[i], rel, film);
}

static void film_emit(builder_t *b, uint32_t f, const crew_t *c,
                      uint32_t n_chars)
{
    const kga_synth_world_t *w = b->w;
    uint32_t film = film_entity(b, f);
    crew_emit(b, &c->directors, KGA_SYNTH_DIRECTED, film);
    crew_emit(b, &c->writers, KGA_SYNTH_WROTE, film);
    crew_emit(b, &c->actors, KGA_SYNTH_ACTED_IN, film);
    crew_emit(b, &c->producers, KGA_SYNTH_PRODUCED, film);
    for (uint32_t i = 0; i < c->genres.n; i++)
        edge_push(b, film, KGA_SYNTH_HAS_GENRE, c->genres.id[i]);
    uint32_t root = b->film_root[f];
    for (uint32_t i = 0; i < n_chars; i++) {
        uint32_t ch = b->char_list[b->char_start[root] + i];
        /* The franchise's first performer already has this edge. */
        if (b->film_kind[f] != FILM_ORIGINAL &&
            b->performer_scratch[i] == b->char_performer[ch])
            continue;
        edge_push(b, b->performer_scratch[i], KGA_SYNTH_PLAYS,
                  w->first[KGA_SYNTH_CHARACTER] + ch);
    }
    if (b->film_kind[f] == FILM_SEQUEL)
        edge_push(b, film, KGA_SYNTH_SEQUEL_OF,
                  film_entity(b, b->film_base[f]));
}

static int film_generate(builder_t *b, uint32_t f)
{
    uint32_t root = b->film_root[f];
    int rc = edges_reserve(b, FILM_EDGE_BOUND + b->char_start[root + 1] -
                                  b->char_start[root]);
    if (rc != 0 || (rc = film_identity(b, f)) != 0)
        return rc;
    crew_t base, c;
    memset(&c, 0, sizeof c);
    switch (b->film_kind[f]) {
    case FILM_SEQUEL:
        crew_of(b, b->film_base[f], &base);
        crew_sequel(b, &base, &c);
        break;
    case FILM_REMAKE:
        crew_of(b, b->film_base[f], &base);
        crew_remake(b, &base, &c);
        break;
    default:
        crew_original(b, &c);
    }
    uint32_t n_chars = cast_characters(b, f, &c);
    b->film_edges[f] = b->w->edge_count;
    film_emit(b, f, &c, n_chars);
    b->film_edges[f + 1] = b->w->edge_count;
    return 0;
}

static int films_generate(builder_t *b)
{
    uint32_t films = b->w->count[KGA_SYNTH_FILM];
    kga_rng_init(&b->rng, kga_rng_next(&b->rng), STREAM_FILMS);
    for (uint32_t f = 0; f < films; f++) {
        int rc = film_generate(b, f);
        if (rc != 0)
            return rc;
        if (f % PROGRESS_EVERY == 0)
            kga_progress_report(b->progress, "synth: building the world", "films",
                                f, films);
    }
    kga_progress_report(b->progress, "synth: building the world", "films",
                        films, films);
    return 0;
}

/* ---- finishing touches ------------------------------------------------- */

/* Gives everyone who got no part a part in a random film: popularity draws
 * leave the least popular people out, and the world has no isolated people. */
static int people_sweep(builder_t *b)
{
    kga_synth_world_t *w = b->w;
    uint32_t first = w->first[KGA_SYNTH_PERSON], n = w->count[KGA_SYNTH_PERSON];
    uint8_t *busy = alloc_array(b, n, 1, "people");
    if (busy == NULL)
        return KGA_ENOMEM;
    for (uint64_t i = 0; i < w->edge_count; i++) {
        const kga_synth_edge_t *e = &w->edges[i];
        if (e->head >= first && e->head - first < n)
            busy[e->head - first] = 1;
    }
    uint32_t idle = 0;
    for (uint32_t i = 0; i < n; i++)
        idle += !busy[i];
    int rc = edges_reserve(b, idle);
    if (rc == 0) {
        kga_rng_t r;
        kga_rng_init(&r, kga_rng_next(&b->rng), STREAM_SWEEP);
        for (uint32_t i = 0; i < n; i++)
            if (!busy[i])
                edge_push(b, first + i, idle_profession_rel[b->profession[i]],
                          film_entity(b, kga_rng_below(
                                             &r, w->count[KGA_SYNTH_FILM])));
    }
    free(busy);
    return rc;
}

typedef struct {
    uint64_t key; /* head << 32 | tail */
    uint64_t index;
} plays_key_t;

static int plays_key_cmp(const void *a, const void *b)
{
    const plays_key_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* A character recast in two films of a franchise by the same person would
 * give the same edge twice; only "plays" edges can repeat, so only they are
 * sorted. Later copies go; order of the rest is kept. */
static int plays_dedupe(builder_t *b)
{
    kga_synth_world_t *w = b->w;
    uint64_t n = 0;
    for (uint64_t i = 0; i < w->edge_count; i++)
        n += w->edges[i].rel == KGA_SYNTH_PLAYS;
    plays_key_t *keys = alloc_array(b, n, sizeof *keys, "plays edges");
    uint8_t *drop = alloc_array(b, w->edge_count, 1, "edges");
    int rc = KGA_ENOMEM;
    if (keys == NULL || drop == NULL)
        goto out;
    n = 0;
    for (uint64_t i = 0; i < w->edge_count; i++) {
        const kga_synth_edge_t *e = &w->edges[i];
        if (e->rel == KGA_SYNTH_PLAYS)
            keys[n++] = (plays_key_t){(uint64_t)e->head << 32 | e->tail, i};
    }
    qsort(keys, n, sizeof *keys, plays_key_cmp);
    for (uint64_t i = 1; i < n; i++)
        if (keys[i].key == keys[i - 1].key)
            drop[keys[i].index] = 1;
    uint64_t kept = 0;
    for (uint64_t i = 0; i < w->edge_count; i++)
        if (!drop[i])
            w->edges[kept++] = w->edges[i];
    w->edge_count = kept;
    rc = 0;
out:
    free(keys);
    free(drop);
    return rc;
}

static void builder_destroy(builder_t *b)
{
    free(b->profession);
    for (int k = 0; k < ROLE_COUNT; k++)
        sampler_destroy(&b->by_profession[k]);
    sampler_destroy(&b->anyone);
    free(b->film_kind);
    free(b->film_base);
    free(b->film_root);
    free(b->film_edges);
    free(b->char_start);
    free(b->char_list);
    free(b->char_performer);
    free(b->performer_scratch);
    kga_synth_name_set_destroy(&b->names);
}

static int people_and_samplers(builder_t *b)
{
    uint32_t people = b->w->count[KGA_SYNTH_PERSON];
    double *weight = alloc_array(b, people, sizeof *weight, "weights");
    b->profession = alloc_array(b, people, 1, "people");
    int rc = KGA_ENOMEM;
    if (weight != NULL && b->profession != NULL &&
        (rc = people_generate(b, weight)) == 0)
        rc = samplers_build(b, weight);
    free(weight);
    return rc;
}

int kga_synth_world_build(kga_synth_world_t *w, uint32_t n, uint64_t seed,
                          const kga_progress_t *progress, kga_err_t *err)
{
    memset(w, 0, sizeof *w);
    builder_t b;
    memset(&b, 0, sizeof b);
    b.w = w;
    b.progress = progress;
    b.err = err;
    kga_synth_name_set_init(&b.names);
    layout(w, n);
    kga_rng_init(&b.rng, seed, STREAM_PEOPLE);
    int rc = KGA_ENOMEM;
    w->entities = alloc_array(&b, n, sizeof *w->entities, "entities");
    if (w->entities == NULL)
        goto fail;
    genres_generate(w);
    if ((rc = people_and_samplers(&b)) != 0 || (rc = films_plan(&b)) != 0 ||
        (rc = characters_assign(&b)) != 0 ||
        (rc = edges_reserve(&b, (uint64_t)w->count[KGA_SYNTH_FILM] *
                                    INITIAL_EDGES_PER_FILM)) != 0 ||
        (rc = films_generate(&b)) != 0 || (rc = people_sweep(&b)) != 0 ||
        (rc = plays_dedupe(&b)) != 0)
        goto fail;
    builder_destroy(&b);
    return 0;
fail:
    builder_destroy(&b);
    kga_synth_world_destroy(w);
    return rc;
}

void kga_synth_world_destroy(kga_synth_world_t *w)
{
    free(w->entities);
    free(w->edges);
    memset(w, 0, sizeof *w);
}
