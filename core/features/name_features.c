/* Name normalisation, hashed n-gram / word features and the TF-IDF name
 * model. */
#include "features/name_features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/utf8.h"

/* A byte that is not part of valid UTF-8 becomes the unit RAW_BASE + byte:
 * outside Unicode, so it never equals a decoded code point, and it encodes
 * back to the same byte. */
#define RAW_BASE 0x110000u
#define SPACE 0x20u

/* Salts that keep n-grams and word tokens in different bucket streams. */
#define SALT_NGRAM 0x6E6772616D73ull /* "ngrams" */
#define SALT_WORD 0x776F726473ull    /* "words" */

/* Names whose features fit here need no allocation. */
#define STACK_WORDS 4096u

/* Measured on DBP15K fr_en: TF-IDF cosine, each of the 10,500 test left
 * names against all 10,500 test right names, IDF over both graphs, ties
 * counted against the true match. Hits@1:
 *   3-grams over the whole name, accents kept, raw tf (the reference) 0.863
 *   2..4-grams per word + words, accents kept                         0.866
 *   2..4-grams per word + words, accents stripped                     0.880
 *   2..3-grams per word + words, accents stripped (the defaults)      0.885
 *     same over the whole name 0.883; without words 0.881; raw tf 0.883;
 *     word weight 0.5 0.884, 2 0.877; both spellings 0.885; 2^18 buckets
 *     0.885, 2^16 within 0.001; 1..3-grams 0.886 at twice the search time;
 *     2..5-grams 0.871.
 * Longer n-grams lose: names differ across languages mostly in words and
 * endings that short n-grams absorb. */
void kga_name_feature_params_init(kga_name_feature_params_t *p)
{
    p->bucket_bits = 17;
    p->ngram_min = 2;
    p->ngram_max = 3;
    p->per_word = 1;
    p->words = 1;
    p->word_weight = 1.0f;
    p->accents = KGA_ACCENTS_STRIP;
    p->sublinear_tf = 1;
}

int kga_name_feature_params_check(const kga_name_feature_params_t *p,
                                  kga_err_t *err)
{
    if (p->bucket_bits < KGA_NAME_MIN_BUCKET_BITS ||
        p->bucket_bits > KGA_NAME_MAX_BUCKET_BITS)
        return kga_err_set(err, KGA_EINVAL,
                           "name features: bucket_bits %u not in %u..%u",
                           p->bucket_bits, KGA_NAME_MIN_BUCKET_BITS,
                           KGA_NAME_MAX_BUCKET_BITS);
    if (p->ngram_min < 1 || p->ngram_min > p->ngram_max ||
        p->ngram_max > KGA_NAME_MAX_NGRAM)
        return kga_err_set(err, KGA_EINVAL,
                           "name features: n-gram range %u..%u not within "
                           "1..%u",
                           p->ngram_min, p->ngram_max, KGA_NAME_MAX_NGRAM);
    if (!(p->word_weight >= 0.0f && p->word_weight <= 1e6f))
        return kga_err_set(err, KGA_EINVAL,
                           "name features: word_weight must be in 0..1e6");
    if (p->accents != KGA_ACCENTS_KEEP && p->accents != KGA_ACCENTS_STRIP &&
        p->accents != KGA_ACCENTS_BOTH)
        return kga_err_set(err, KGA_EINVAL,
                           "name features: unknown accents mode %d",
                           (int)p->accents);
    return 0;
}

/* ---- code points ------------------------------------------------------- */

/* The code point at s, or RAW_BASE + byte for a byte that does not start a
 * well-formed sequence; returns the bytes consumed (at least 1). */
static size_t decode_unit(const unsigned char *s, size_t len, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = kga_utf8_decode(s, len, cp, NULL);
    if (n == 0) {
        *cp = RAW_BASE + s[0];
        n = 1;
    }
    return n;
}

