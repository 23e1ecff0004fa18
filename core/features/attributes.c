/* Per-attribute pair features (attributes.h): the channels two stores
 * share, a TF-IDF model of each channel's text, its values read as
 * numbers, dates or durations, and the features of a pair. Apart from the
 * name channel (name_features.c) because it is one name against many
 * attributes and relations, and apart from the scorer because nothing here
 * is learned. */
#include "features/attributes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "features/name_features.h"
#include "features/name_tfidf.h"

#define MAX_CHANNELS (KGA_ATTR_MAX_KEYS + KGA_ATTR_MAX_RELATIONS)
#define NORM_MAX 64
/* Text of one entity in one channel is cut to this many bytes (the name
 * features read no more anyway). */
#define TEXT_MAX KGA_NAME_MAX_BYTES

typedef struct {
    kga_attr_channel_t info;
    char name[NORM_MAX];
    kga_tfidf_t *tfidf;
    float *value[2]; /* typed channels: per entity, NAN when none */
} channel_t;

struct kga_attr_model {
    uint32_t n_channels, n_features;
    channel_t ch[MAX_CHANNELS];
};

uint32_t kga_attr_feature_count(const kga_attr_model_t *m)
{
    return m->n_features;
}

uint32_t kga_attr_channel_count(const kga_attr_model_t *m)
{
    return m->n_channels;
}

const kga_attr_channel_t *kga_attr_channel(const kga_attr_model_t *m,
                                           uint32_t c)
{
    return c < m->n_channels ? &m->ch[c].info : NULL;
}

void kga_attr_model_free(kga_attr_model_t *m)
{
    if (m == NULL)
        return;
    for (uint32_t c = 0; c < m->n_channels; c++) {
        kga_tfidf_free(m->ch[c].tfidf);
        free(m->ch[c].value[0]);
        free(m->ch[c].value[1]);
    }
    free(m);
}

/* ---- names of keys ---- */

/* The local name of a key or relation: after the last '/' or '#', else
 * after the first ':', a surrounding <...> ignored. */
static const char *local_name(const char *key, size_t *len)
{
    size_t n = strlen(key);
    const char *s = key;
    if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
        s++;
        n -= 2;
    }
    size_t start = 0;
    int sep = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || s[i] == '#') {
            start = i + 1;
            sep = 1;
        }
    if (!sep) {
        const char *colon = memchr(s, ':', n);
        if (colon != NULL)
            start = (size_t)(colon - s) + 1;
    }
    *len = n - start;
    return s + start;
}

/* What keys are matched by: the local name, ASCII lower-cased, without
 * '_', '-', '.' and spaces. */
static void match_name(const char *key, char out[NORM_MAX])
{
    size_t len, n = 0;
    const char *s = local_name(key, &len);
    for (size_t i = 0; i < len && n + 1 < NORM_MAX; i++) {
        char c = s[i];
        if (c == '_' || c == '-' || c == '.' || c == ' ')
            continue;
        out[n++] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
    }
    out[n] = '\0';
}

/* The text of an RDF literal as written in an attribute: "x"^^<type>,
 * "x"@lang and "x" give x, anything else itself. */
static void literal_text(const char *lit, const char **s, size_t *len)
{
    size_t n = strlen(lit);
    *s = lit;
    *len = n;
    if (n < 2 || lit[0] != '"')
        return;
    const char *close = strrchr(lit + 1, '"');
    if (close == NULL)
        return;
    const char *rest = close + 1;
    if (*rest == '\0' || strncmp(rest, "^^", 2) == 0 || *rest == '@') {
        *s = lit + 1;
        *len = (size_t)(close - lit - 1);
    }
}

/* ---- finding the channels ---- */

/* A key (or relation) of one side and the channel name it matches. */
typedef struct {
    char name[NORM_MAX];
    int side;
    uint32_t id;
} key_ref_t;

static int key_ref_cmp(const void *pa, const void *pb)
{
    const key_ref_t *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);
    if (c == 0)
        c = a->side - b->side;
    if (c == 0)
        c = (a->id > b->id) - (a->id < b->id);
    return c;
}

/* A channel before selection. */
typedef struct {
    char name[NORM_MAX];
    const char *display; /* a left key, in the left store */
    int relation;
    uint32_t values[2];
} candidate_t;