static size_t utf8_encode(uint32_t cp, unsigned char *o)
{
    if (cp >= RAW_BASE) {
        o[0] = (unsigned char)(cp - RAW_BASE);
        return 1;
    }
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t to_lower(uint32_t c)
{
    if (c < 0x80)
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
        return c + 32;
    if (c >= 0x100 && c <= 0x17F) {
        if (c == 0x130) /* İ: the dot goes with the case */
            return 'i';
        if (c == 0x178)
            return 0xFF;
        if ((c <= 0x137 || (c >= 0x14A && c <= 0x177)) && c % 2 == 0)
            return c + 1;
        if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) &&
            c % 2 == 1)
            return c + 1;
        return c;
    }
    if (c == 0x218 || c == 0x21A) /* Ș Ț */
        return c + 1;
    if (c >= 0x386 && c <= 0x3AB) {
        if (c >= 0x391 && c != 0x3A2)
            return c + 32;
        if (c == 0x386)
            return 0x3AC;
        if (c >= 0x388 && c <= 0x38A)
            return c + 37;
        if (c == 0x38C)
            return 0x3CC;
        if (c == 0x38E || c == 0x38F)
            return c + 63;
        return c;
    }
    if (c == 0x3C2) /* final sigma */
        return 0x3C3;
    if (c >= 0x400 && c <= 0x40F)
        return c + 80;
    if (c >= 0x410 && c <= 0x42F)
        return c + 32;
    return c;
}

/* Punctuation, symbols, controls and spaces: everything that separates
 * words. Letters, digits and unknown code points are word characters. */
static int is_separator(uint32_t c)
{
    if (c < 0x80)
        return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9'));
    if (c <= 0xBF) /* C1 controls, NBSP, Latin-1 punctuation and signs */
        return c != 0xAA && c != 0xB5 && c != 0xBA && c != 0xB2 &&
               c != 0xB3 && c != 0xB9 && !(c >= 0xBC && c <= 0xBE);
    if (c == 0xD7 || c == 0xF7)
        return 1;
    if (c == 0x37E || c == 0x387) /* Greek question mark, ano teleia */
        return 1;
    return (c >= 0x2000 && c <= 0x206F) || (c >= 0x2E00 && c <= 0x2E7F) ||
           (c >= 0x3000 && c <= 0x3003) || (c >= 0x3008 && c <= 0x3011) ||
           (c >= 0xFF01 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
           (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65) ||
           c == 0xFEFF;
}

/* Base letters of U+00DF..U+00FF and U+0100..U+017F ('.' = not a letter).
 * Upper-case entries matter only for callers that strip without lowering. */
static const char latin1_base[] = "saaaaaaaceeeeiiiidnooooo.ouuuuyty";
static const char latin_ext_a_base[] =
    "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiijjjkkklllllll"
    "lllnnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";
_Static_assert(sizeof latin1_base == 0x100 - 0xDF + 1, "one per code point");
_Static_assert(sizeof latin_ext_a_base == 0x80 + 1, "one per code point");

/* Writes the accent-free form of a lower-case unit (0, 1 or 2 units). */
static size_t strip_accent(uint32_t c, uint32_t out[2])
{
    if (c >= 0x300 && c <= 0x36F) /* combining marks */
        return 0;
    if (c >= 0xDF && c <= 0xFF) {
        switch (c) {
        case 0xDF: out[0] = 's', out[1] = 's'; return 2;
        case 0xE6: out[0] = 'a', out[1] = 'e'; return 2;
        case 0xFE: out[0] = 't', out[1] = 'h'; return 2;
        case 0xF7: break;
        default: out[0] = (unsigned char)latin1_base[c - 0xDF]; return 1;
        }
    } else if (c >= 0x100 && c <= 0x17F) {
        switch (c) {
        case 0x132: case 0x133: out[0] = 'i', out[1] = 'j'; return 2;
        case 0x152: case 0x153: out[0] = 'o', out[1] = 'e'; return 2;
        default: out[0] = (unsigned char)latin_ext_a_base[c - 0x100]; return 1;
        }
    } else {
        switch (c) {
        case 0x219: out[0] = 's'; return 1;
        case 0x21B: out[0] = 't'; return 1;
        case 0x3AC: out[0] = 0x3B1; return 1;
        case 0x3AD: out[0] = 0x3B5; return 1;
        case 0x3AE: out[0] = 0x3B7; return 1;
        case 0x3AF: case 0x390: case 0x3CA: out[0] = 0x3B9; return 1;
        case 0x3CC: out[0] = 0x3BF; return 1;
        case 0x3CD: case 0x3B0: case 0x3CB: out[0] = 0x3C5; return 1;
        case 0x3CE: out[0] = 0x3C9; return 1;
        case 0x439: out[0] = 0x438; return 1; /* й -> и */
        case 0x450: case 0x451: out[0] = 0x435; return 1; /* ѐ ё -> е */
        case 0x457: out[0] = 0x456; return 1; /* ї -> і */
        case 0x45E: out[0] = 0x443; return 1; /* ў -> у */
        default: break;
        }
    }
    out[0] = c;
    return 1;
}

/* The bytes of the name that are read: at most KGA_NAME_MAX_BYTES, cut
 * before a continuation byte so that a character is not split. */
static size_t name_span(const char *name)
{
    if (name == NULL)
        return 0;
    size_t len = strnlen(name, KGA_NAME_MAX_BYTES + 1);
    if (len > KGA_NAME_MAX_BYTES)
        len = kga_utf8_cut(name, KGA_NAME_MAX_BYTES);
    return len;
}

/* Normalises len bytes into out (room for len units: every step below
 * consumes at least as many bytes as it emits units). Returns the count. */
static size_t normalize_units(const unsigned char *s, size_t len, int strip,
                              uint32_t *out)
{
    size_t n = 0;
    int pending_space = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        i += decode_unit(s + i, len - i, &c);
        c = to_lower(c);
        if (is_separator(c)) {
            pending_space = n > 0;
            continue;
        }
        uint32_t e[2] = {c, 0};
        size_t ne = strip ? strip_accent(c, e) : 1;
        if (ne == 0)
            continue;
        if (pending_space) {
            out[n++] = SPACE;
            pending_space = 0;
        }
        for (size_t j = 0; j < ne; j++)
            out[n++] = e[j];
    }
    return n;
}

int kga_name_normalize(const char *name, int strip_accents, char *out,
                       size_t cap, size_t *len)
{
    size_t span = name_span(name), n, w = 0;
    uint32_t stack[512];
    uint32_t *u = span <= 512 ? stack : malloc(span * sizeof *u);
    int rc = 0;
    if (u == NULL)
        return KGA_ENOMEM;
    n = normalize_units((const unsigned char *)name, span, strip_accents, u);
    for (size_t i = 0; i < n; i++) {
        unsigned char b[4];
        size_t nb = utf8_encode(u[i], b);
        if (w + nb + 1 > cap) {
            rc = KGA_ERANGE;
            break;
        }
        memcpy(out + w, b, nb);
        w += nb;
    }
    if (cap > 0)
        out[w] = '\0';
    if (len != NULL)
        *len = w;
    if (u != stack)
        free(u);
    return rc;
}

/* ---- features ------------------------------------------------------------ */

static uint32_t bucket_of(const unsigned char *b, size_t len, uint64_t salt,
                          uint32_t mask)
{
    uint64_t h = kga_hash64(b, len) ^ salt;
    h = (h ^ (h >> 33)) * 0xFF51AFD7ED558CCDull;
    h = (h ^ (h >> 33)) * 0xC4CEB9FE1A85EC53ull;
    return (uint32_t)(h ^ (h >> 33)) & mask;
}

/* Raw (unsorted, repeated) features of one spelling u[0..n) into ng[] and
 * wd[]; counts added to *nng, *nwd. Scratch: bytes (4 * (n + 2)), off and
 * next (n + 3 each). */