static int candidate_cmp(const void *pa, const void *pb)
{
    const candidate_t *a = pa, *b = pb;
    uint32_t ma = a->values[0] < a->values[1] ? a->values[0] : a->values[1];
    uint32_t mb = b->values[0] < b->values[1] ? b->values[0] : b->values[1];
    if (ma != mb)
        return ma > mb ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* The candidates of one kind (attribute keys or relations): names shared
 * by both stores; chan[side][id] gets the candidate of each key or
 * relation (UINT32_MAX: none). Returns the count or a negative code. */
static long find_candidates(const kga_store_t *st[2], int relation,
                            candidate_t *cand, size_t cap,
                            uint32_t *chan[2])
{
    size_t total = 0;
    uint32_t count[2];
    for (int side = 0; side < 2; side++) {
        count[side] = relation ? kga_store_relation_count(st[side])
                               : kga_store_attr_key_count(st[side]);
        total += count[side];
    }
    key_ref_t *refs = malloc((total ? total : 1) * sizeof *refs);
    if (refs == NULL)
        return KGA_ENOMEM;
    size_t n = 0;
    for (int side = 0; side < 2; side++)
        for (uint32_t k = 0; k < count[side]; k++) {
            const char *key = relation ? kga_store_relation_name(st[side], k)
                                       : kga_store_attr_key_name(st[side], k);
            match_name(key, refs[n].name);
            refs[n].side = side;
            refs[n].id = k;
            chan[side][k] = UINT32_MAX;
            n += refs[n].name[0] != '\0';
        }
    qsort(refs, n, sizeof *refs, key_ref_cmp);
    long found = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(refs[j].name, refs[i].name) == 0)
            j++;
        /* refs[i..j) share a name; left ones first. */
        if (refs[i].side == 0 && refs[j - 1].side == 1 &&
            (size_t)found < cap) {
            candidate_t *c = &cand[found];
            memset(c, 0, sizeof *c);
            memcpy(c->name, refs[i].name, NORM_MAX);
            c->display = relation ? kga_store_relation_name(st[0], refs[i].id)
                                  : kga_store_attr_key_name(st[0], refs[i].id);
            c->relation = relation;
            for (size_t k = i; k < j; k++)
                chan[refs[k].side][refs[k].id] = (uint32_t)found;
            found++;
        }
        i = j;
    }
    free(refs);
    return found;
}

/* Counts, per candidate and side, the entities with a value. */
static int count_values(const kga_store_t *st[2], int relation,
                        candidate_t *cand, size_t n_cand, uint32_t *chan[2])
{
    uint32_t *last = malloc((n_cand ? n_cand : 1) * sizeof *last);
    if (last == NULL)
        return KGA_ENOMEM;
    for (int side = 0; side < 2; side++) {
        for (size_t c = 0; c < n_cand; c++)
            last[c] = UINT32_MAX;
        uint32_t ne = kga_store_entity_count(st[side]);
        for (uint32_t e = 0; e < ne; e++) {
            if (relation) {
                const kga_edge_t *edges;
                uint32_t m = kga_store_edges(st[side], e, KGA_DIR_OUT, &edges);
                for (uint32_t i = 0; i < m; i++) {
                    uint32_t c = chan[side][edges[i].rel];
                    if (c != UINT32_MAX && last[c] != e) {
                        last[c] = e;
                        cand[c].values[side]++;
                    }
                }
            } else {
                const kga_attr_t *attrs;
                uint32_t m = kga_store_attrs(st[side], e, &attrs);
                for (uint32_t i = 0; i < m; i++) {
                    uint32_t c = chan[side][attrs[i].key];
                    const char *text;
                    size_t len;
                    literal_text(kga_store_attr_literal(st[side], &attrs[i]),
                                 &text, &len);
                    if (c != UINT32_MAX && last[c] != e && len > 0) {
                        last[c] = e;
                        cand[c].values[side]++;
                    }
                }
            }
        }
    }
    free(last);
    return 0;
}

/* ---- one channel's text and values ---- */

/* Appends len bytes to the text being built in buf (*used of TEXT_MAX),
 * after "; " when it holds text already. */