static void spelling_features(const uint32_t *u, size_t n,
                              const kga_name_feature_params_t *p,
                              unsigned char *bytes, uint32_t *off,
                              uint32_t *next, uint32_t *ng, size_t *nng,
                              uint32_t *wd, size_t *nwd)
{
    uint32_t mask = (1u << p->bucket_bits) - 1;
    size_t wl = n + 2; /* the name between two boundary spaces */
    off[0] = 0;
    for (size_t i = 0; i < wl; i++) {
        uint32_t c = (i == 0 || i == wl - 1) ? SPACE : u[i - 1];
        off[i + 1] = off[i] + (uint32_t)utf8_encode(c, bytes + off[i]);
    }
    /* next[i]: the first space at or after position i. */
    next[wl] = (uint32_t)wl;
    for (size_t i = wl; i-- > 0;)
        next[i] = (i == 0 || i == wl - 1 || u[i - 1] == SPACE)
                      ? (uint32_t)i
                      : next[i + 1];

    for (uint32_t len = p->ngram_min; len <= p->ngram_max; len++) {
        for (size_t i = 0; i + len <= wl; i++) {
            size_t end = i + len;
            if (len == 1 && next[i] == i)
                continue; /* a lone boundary */
            if (p->per_word && len > 2 && next[i + 1] < end - 1)
                continue; /* crosses a word boundary */
            if (len == 2 && next[i] == i && next[i + 1] == i + 1)
                continue; /* the two boundaries of an empty name */
            ng[(*nng)++] = bucket_of(bytes + off[i], off[end] - off[i],
                                     SALT_NGRAM, mask);
        }
    }
    if (p->words)
        for (size_t i = 1; i + 1 < wl; i = next[i] + 1) {
            size_t e = next[i];
            wd[(*nwd)++] = bucket_of(bytes + off[i], off[e] - off[i],
                                     SALT_WORD, mask);
        }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void sort_u32(uint32_t *a, size_t n)
{
    if (n > 24) {
        qsort(a, n, sizeof *a, cmp_u32);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint32_t x = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1] > x; j--)
            a[j] = a[j - 1];
        a[j] = x;
    }
}

/* Raw n-gram features of one spelling of a name of at most len units. */
static size_t raw_ngram_bound(size_t len, const kga_name_feature_params_t *p)
{
    return (size_t)(p->ngram_max - p->ngram_min + 1) * (len + 2);
}

size_t kga_name_features_bound(size_t name_len,
                               const kga_name_feature_params_t *p)
{
    size_t len = name_len < KGA_NAME_MAX_BYTES ? name_len : KGA_NAME_MAX_BYTES;
    size_t spellings = p->accents == KGA_ACCENTS_BOTH ? 2 : 1;
    size_t b = spellings * (raw_ngram_bound(len, p) + len / 2 + 1);
    size_t buckets = (size_t)1 << p->bucket_bits;
    return b < buckets ? b : buckets;
}

int kga_name_features(const char *name, const kga_name_feature_params_t *p,
                      uint32_t *buckets, float *weights, size_t cap,
                      size_t *n)
{
    if (kga_name_feature_params_check(p, NULL) != 0)
        return KGA_EINVAL;
    *n = 0;
    size_t len = name_span(name);
    if (len == 0)
        return 0;

    /* One block of 32-bit words: two spellings, the encoding and its
     * offsets, and the raw features. */
    size_t spellings = p->accents == KGA_ACCENTS_BOTH ? 2 : 1;
    size_t ng_cap = spellings * raw_ngram_bound(len, p);
    size_t wd_cap = spellings * (len / 2 + 1);
    size_t mem_words = 2 * len + (len + 2) + 2 * (len + 3) + ng_cap + wd_cap;
    uint32_t stack[STACK_WORDS];
    uint32_t *mem = mem_words <= STACK_WORDS ? stack
                                             : malloc(mem_words * sizeof *mem);
    if (mem == NULL)
        return KGA_ENOMEM;
    uint32_t *u0 = mem, *u1 = u0 + len;
    unsigned char *bytes = (unsigned char *)(u1 + len);
    uint32_t *off = u1 + len + (len + 2);
    uint32_t *next = off + (len + 3);
    uint32_t *ng = next + (len + 3);
    uint32_t *wd = ng + ng_cap;
    size_t nng = 0, nwd = 0;

    const unsigned char *s = (const unsigned char *)name;
    size_t n0 = normalize_units(s, len, p->accents == KGA_ACCENTS_STRIP, u0);
    spelling_features(u0, n0, p, bytes, off, next, ng, &nng, wd, &nwd);
    if (p->accents == KGA_ACCENTS_BOTH) {
        size_t n1 = normalize_units(s, len, 1, u1);
        if (n1 != n0 || memcmp(u0, u1, n0 * sizeof *u0) != 0)
            spelling_features(u1, n1, p, bytes, off, next, ng, &nng, wd,
                              &nwd);
    }
    sort_u32(ng, nng);
    sort_u32(wd, nwd);

    /* Merge the two sorted streams into (bucket, count). */
    size_t out = 0, i = 0, j = 0;
    int rc = 0;
    while (i < nng || j < nwd) {
        uint32_t b = (j >= nwd || (i < nng && ng[i] <= wd[j])) ? ng[i] : wd[j];
        float wsum = 0.0f;
        for (; i < nng && ng[i] == b; i++)
            wsum += 1.0f;
        for (; j < nwd && wd[j] == b; j++)
            wsum += p->word_weight;
        if (out < cap) {
            buckets[out] = b;
            weights[out] = wsum;
        }
        out++;
    }
    if (out > cap)
        rc = KGA_ERANGE;
    *n = out;
    if (mem != stack)
        free(mem);
    return rc;
}

/* ---- TF-IDF -------------------------------------------------------------- */

struct kga_tfidf {
    kga_name_feature_params_t params;
    kga_csr_t side[2];
    uint64_t *keys[2];
    float *idf; /* one per bucket */
    /* Each side's inverted index over all of its rows, for the searches
     * against a whole side (one-entity queries would otherwise rebuild it,
     * at many times the cost of the search). */
    kga_sparse_index_t *index[2];
};

/* Where the names come from: a store or a list. */
typedef struct {
    const kga_store_t *store;
    const kga_name_list_t *list;
} name_source_t;

static uint32_t source_count(const name_source_t *s)
{
    return s->store != NULL ? kga_store_entity_count(s->store)
                            : s->list->count;
}

static const char *source_name(const name_source_t *s, uint32_t i)
{
    return s->store != NULL ? kga_store_entity_name(s->store, i)
                            : s->list->names[i];
}

static const char *source_ext_id(const name_source_t *s, uint32_t i)
{
    return s->store != NULL ? kga_store_entity_ext_id(s->store, i)
                            : s->list->ext_ids[i];
}

static float tf_of(float count, int sublinear)
{
    return sublinear && count > 1.0f ? 1.0f + logf(count) : count;
}

/* Scratch arrays for one name's features, grown on demand. */
typedef struct {
    uint32_t *buckets;
    float *weights;
    size_t cap;
} feature_buf_t;

static int features_into(feature_buf_t *fb, const char *name,
                         const kga_name_feature_params_t *p, size_t *n)
{
    size_t need = kga_name_features_bound(name_span(name), p);
    if (need > fb->cap) {
        uint32_t *b = realloc(fb->buckets, need * sizeof *b);
        if (b == NULL)
            return KGA_ENOMEM;
        fb->buckets = b;
        float *w = realloc(fb->weights, need * sizeof *w);
        if (w == NULL)
            return KGA_ENOMEM;
        fb->weights = w;
        fb->cap = need;
    }
    return kga_name_features(name, p, fb->buckets, fb->weights, fb->cap, n);
}

/* Raw counts of one side into m (rows = entities), document frequencies
 * into df. */