static void append_text(char *buf, size_t *used, const char *s, size_t len)
{
    if (*used > 0 && *used + 2 < TEXT_MAX) {
        memcpy(buf + *used, "; ", 2);
        *used += 2;
    }
    if (len > TEXT_MAX - *used)
        len = TEXT_MAX - *used;
    memcpy(buf + *used, s, len);
    *used += len;
}

/* The kind of a channel from all its values: the most common of date,
 * duration and number when at least half the values read as it. */
static kga_value_kind_t channel_kind(const kga_store_t *st[2],
                                     uint32_t *chan[2], uint32_t c)
{
    uint64_t kinds[4] = {0, 0, 0, 0}, total = 0;
    char buf[KGA_VALUE_MAX_BYTES + 1];
    for (int side = 0; side < 2; side++) {
        uint32_t ne = kga_store_entity_count(st[side]);
        for (uint32_t e = 0; e < ne; e++) {
            const kga_attr_t *attrs;
            uint32_t m = kga_store_attrs(st[side], e, &attrs);
            for (uint32_t i = 0; i < m; i++) {
                if (chan[side][attrs[i].key] != c)
                    continue;
                const char *text;
                size_t len;
                literal_text(kga_store_attr_literal(st[side], &attrs[i]),
                             &text, &len);
                if (len == 0)
                    continue;
                total++;
                if (len > KGA_VALUE_MAX_BYTES)
                    continue;
                memcpy(buf, text, len);
                buf[len] = '\0';
                double v;
                kinds[kga_value_kind(buf, &v)]++;
            }
        }
    }
    kga_value_kind_t best = KGA_VALUE_TEXT;
    for (int k = KGA_VALUE_DATE; k <= KGA_VALUE_NUMBER; k++)
        if (kinds[k] > (best == KGA_VALUE_TEXT ? 0 : kinds[best]))
            best = (kga_value_kind_t)k;
    return best != KGA_VALUE_TEXT && 2 * kinds[best] >= total ? best
                                                              : KGA_VALUE_TEXT;
}

/* The value of a text read as kind, or NAN. */
static float read_value(const char *text, size_t len, kga_value_kind_t kind)
{
    char buf[KGA_VALUE_MAX_BYTES + 1];
    if (len > KGA_VALUE_MAX_BYTES)
        return NAN;
    memcpy(buf, text, len);
    buf[len] = '\0';
    double v;
    int64_t days;
    switch (kind) {
    case KGA_VALUE_DATE:
        return kga_value_date(buf, &days) ? (float)days : NAN;
    case KGA_VALUE_DURATION:
        return kga_value_duration(buf, &v) ? (float)v : NAN;
    case KGA_VALUE_NUMBER:
        return kga_value_number(buf, &v) ? (float)v : NAN;
    case KGA_VALUE_TEXT:
        break;
    }
    return NAN;
}

/* The texts (and values) of channel c of one side into texts[] (arena
 * strings, NULL for none) and value[] (typed channels). */
static int side_texts(const kga_store_t *s, uint32_t *chan, uint32_t c,
                      channel_t *ch, int side, kga_arena_t *arena,
                      const char **texts, char *buf)
{
    uint32_t ne = kga_store_entity_count(s);
    float *value = ch->value[side];
    for (uint32_t e = 0; e < ne; e++) {
        size_t used = 0;
        if (value != NULL)
            value[e] = NAN;
        if (ch->info.relation) {
            const kga_edge_t *edges;
            uint32_t m = kga_store_edges(s, e, KGA_DIR_OUT, &edges);
            for (uint32_t i = 0; i < m; i++)
                if (chan[edges[i].rel] == c) {
                    const char *name = kga_store_entity_name(s, edges[i].ent);
                    append_text(buf, &used, name, strlen(name));
                }
        } else {
            const kga_attr_t *attrs;
            uint32_t m = kga_store_attrs(s, e, &attrs);
            for (uint32_t i = 0; i < m; i++) {
                if (chan[attrs[i].key] != c)
                    continue;
                const char *text;
                size_t len;
                literal_text(kga_store_attr_literal(s, &attrs[i]), &text,
                             &len);
                if (len == 0)
                    continue;
                append_text(buf, &used, text, len);
                if (value != NULL && isnan(value[e]))
                    value[e] = read_value(text, len, ch->info.kind);
            }
        }
        texts[e] = NULL;
        if (used > 0 && (texts[e] = kga_arena_strndup(arena, buf, used)) ==
                            NULL)
            return KGA_ENOMEM;
    }
    return 0;
}

static int build_channel(const kga_store_t *st[2], uint32_t *chan[2],
                         uint32_t c, channel_t *ch, kga_err_t *err)
{
    kga_arena_t arena;
    kga_arena_init(&arena, 0);
    const char **texts[2] = {NULL, NULL};
    const char **ids[2] = {NULL, NULL};
    char *buf = malloc(TEXT_MAX);
    int rc = buf != NULL ? 0 : KGA_ENOMEM;
    for (int side = 0; side < 2 && rc == 0; side++) {
        uint32_t ne = kga_store_entity_count(st[side]);
        texts[side] = malloc((ne ? ne : 1) * sizeof *texts[side]);
        ids[side] = malloc((ne ? ne : 1) * sizeof *ids[side]);
        if (ch->info.kind != KGA_VALUE_TEXT)
            ch->value[side] = malloc((ne ? ne : 1) * sizeof(float));
        if (texts[side] == NULL || ids[side] == NULL ||
            (ch->info.kind != KGA_VALUE_TEXT && ch->value[side] == NULL)) {
            rc = KGA_ENOMEM;
            break;
        }
        for (uint32_t e = 0; e < ne; e++)
            ids[side][e] = kga_store_entity_ext_id(st[side], e);
        rc = side_texts(st[side], chan[side], c, ch, side, &arena,
                        texts[side], buf);
    }
    if (rc != 0) {
        kga_err_set(err, rc, "attribute '%s': out of memory", ch->name);
    } else {
        kga_name_feature_params_t np;
        kga_name_feature_params_init(&np);
        np.translit = 0; /* values are compared as written */
        kga_name_list_t lists[2];
        for (int side = 0; side < 2; side++)
            lists[side] = (kga_name_list_t){
                kga_store_entity_count(st[side]),
                (const char *const *)texts[side],
                (const char *const *)ids[side]};
        rc = kga_tfidf_build_lists(&lists[0], &lists[1], &np, NULL,
                                   &ch->tfidf, err);
    }
    for (int side = 0; side < 2; side++) {
        free(texts[side]);
        free(ids[side]);
    }
    free(buf);
    kga_arena_destroy(&arena);
    return rc;
}

/* ---- the model ---- */

/* Adds the chosen candidates of one kind as channels and builds them. */
static int add_channels(kga_attr_model_t *m, const kga_store_t *st[2],
                        int relation, size_t limit, kga_err_t *err)
{
    uint32_t n[2];
    uint32_t *chan[2] = {NULL, NULL};
    size_t cap = 0;
    for (int side = 0; side < 2; side++) {
        n[side] = relation ? kga_store_relation_count(st[side])
                           : kga_store_attr_key_count(st[side]);
        chan[side] = malloc((n[side] ? n[side] : 1) * sizeof *chan[side]);
        cap += n[side];
    }
    candidate_t *cand = malloc((cap ? cap : 1) * sizeof *cand);
    int rc = chan[0] && chan[1] && cand ? 0 : KGA_ENOMEM;
    long found = 0;
    if (rc == 0)
        found = find_candidates(st, relation, cand, cap, chan);
    if (found < 0)
        rc = (int)found;
    if (rc == 0)
        rc = count_values(st, relation, cand, (size_t)found, chan);
    if (rc != 0) {
        kga_err_set(err, rc, "attributes: out of memory");
        goto out;
    }
    /* Ranked by values, the kept ones renumbered in rank order. */
    uint32_t *rank_of = malloc(((size_t)found ? (size_t)found : 1) *
                               sizeof *rank_of);
    candidate_t *sorted = malloc(((size_t)found ? (size_t)found : 1) *
                                 sizeof *sorted);
    if (rank_of == NULL || sorted == NULL) {
        free(rank_of);
        free(sorted);
        rc = kga_err_set(err, KGA_ENOMEM, "attributes: out of memory");
        goto out;
    }
    memcpy(sorted, cand, (size_t)found * sizeof *cand);
    qsort(sorted, (size_t)found, sizeof *sorted, candidate_cmp);
    size_t kept = 0;
    for (long i = 0; i < found; i++)
        rank_of[i] = UINT32_MAX;
    for (long i = 0; i < found && kept < limit; i++) {
        if (sorted[i].values[0] < KGA_ATTR_MIN_VALUES ||
            sorted[i].values[1] < KGA_ATTR_MIN_VALUES)
            continue;
        for (long j = 0; j < found; j++)
            if (strcmp(cand[j].name, sorted[i].name) == 0)
                rank_of[j] = m->n_channels + (uint32_t)kept;
        channel_t *ch = &m->ch[m->n_channels + kept];
        size_t len;
        const char *local = local_name(sorted[i].display, &len);
        snprintf(ch->name, sizeof ch->name, "%.*s", (int)len, local);
        ch->info.name = ch->name;
        ch->info.relation = relation;
        ch->info.values[0] = sorted[i].values[0];
        ch->info.values[1] = sorted[i].values[1];
        kept++;
    }
    for (int side = 0; side < 2; side++)
        for (uint32_t k = 0; k < n[side]; k++)
            if (chan[side][k] != UINT32_MAX)
                chan[side][k] = rank_of[chan[side][k]];
    free(rank_of);
    free(sorted);
    for (size_t i = 0; i < kept && rc == 0; i++) {
        uint32_t c = m->n_channels;
        channel_t *ch = &m->ch[c];
        ch->info.kind = relation ? KGA_VALUE_TEXT : channel_kind(st, chan, c);
        ch->info.first_feature = m->n_features;
        ch->info.features = ch->info.kind == KGA_VALUE_TEXT ? 2 : 3;
        m->n_channels++; /* freed with the model from here on */
        m->n_features += ch->info.features;
        rc = build_channel(st, chan, c, ch, err);
    }
out:
    free(cand);
    free(chan[0]);
    free(chan[1]);
    return rc;
}