static int count_side(const name_source_t *src,
                      const kga_name_feature_params_t *p, feature_buf_t *fb,
                      kga_csr_t *m, uint32_t *df, kga_err_t *err)
{
    uint32_t rows = source_count(src);
    uint64_t cap = (uint64_t)rows * 16 + 16, nnz = 0;
    int rc = kga_csr_init(m, rows, 1u << p->bucket_bits, cap);
    if (rc != 0)
        return kga_err_set(err, rc, "tf-idf: %u entities: %s", rows,
                           kga_strerror(rc));
    for (uint32_t r = 0; r < rows; r++) {
        size_t n;
        const char *name = source_name(src, r);
        rc = features_into(fb, name, p, &n);
        if (rc != 0)
            return kga_err_set(err, rc, "tf-idf: entity %u: %s", r,
                               kga_strerror(rc));
        if (nnz + n > cap) {
            uint64_t ncap = cap * 2 > nnz + n ? cap * 2 : nnz + n;
            if (ncap > KGA_CSR_MAX_NNZ)
                return kga_err_set(err, KGA_ELIMIT,
                                   "tf-idf: more than %llu features",
                                   (unsigned long long)KGA_CSR_MAX_NNZ);
            uint32_t *ix = realloc(m->indices, (size_t)ncap * sizeof *ix);
            if (ix == NULL)
                return kga_err_set(err, KGA_ENOMEM, "tf-idf: out of memory");
            m->indices = ix;
            float *d = realloc(m->data, (size_t)ncap * sizeof *d);
            if (d == NULL)
                return kga_err_set(err, KGA_ENOMEM, "tf-idf: out of memory");
            m->data = d;
            cap = ncap;
        }
        for (size_t x = 0; x < n; x++) {
            m->indices[nnz + x] = fb->buckets[x];
            m->data[nnz + x] = fb->weights[x];
            df[fb->buckets[x]]++;
        }
        nnz += n;
        m->indptr[r + 1] = nnz;
    }
    return 0;
}

static void weigh_row(const float *idf, int sublinear, const uint32_t *ix,
                      float *v, size_t n)
{
    double ss = 0;
    for (size_t x = 0; x < n; x++) {
        v[x] = tf_of(v[x], sublinear) * idf[ix[x]];
        ss += (double)v[x] * v[x];
    }
    if (ss <= 0)
        return;
    double inv = 1.0 / sqrt(ss);
    for (size_t x = 0; x < n; x++)
        v[x] = (float)(v[x] * inv);
}

static int tfidf_build(const name_source_t src[2],
                       const kga_name_feature_params_t *p, kga_tfidf_t **out,
                       kga_err_t *err)
{
    int rc = kga_name_feature_params_check(p, err);
    if (rc != 0)
        return rc;
    size_t nb = (size_t)1 << p->bucket_bits;
    feature_buf_t fb = {NULL, NULL, 0};
    uint32_t *df = calloc(nb, sizeof *df);
    kga_tfidf_t *t = calloc(1, sizeof *t);
    if (df == NULL || t == NULL || (t->idf = malloc(nb * sizeof *t->idf)) ==
                                       NULL) {
        rc = kga_err_set(err, KGA_ENOMEM, "tf-idf: out of memory");
        goto fail;
    }
    t->params = *p;

    for (int s = 0; s < 2; s++) {
        rc = count_side(&src[s], p, &fb, &t->side[s], df, err);
        if (rc != 0)
            goto fail;
        uint32_t rows = t->side[s].rows;
        t->keys[s] = malloc((rows ? rows : 1) * sizeof *t->keys[s]);
        if (t->keys[s] == NULL) {
            rc = kga_err_set(err, KGA_ENOMEM, "tf-idf: out of memory");
            goto fail;
        }
        for (uint32_t r = 0; r < rows; r++) {
            const char *ext = source_ext_id(&src[s], r);
            t->keys[s][r] = kga_hash64(ext, ext != NULL ? strlen(ext) : 0);
        }
    }

    double ndocs = (double)t->side[0].rows + t->side[1].rows;
    for (size_t b = 0; b < nb; b++)
        t->idf[b] = (float)(log((ndocs + 1.0) / (df[b] + 1.0)) + 1.0);
    for (int s = 0; s < 2; s++) {
        kga_csr_t *m = &t->side[s];
        for (uint32_t r = 0; r < m->rows; r++)
            weigh_row(t->idf, p->sublinear_tf, m->indices + m->indptr[r],
                      m->data + m->indptr[r],
                      (size_t)(m->indptr[r + 1] - m->indptr[r]));
        if ((rc = kga_sparse_index_new(m, t->keys[s], &t->index[s], err)) != 0)
            goto fail;
    }
    free(fb.weights);
    free(fb.buckets);
    free(df);
    *out = t;
    return 0;

fail:
    free(fb.weights);
    free(fb.buckets);
    free(df);
    kga_tfidf_free(t);
    return rc;
}