int kga_attr_model_new(const kga_store_t *left, const kga_store_t *right,
                       uint32_t relations, kga_attr_model_t **out,
                       kga_err_t *err)
{
    *out = NULL;
    if (relations > KGA_ATTR_MAX_RELATIONS)
        return kga_err_set(err, KGA_EINVAL,
                           "attributes: %u relation channels, at most %u",
                           relations, KGA_ATTR_MAX_RELATIONS);
    kga_attr_model_t *m = calloc(1, sizeof *m);
    if (m == NULL)
        return kga_err_set(err, KGA_ENOMEM, "attributes: out of memory");
    const kga_store_t *st[2] = {left, right};
    int rc = add_channels(m, st, 0, KGA_ATTR_MAX_KEYS, err);
    if (rc == 0 && relations > 0)
        rc = add_channels(m, st, 1, relations, err);
    if (rc != 0) {
        kga_attr_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static float value_similarity(kga_value_kind_t kind, float a, float b)
{
    double d = fabs((double)a - (double)b);
    if (kind == KGA_VALUE_DATE)
        return (float)(1.0 - fmin(1.0, d / 365.0));
    double scale = fmax(fabs((double)a), fabs((double)b));
    if (scale == 0)
        return 1.0f;
    return (float)(1.0 - fmin(1.0, d / scale));
}

void kga_attr_features(const kga_attr_model_t *m, uint32_t left,
                       uint32_t right, float *out)
{
    for (uint32_t c = 0; c < m->n_channels; c++) {
        const channel_t *ch = &m->ch[c];
        float *f = out + ch->info.first_feature;
        const kga_csr_t *a = kga_tfidf_matrix(ch->tfidf, KGA_TFIDF_LEFT);
        const kga_csr_t *b = kga_tfidf_matrix(ch->tfidf, KGA_TFIDF_RIGHT);
        int missing = a->indptr[left + 1] == a->indptr[left] ||
                      b->indptr[right + 1] == b->indptr[right];
        f[0] = missing ? 0.0f : kga_tfidf_cosine(ch->tfidf, left, right);
        if (ch->info.kind != KGA_VALUE_TEXT) {
            float x = ch->value[0][left], y = ch->value[1][right];
            f[1] = isnan(x) || isnan(y)
                       ? 0.0f
                       : value_similarity(ch->info.kind, x, y);
        }
        f[ch->info.features - 1] = missing ? 1.0f : 0.0f;
    }
}