int kga_tfidf_build(const kga_store_t *left, const kga_store_t *right,
                    const kga_name_feature_params_t *p, kga_tfidf_t **out,
                    kga_err_t *err)
{
    name_source_t src[2] = {{left, NULL}, {right, NULL}};
    return tfidf_build(src, p, out, err);
}

int kga_tfidf_build_lists(const kga_name_list_t *left,
                          const kga_name_list_t *right,
                          const kga_name_feature_params_t *p,
                          kga_tfidf_t **out, kga_err_t *err)
{
    if ((left->count > 0 && left->ext_ids == NULL) ||
        (right->count > 0 && right->ext_ids == NULL) ||
        (left->count > 0 && left->names == NULL) ||
        (right->count > 0 && right->names == NULL))
        return kga_err_set(err, KGA_EINVAL,
                           "tf-idf: name list without names or ext ids");
    name_source_t src[2] = {{NULL, left}, {NULL, right}};
    return tfidf_build(src, p, out, err);
}

const kga_csr_t *kga_tfidf_matrix(const kga_tfidf_t *t, int side)
{
    return &t->side[side == KGA_TFIDF_RIGHT];
}

const uint64_t *kga_tfidf_keys(const kga_tfidf_t *t, int side)
{
    return t->keys[side == KGA_TFIDF_RIGHT];
}

const kga_name_feature_params_t *kga_tfidf_params(const kga_tfidf_t *t)
{
    return &t->params;
}

float kga_tfidf_cosine(const kga_tfidf_t *t, uint32_t left, uint32_t right)
{
    return kga_csr_row_dot(&t->side[0], left, &t->side[1], right);
}

int kga_tfidf_vectorize(const kga_tfidf_t *t, const char *name,
                        uint32_t *buckets, float *values, size_t cap,
                        size_t *n)
{
    int rc = kga_name_features(name, &t->params, buckets, values, cap, n);
    if (rc == 0)
        weigh_row(t->idf, t->params.sublinear_tf, buckets, values, *n);
    return rc;
}

int kga_tfidf_topk(const kga_tfidf_t *t, int query_side,
                   const uint32_t *queries, size_t nq, const uint32_t *cands,
                   size_t nc, size_t k, int threads, uint32_t *out_idx,
                   float *out_score, kga_err_t *err)
{
    int q = query_side == KGA_TFIDF_RIGHT;
    if (cands == NULL)
        return kga_sparse_topk_indexed(&t->side[q], queries, nq,
                                       t->index[!q], k, threads, out_idx,
                                       out_score, err);
    return kga_sparse_topk(&t->side[q], queries, nq, &t->side[!q], cands, nc,
                           t->keys[!q], k, threads, out_idx, out_score, err);
}

int kga_tfidf_topk_blocked(const kga_tfidf_t *t, int query_side,
                           const uint32_t *queries, size_t nq,
                           const uint8_t *allowed, uint64_t budget,
                           size_t pool, size_t k, int threads,
                           uint32_t *out_idx, float *out_score,
                           kga_err_t *err)
{
    int q = query_side == KGA_TFIDF_RIGHT;
    kga_sparse_options_t opt = {allowed, budget, pool};
    return kga_sparse_topk_blocked(&t->side[q], queries, nq, t->index[!q],
                                   &t->side[!q], &opt, k, threads, out_idx,
                                   out_score, err);
}

size_t kga_tfidf_bytes(const kga_tfidf_t *t)
{
    size_t b = sizeof *t + ((size_t)1 << t->params.bucket_bits) * sizeof(float);
    for (int s = 0; s < 2; s++) {
        const kga_csr_t *m = &t->side[s];
        b += ((size_t)m->rows + 1) * sizeof(uint64_t) +
             (size_t)kga_csr_nnz(m) * (sizeof(uint32_t) + sizeof(float)) +
             (size_t)m->rows * sizeof(uint64_t) +
             kga_sparse_index_bytes(t->index[s]);
    }
    return b;
}

void kga_tfidf_free(kga_tfidf_t *t)
{
    if (t == NULL)
        return;
    for (int s = 0; s < 2; s++) {
        kga_sparse_index_free(t->index[s]);
        free(t->keys[s]);
        kga_csr_destroy(&t->side[s]);
    }
    free(t->idf);
    free(t);
}
