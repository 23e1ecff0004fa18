/* The name channel: normalisation, hashed features, the Latin form by ICU,
 * TF-IDF cosine over one or two forms and the exact sparse top-K search
 * behind name candidates. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/graph_builder.h"
#include "base/hash.h"
#include "base/pool.h"
#include "features/name_features.h"
#include "features/name_tfidf.h"
#include "features/sparse.h"
#include "features/translit.h"
#include "store/store.h"

#include "testutil.h"

/* For checks inside long loops: ck_assert records every passing check,
 * which makes loops of thousands slow; this one only acts on failure. */
#define REQUIRE(cond, ...)              \
    do {                                \
        if (!(cond))                    \
            ck_abort_msg(__VA_ARGS__);  \
    } while (0)

/* ---- normalisation -------------------------------------------------------- */

static const struct {
    const char *in;
    int strip;
    const char *out;
} norm_cases[] = {
    {"José María Aznar", 0, "josé maría aznar"},
    {"José María Aznar", 1, "jose maria aznar"},
    {"Armageddon (film, 1998)", 0, "armageddon film 1998"},
    {"  Hello,   World!! ", 0, "hello world"},
    {"L'Oréal", 1, "l oreal"},
    {"ÆSIR Straße Œuvre", 1, "aesir strasse oeuvre"},
    {"ÆSIR Straße", 0, "æsir straße"},
    {"ŁÓDŹ Čapek Ğ İstanbul", 0, "łódź čapek ğ istanbul"},
    {"ŁÓDŹ Čapek", 1, "lodz capek"},
    {"ΑΘΗΝΑ Άρης ΟΔΥΣΣΕΥΣ", 0, "αθηνα άρησ οδυσσευσ"}, /* ς folds to σ */
    {"Άρης", 1, "αρησ"},
    {"МОСКВА Ёлка", 0, "москва ёлка"},
    {"МОСКВА Ёлка", 1, "москва елка"},
    {"Ştefan cel Mare — “Vodă”", 1, "stefan cel mare voda"},
    {"e\xcc\x81t\xc3\xa9", 1, "ete"}, /* combining acute, then é */
    {"東京 タワー", 0, "東京 タワー"},
    {"", 0, ""},
    {"()--!!", 0, ""},
    {"a\xff\xfe" "b", 0, "a\xff\xfe" "b"},  /* invalid bytes kept */
    {"caf\xc3", 0, "caf\xc3"},              /* truncated sequence */
    {"\xc0\xaf x", 0, "\xc0\xaf x"},        /* overlong '/' */
    {"\xed\xa0\x80 A", 0, "\xed\xa0\x80 a"}, /* surrogate */
};

START_TEST(normalizes_examples)
{
    char out[256];
    size_t len;
    for (size_t i = 0; i < sizeof norm_cases / sizeof norm_cases[0]; i++) {
        ck_assert_int_eq(kga_name_normalize(norm_cases[i].in,
                                            norm_cases[i].strip, out,
                                            sizeof out, &len),
                         0);
        ck_assert_msg(strcmp(out, norm_cases[i].out) == 0,
                      "case %zu: \"%s\" -> \"%s\", expected \"%s\"", i,
                      norm_cases[i].in, out, norm_cases[i].out);
        ck_assert_uint_eq(len, strlen(out));
    }
}
END_TEST

START_TEST(normalize_reports_short_buffer)
{
    char out[6];
    size_t len;
    ck_assert_int_eq(kga_name_normalize("Hello World", 0, out, sizeof out,
                                        &len),
                     KGA_ERANGE);
    ck_assert_str_eq(out, "hello");
    ck_assert_int_eq(kga_name_normalize("Hello", 0, out, sizeof out, &len), 0);
    ck_assert_str_eq(out, "hello");
    ck_assert_int_eq(kga_name_normalize(NULL, 0, out, sizeof out, &len), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

/* Random bytes: no crash, output never longer than the input, features
 * sorted, distinct, in range, within the advertised bound. */
START_TEST(random_bytes_are_safe)
{
    kga_name_feature_params_t p;
    kga_name_feature_params_init(&p);
    p.accents = KGA_ACCENTS_BOTH;
    p.ngram_min = 1;
    p.ngram_max = 5;
    srand(7);
    char in[80], out[81];
    uint32_t buckets[2048];
    float weights[2048];
    for (int it = 0; it < 20000; it++) {
        size_t len = (size_t)(rand() % 79);
        for (size_t i = 0; i < len; i++) {
            int r = rand() % 8;
            in[i] = (char)(r == 0 ? ' ' : r == 1 ? 'a' + rand() % 3
                                               : 1 + rand() % 255);
        }
        in[len] = '\0';
        size_t olen, n;
        REQUIRE(kga_name_normalize(in, it & 1, out, strlen(in) + 1, &olen) ==
                    0,
                "iteration %d: normalize failed", it);
        REQUIRE(olen <= strlen(in), "iteration %d: output longer", it);
        size_t bound = kga_name_features_bound(strlen(in), &p);
        REQUIRE(bound <= 2048, "iteration %d: bound %zu", it, bound);
        REQUIRE(kga_name_features(in, &p, buckets, weights, bound, &n) == 0,
                "iteration %d: features failed", it);
        for (size_t i = 0; i < n; i++) {
            REQUIRE(buckets[i] < 1u << p.bucket_bits && weights[i] > 0.0f &&
                        (i == 0 || buckets[i - 1] < buckets[i]),
                    "iteration %d: feature %zu", it, i);
        }
    }
}
END_TEST

/* ---- features ------------------------------------------------------------- */

static float weight_sum(const char *name, const kga_name_feature_params_t *p)
{
    uint32_t b[512];
    float w[512], s = 0.0f;
    size_t n;
    ck_assert_int_eq(kga_name_features(name, p, b, w, 512, &n), 0);
    for (size_t i = 0; i < n; i++)
        s += w[i];
    return s;
}

/* Counts follow from the definition whatever the hash collisions:
 * per word, " ab cd " has six 2-grams and four 3-grams that stay inside a
 * word; over the whole name it has five 3-grams; plus two words. */
START_TEST(counts_ngrams_and_words)
{
    kga_name_feature_params_t p;
    kga_name_feature_params_init(&p);
    p.ngram_min = 2;
    p.ngram_max = 3;
    p.words = 1;
    p.word_weight = 1.0f;
    p.per_word = 1;
    ck_assert_float_eq(weight_sum("ab", &p), 3 + 2 + 1);
    ck_assert_float_eq(weight_sum("AB, cd", &p), 6 + 4 + 2);
    p.per_word = 0;
    ck_assert_float_eq(weight_sum("ab cd", &p), 6 + 5 + 2);
    p.words = 0;
    ck_assert_float_eq(weight_sum("ab cd", &p), 6 + 5);
    p.words = 1;
    p.word_weight = 0.5f;
    ck_assert_float_eq(weight_sum("ab cd", &p), 6 + 5 + 1);
    p.ngram_min = p.ngram_max = 4;
    ck_assert_float_eq(weight_sum("ab", &p), 1 + 0.5f);
    ck_assert_float_eq(weight_sum("", &p), 0);
    ck_assert_float_eq(weight_sum("?!", &p), 0);
    ck_assert_float_eq(weight_sum(NULL, &p), 0);
}
END_TEST

static int same_features(const char *a, const char *b,
                         const kga_name_feature_params_t *p)
{
    uint32_t ba[256], bb[256];
    float wa[256], wb[256];
    size_t na, nb;
    ck_assert_int_eq(kga_name_features(a, p, ba, wa, 256, &na), 0);
    ck_assert_int_eq(kga_name_features(b, p, bb, wb, 256, &nb), 0);
    return na == nb && memcmp(ba, bb, na * sizeof *ba) == 0 &&
           memcmp(wa, wb, na * sizeof *wa) == 0;
}

START_TEST(accent_modes)
{
    kga_name_feature_params_t p;
    kga_name_feature_params_init(&p);
    p.accents = KGA_ACCENTS_STRIP;
    ck_assert(same_features("JOSÉ maría", "jose, Maria", &p));
    ck_assert(same_features("José María", "jose maria", &p));
    p.accents = KGA_ACCENTS_KEEP;
    ck_assert(!same_features("José María", "jose maria", &p));
    ck_assert(same_features("JOSÉ", "josé", &p));
    /* Both spellings: an accent-free name counts once, an accented one
     * gets the bags of both spellings. */
    p.accents = KGA_ACCENTS_BOTH;
    kga_name_feature_params_t k = p;
    k.accents = KGA_ACCENTS_KEEP;
    ck_assert_float_eq(weight_sum("jose", &p), weight_sum("jose", &k));
    ck_assert_float_eq(weight_sum("josé", &p), 2 * weight_sum("josé", &k));
}
END_TEST

START_TEST(buckets_follow_bucket_bits)
{
    kga_name_feature_params_t p;
    kga_name_feature_params_init(&p);
    uint32_t b[256];
    float w[256];
    size_t n;
    for (uint32_t bits = 16; bits <= 20; bits++) {
        p.bucket_bits = bits;
        ck_assert_int_eq(kga_name_features("Jean-Paul Sartre", &p, b, w, 256,
                                           &n),
                         0);
        ck_assert_uint_gt(n, 20);
        for (size_t i = 0; i < n; i++)
            ck_assert_uint_lt(b[i], 1u << bits);
    }
}
END_TEST

START_TEST(rejects_bad_params_and_small_buffers)
{
    kga_name_feature_params_t p;
    kga_name_feature_params_init(&p);
    uint32_t b[4];
    float w[4];
    size_t n, need;
    kga_err_t err;
    ck_assert_int_eq(kga_name_feature_params_check(&p, &err), 0);
    ck_assert_int_eq(kga_name_features("abcdef", &p, b, w, 4, &need),
                     KGA_ERANGE);
    ck_assert_uint_gt(need, 4);
    uint32_t *bb = malloc(need * sizeof *bb);
    float *ww = malloc(need * sizeof *ww);
    ck_assert_int_eq(kga_name_features("abcdef", &p, bb, ww, need, &n), 0);
    ck_assert_uint_eq(n, need);
    free(ww);
    free(bb);

    kga_name_feature_params_t q = p;
    q.bucket_bits = 15;
    ck_assert_int_eq(kga_name_feature_params_check(&q, &err), KGA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "bucket_bits"));
    ck_assert_int_eq(kga_name_features("x", &q, b, w, 4, &n), KGA_EINVAL);
    q = p;
    q.bucket_bits = 21;
    ck_assert_int_eq(kga_name_feature_params_check(&q, NULL), KGA_EINVAL);
    q = p;
    q.ngram_min = 0;
    ck_assert_int_eq(kga_name_feature_params_check(&q, NULL), KGA_EINVAL);
    q = p;
    q.ngram_min = 4;
    q.ngram_max = 3;
    ck_assert_int_eq(kga_name_feature_params_check(&q, NULL), KGA_EINVAL);
    q = p;
    q.ngram_max = KGA_NAME_MAX_NGRAM + 1;
    ck_assert_int_eq(kga_name_feature_params_check(&q, NULL), KGA_EINVAL);
    q = p;
    q.word_weight = NAN;
    ck_assert_int_eq(kga_name_feature_params_check(&q, NULL), KGA_EINVAL);
    q = p;
    q.accents = (kga_accents_t)7;
    ck_assert_int_eq(kga_name_feature_params_check(&q, NULL), KGA_EINVAL);
}
END_TEST

/* Only the first KGA_NAME_MAX_BYTES bytes count, cut before a character
 * is split. */
START_TEST(long_names_are_cut)
{
    kga_name_feature_params_t p;
    kga_name_feature_params_init(&p);
    /* "x" then é and " a": the limit falls inside an é. */
    size_t big = 3 * KGA_NAME_MAX_BYTES + 1;
    char *a = malloc(big + 1), *b = malloc(big + 1);
    a[0] = 'x';
    for (size_t i = 1; i < big; i += 2)
        memcpy(a + i, i % 14 == 7 ? " a" : "\xc3\xa9", 2);
    a[big] = '\0';
    ck_assert_int_eq((unsigned char)a[KGA_NAME_MAX_BYTES], 0xA9);
    memcpy(b, a, big + 1);
    b[KGA_NAME_MAX_BYTES - 1] = '\0';
    char saved = a[KGA_NAME_MAX_BYTES + 1];
    a[KGA_NAME_MAX_BYTES + 1] = '\0';
    size_t bound = kga_name_features_bound(big, &p);
    uint32_t *ba = malloc(bound * sizeof *ba), *bb = malloc(bound * 4);
    float *wa = malloc(bound * sizeof *wa), *wb = malloc(bound * 4);
    size_t na, nb;
    for (int pass = 0; pass < 2; pass++) {
        ck_assert_int_eq(kga_name_features(a, &p, ba, wa, bound, &na), 0);
        ck_assert_int_eq(kga_name_features(b, &p, bb, wb, bound, &nb), 0);
        ck_assert_uint_eq(na, nb);
        ck_assert(memcmp(ba, bb, na * 4) == 0 && memcmp(wa, wb, na * 4) == 0);
        a[KGA_NAME_MAX_BYTES + 1] = saved; /* now the whole long name */
    }
    free(wb);
    free(wa);
    free(bb);
    free(ba);
    free(b);
    free(a);
}
END_TEST

/* ---- TF-IDF --------------------------------------------------------------- */

static kga_tfidf_t *build(const char *const *ln, const char *const *lx,
                          uint32_t nl, const char *const *rn,
                          const char *const *rx, uint32_t nr)
{
    kga_name_feature_params_t p;
    kga_name_feature_params_init(&p);
    kga_name_list_t l = {nl, ln, lx}, r = {nr, rn, rx};
    kga_tfidf_t *t = NULL;
    kga_err_t err;
    ck_assert_msg(kga_tfidf_build_lists(&l, &r, &p, NULL, &t, &err) == 0,
                  "%s", err.msg);
    return t;
}

START_TEST(tfidf_cosines)
{
    const char *ln[] = {"Aditya Raj", "Jean Dupont", "", "qwx"};
    const char *lx[] = {"L:a", "L:b", "L:c", "L:d"};
    const char *rn[] = {"Aditya Raj Kapoor", "Raj Kumar", "jean DUPONT",
                        "Mont Blanc", NULL, "zzvy"};
    const char *rx[] = {"R:a", "R:b", "R:c", "R:d", "R:e", "R:f"};
    kga_tfidf_t *t = build(ln, lx, 4, rn, rx, 6);

    ck_assert_float_eq_tol(kga_tfidf_cosine(t, 1, 2), 1.0f, 1e-6f);
    ck_assert_float_eq(kga_tfidf_cosine(t, 3, 5), 0.0f); /* disjoint */
    float kapoor = kga_tfidf_cosine(t, 0, 0), kumar = kga_tfidf_cosine(t, 0, 1);
    ck_assert_msg(kapoor > kumar && kumar > 0.0f, "%g %g", (double)kapoor,
                  (double)kumar);
    ck_assert_float_eq(kga_tfidf_cosine(t, 2, 2), 0.0f); /* empty name */
    ck_assert_float_eq(kga_tfidf_cosine(t, 0, 4), 0.0f);

    /* Rows are L2-normalised; empty names give empty rows. */
    for (int side = 0; side < 2; side++) {
        const kga_csr_t *m = kga_tfidf_matrix(t, side);
        ck_assert_int_eq(kga_csr_validate(m, NULL), 0);
        ck_assert_uint_eq(m->rows, side == KGA_TFIDF_LEFT ? 4 : 6);
        ck_assert_uint_eq(m->cols, (uint32_t)kga_tfidf_forms(t)
                                       << kga_tfidf_params(t)->bucket_bits);
        for (uint32_t r = 0; r < m->rows; r++) {
            double ss = 0;
            for (uint64_t x = m->indptr[r]; x < m->indptr[r + 1]; x++)
                ss += (double)m->data[x] * m->data[x];
            int empty = (side == 0 && r == 2) || (side == 1 && r == 4);
            ck_assert_double_eq_tol(ss, empty ? 0.0 : 1.0, 1e-5);
        }
    }

    /* A name vectorised afterwards gets the row it would have had. */
    const kga_csr_t *L = kga_tfidf_matrix(t, KGA_TFIDF_LEFT);
    uint32_t b[256];
    float v[256];
    size_t n;
    ck_assert_int_eq(kga_tfidf_vectorize(t, "Jean Dupont", b, v, 256, &n), 0);
    ck_assert_uint_eq(n, L->indptr[2] - L->indptr[1]);
    ck_assert(memcmp(b, L->indices + L->indptr[1], n * sizeof *b) == 0);
    ck_assert(memcmp(v, L->data + L->indptr[1], n * sizeof *v) == 0);
    kga_tfidf_free(t);
}
END_TEST

/* IDF is counted over both graphs: a word frequent only on the right still
 * weighs less in a left row than a rare one. */
START_TEST(tfidf_idf_spans_both_sides)
{
    kga_name_feature_params_t p;
    kga_name_feature_params_init(&p);
    const char *ln[] = {"xq zw"};
    const char *lx[] = {"l"};
    enum { NR = 30 };
    char rbuf[NR][16], xbuf[NR][16];
    const char *rn[NR], *rx[NR];
    for (int i = 0; i < NR; i++) {
        snprintf(rbuf[i], sizeof rbuf[i], "zw %c%c", 'a' + i % 26,
                 'a' + i / 26);
        snprintf(xbuf[i], sizeof xbuf[i], "r%d", i);
        rn[i] = rbuf[i];
        rx[i] = xbuf[i];
    }
    kga_tfidf_t *t = build(ln, lx, 1, rn, rx, NR);
    const kga_csr_t *L = kga_tfidf_matrix(t, KGA_TFIDF_LEFT);
    uint32_t bx[64], bz[64];
    float w[64];
    size_t nx, nz;
    ck_assert_int_eq(kga_name_features("xq", &p, bx, w, 64, &nx), 0);
    ck_assert_int_eq(kga_name_features("zw", &p, bz, w, 64, &nz), 0);
    float min_x = INFINITY, max_z = 0;
    for (uint64_t x = L->indptr[0]; x < L->indptr[1]; x++) {
        int in_x = 0, in_z = 0;
        for (size_t i = 0; i < nx; i++)
            in_x |= bx[i] == L->indices[x];
        for (size_t i = 0; i < nz; i++)
            in_z |= bz[i] == L->indices[x];
        if (in_x && !in_z && L->data[x] < min_x)
            min_x = L->data[x];
        if (in_z && !in_x && L->data[x] > max_z)
            max_z = L->data[x];
    }
    ck_assert(max_z > 0 && min_x < INFINITY);
    ck_assert_msg(min_x > 1.5f * max_z, "%g %g", (double)min_x,
                  (double)max_z);
    kga_tfidf_free(t);
}
END_TEST

/* Equal names on the right: the order follows the hash of the external id,
 * not the internal id, whatever order the entities were listed in. */
START_TEST(tfidf_ties_follow_external_ids)
{
    const char *ln[] = {"Paris"};
    const char *lx[] = {"l"};
    const char *rn[] = {"Paris", "Paris", "Paris"};
    const char *rx[] = {"http://x/Paris_(a)", "http://x/Paris_(b)",
                        "http://x/Paris_(c)"};
    const char *rn2[] = {"Paris", "Paris", "Paris"};
    const char *rx2[] = {rx[2], rx[1], rx[0]};
    uint64_t h[3];
    for (int i = 0; i < 3; i++)
        h[i] = kga_hash64(rx[i], strlen(rx[i]));
    int order[3] = {0, 1, 2};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (h[order[j]] < h[order[i]]) {
                int x = order[i];
                order[i] = order[j];
                order[j] = x;
            }

    for (int pass = 0; pass < 2; pass++) {
        kga_tfidf_t *t = pass == 0 ? build(ln, lx, 1, rn, rx, 3)
                                   : build(ln, lx, 1, rn2, rx2, 3);
        const char *const *ext = pass == 0 ? rx : rx2;
        uint32_t idx[4];
        float sc[4];
        ck_assert_int_eq(kga_tfidf_topk(t, KGA_TFIDF_LEFT, NULL, 0, NULL, 0,
                                        4, 1, idx, sc, NULL),
                         0);
        for (int i = 0; i < 3; i++) {
            ck_assert_str_eq(ext[idx[i]], rx[order[i]]);
            ck_assert_float_eq(sc[i], sc[0]);
        }
        ck_assert_uint_eq(idx[3], UINT32_MAX);
        ck_assert(isinf(sc[3]) && sc[3] < 0);
        kga_tfidf_free(t);
    }
}
END_TEST

START_TEST(tfidf_topk_both_directions_with_allowed_set)
{
    const char *ln[] = {"Aditya Raj", "Jean Dupont", "Mont Blanc"};
    const char *lx[] = {"l0", "l1", "l2"};
    const char *rn[] = {"Raj Kumar", "Aditya Raj Kapoor", "Jean Dupont",
                        "Blanc Mont"};
    const char *rx[] = {"r0", "r1", "r2", "r3"};
    kga_tfidf_t *t = build(ln, lx, 3, rn, rx, 4);
    uint32_t idx[6];
    float sc[6];
    kga_err_t err;
    ck_assert_int_eq(kga_tfidf_topk(t, KGA_TFIDF_LEFT, NULL, 0, NULL, 0, 2,
                                    2, idx, sc, &err),
                     0);
    ck_assert_uint_eq(idx[0], 1);
    ck_assert_uint_eq(idx[1], 0);
    ck_assert_float_eq(sc[0], kga_tfidf_cosine(t, 0, 1));
    ck_assert_uint_eq(idx[2], 2);
    ck_assert_uint_eq(idx[4], 3);
    /* Restricted to r0 and r2, and from the right side. */
    uint32_t allowed[] = {2, 0}, q[] = {1};
    ck_assert_int_eq(kga_tfidf_topk(t, KGA_TFIDF_LEFT, q, 1, allowed, 2, 2,
                                    1, idx, sc, &err),
                     0);
    ck_assert_uint_eq(idx[0], 2);
    ck_assert_float_eq(sc[0], kga_tfidf_cosine(t, 1, 2));
    uint32_t rq[] = {3};
    ck_assert_int_eq(kga_tfidf_topk(t, KGA_TFIDF_RIGHT, rq, 1, NULL, 0, 1, 1,
                                    idx, sc, &err),
                     0);
    ck_assert_uint_eq(idx[0], 2);
    ck_assert_float_eq(sc[0], kga_tfidf_cosine(t, 2, 3));
    kga_tfidf_free(t);
}
END_TEST

START_TEST(tfidf_from_stores)
{
    const char *lx[] = {"fr:Jose", "fr:Lyon", "fr:Anon"};
    const char *ln[] = {"José María Aznar", "Lyon", NULL};
    const char *rx[] = {"en:Lyon", "en:Jose", "en:Paris"};
    const char *rn[] = {"Lyon", "Jose Maria Aznar", "Paris"};
    kga_graph_builder_t *b[2];
    for (int s = 0; s < 2; s++) {
        b[s] = kga_graph_builder_new();
        for (int i = 0; i < 3; i++) {
            uint32_t e;
            ck_assert_int_eq(
                kga_graph_builder_entity(b[s], s ? rx[i] : lx[i], &e, NULL), 0);
            const char *name = s ? rn[i] : ln[i];
            if (name != NULL)
                ck_assert_int_eq(kga_graph_builder_set_name(b[s], e, name), 0);
        }
    }
    kga_test_stores_t st;
    kga_test_stores_write(&st, "names", b);
    kga_graph_builder_free(b[0]);
    kga_graph_builder_free(b[1]);
    const kga_store_t *ls = st.s[0], *rs = st.s[1];
    kga_err_t err;
    kga_name_feature_params_t p;
    kga_name_feature_params_init(&p);
    kga_tfidf_t *t;
    ck_assert_msg(kga_tfidf_build(ls, rs, &p, NULL, &t, &err) == 0, "%s",
                  err.msg);
    uint32_t jl = (uint32_t)kga_store_lookup(ls, "fr:Jose");
    uint32_t jr = (uint32_t)kga_store_lookup(rs, "en:Jose");
    uint32_t al = (uint32_t)kga_store_lookup(ls, "fr:Anon");
    ck_assert_float_eq_tol(kga_tfidf_cosine(t, jl, jr), 1.0f, 1e-6f);
    const kga_csr_t *L = kga_tfidf_matrix(t, KGA_TFIDF_LEFT);
    ck_assert_uint_eq(L->indptr[al + 1], L->indptr[al]);
    const uint64_t *keys = kga_tfidf_keys(t, KGA_TFIDF_RIGHT);
    ck_assert_uint_eq(keys[jr], kga_hash64("en:Jose", 7));
    uint32_t idx[3];
    float sc[3];
    ck_assert_int_eq(kga_tfidf_topk(t, KGA_TFIDF_LEFT, &jl, 1, NULL, 0, 3, 2,
                                    idx, sc, &err),
                     0);
    ck_assert_uint_eq(idx[0], jr);
    kga_tfidf_free(t);
    kga_test_stores_close(&st);
}
END_TEST

/* ---- the Latin form ------------------------------------------------------ */

static const struct {
    const char *in, *out;
} latin_examples[] = {
    {"バラク・オバマ", "baraku obama"}, /* the middle dot becomes a space */
    {"Barack Obama", "Barack Obama"},  /* ASCII: never reaches ICU */
    {"Москва", "Moskva"},
    {"Αθήνα", "Athena"},
    {"서울", "seoul"},
    {"北京", "bei jing"},              /* Han: pinyin, whatever the language */
    {"Zürich Straße", "Zurich Strasse"},
    {"ｶﾀｶﾅ", "katakana"},              /* half-width katakana */
    {"", ""},
};

START_TEST(latin_forms)
{
    kga_translit_t *t;
    kga_err_t err;
    ck_assert_msg(kga_translit_new(&t, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < sizeof latin_examples / sizeof latin_examples[0];
         i++) {
        size_t len;
        const char *o = kga_translit_name(t, latin_examples[i].in, &len);
        ck_assert_ptr_nonnull(o);
        ck_assert_str_eq(o, latin_examples[i].out);
        ck_assert_uint_eq(len, strlen(latin_examples[i].out));
    }
    /* NULL is the empty name; a byte that is not UTF-8 is U+FFFD. */
    ck_assert_str_eq(kga_translit_name(t, NULL, NULL), "");
    ck_assert_str_eq(kga_translit_name(t, "a\xff\xd0\x91", NULL),
                     "a\xef\xbf\xbd" "B");
    /* Only the first KGA_TRANSLIT_MAX_BYTES bytes are read, cut before a
     * character: 1000 x "ж" (2 bytes each) = 2000 bytes, then 47 ASCII
     * bytes and "ю" across the limit, at 2047..2048. */
    size_t cap = 2 * KGA_TRANSLIT_MAX_BYTES + 8, at = 0;
    char *longname = malloc(cap);
    ck_assert_ptr_nonnull(longname);
    for (int i = 0; i < 1000; i++, at += 2)
        memcpy(longname + at, "\xd0\xb6", 2);
    memset(longname + at, 'x', 47);
    at += 47;
    memcpy(longname + at, "\xd1\x8e", 2);
    at += 2;
    memset(longname + at, 'y', 100);
    longname[at + 100] = '\0';
    size_t len;
    const char *o = kga_translit_name(t, longname, &len);
    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(len, 1000 + 47); /* z per letter, the x's, no yu */
    ck_assert(strncmp(o, "zzzz", 4) == 0);
    ck_assert(o[len - 1] == 'x');
    free(longname);
    kga_translit_free(t);
}
END_TEST

/* The table gives every name its form, the same on any number of
 * threads. */
START_TEST(latin_table_on_threads)
{
    enum { N = 700 };
    static const char *const pool_names[] = {"ゲーム", "Лев Толстой", NULL,
                                             "plain", "東京タワー"};
    const char *names[N];
    for (int i = 0; i < N; i++)
        names[i] = pool_names[i % 5];
    kga_err_t err;
    kga_translit_table_t *one, *two;
    kga_pool_t *pool;
    ck_assert_int_eq(kga_pool_new(2, &pool), 0);
    ck_assert_msg(kga_translit_table_new(names, N, NULL, &one, &err) == 0,
                  "%s", err.msg);
    ck_assert_msg(kga_translit_table_new(names, N, pool, &two, &err) == 0,
                  "%s", err.msg);
    const char *const *a = kga_translit_table_forms(one);
    const char *const *b = kga_translit_table_forms(two);
    for (int i = 0; i < N; i++) {
        if (names[i] == NULL) {
            REQUIRE(a[i] == NULL && b[i] == NULL, "name %d", i);
            continue;
        }
        REQUIRE(a[i] != NULL && b[i] != NULL && strcmp(a[i], b[i]) == 0,
                "name %d", i);
    }
    ck_assert_str_eq(a[1], "Lev Tolstoj");
    ck_assert_str_eq(a[3], "plain");
    kga_translit_table_free(two);
    kga_translit_table_free(one);
    kga_pool_free(pool);
}
END_TEST

/* Names in different scripts meet in their Latin forms; the translit
 * weight mixes the two cosines, and a weight of 0 leaves the name's own
 * rows exactly. */
START_TEST(tfidf_latin_form_weight)
{
    const char *ln[] = {"バラク・オバマ", "ジョージ・リンチ", "Tokyo"};
    const char *lx[] = {"l0", "l1", "l2"};
    const char *rn[] = {"Barack Obama", "George Lynch", "Tokyo",
                        "Obama Beach"};
    const char *rx[] = {"r0", "r1", "r2", "r3"};
    kga_tfidf_t *t = build(ln, lx, 3, rn, rx, 4);
    kga_err_t err;
    ck_assert_int_eq(kga_tfidf_forms(t), 2);
    uint32_t idx[3];
    float sc[3];
    ck_assert_float_eq(kga_tfidf_translit_weight(t), 0.0f);
    float c0 = kga_tfidf_cosine(t, 0, 0), tokyo0 = kga_tfidf_cosine(t, 2, 2);
    ck_assert_float_eq(c0, 0.0f); /* no shared n-gram across scripts */
    ck_assert_float_eq_tol(tokyo0, 1.0f, 1e-6f);
    ck_assert_msg(kga_tfidf_set_translit_weight(t, 1.0f, &err) == 0, "%s",
                  err.msg);
    float c1 = kga_tfidf_cosine(t, 0, 0), tokyo1 = kga_tfidf_cosine(t, 2, 2);
    ck_assert_msg(c1 > 0.3f && c1 > kga_tfidf_cosine(t, 0, 1), "%g",
                  (double)c1);
    ck_assert_int_eq(kga_tfidf_topk(t, KGA_TFIDF_LEFT, NULL, 0, NULL, 0, 1,
                                    1, idx, sc, &err),
                     0);
    ck_assert_uint_eq(idx[0], 0); /* baraku obama -> Barack Obama */
    ck_assert_uint_eq(idx[1], 1); /* joji rinchi -> George Lynch */
    ck_assert_msg(kga_tfidf_set_translit_weight(t, 0.25f, &err) == 0, "%s",
                  err.msg);
    ck_assert_float_eq_tol(kga_tfidf_cosine(t, 0, 0), 0.75f * c0 + 0.25f * c1,
                           1e-5f);
    ck_assert_float_eq_tol(kga_tfidf_cosine(t, 2, 2),
                           0.75f * tokyo0 + 0.25f * tokyo1, 1e-5f);
    /* A new name is vectorised with both forms, as the built rows. */
    const kga_csr_t *L = kga_tfidf_matrix(t, KGA_TFIDF_LEFT);
    uint32_t b[512];
    float v[512];
    size_t n;
    ck_assert_int_eq(kga_tfidf_vectorize(t, ln[0], b, v, 512, &n), 0);
    ck_assert_uint_eq(n, L->indptr[1] - L->indptr[0]);
    ck_assert(memcmp(b, L->indices, n * sizeof *b) == 0);
    for (size_t x = 0; x < n; x++)
        ck_assert_float_eq_tol(v[x], L->data[x], 1e-6f);
    size_t need;
    ck_assert_int_eq(kga_tfidf_vectorize(t, ln[0], b, v, 3, &need),
                     KGA_ERANGE);
    ck_assert_uint_eq(need, n);
    /* Back to 0: the name's own rows, bit for bit. */
    kga_tfidf_t *plain;
    kga_name_feature_params_t p;
    kga_name_feature_params_init(&p);
    p.translit = 0;
    kga_name_list_t l = {3, ln, lx}, r = {4, rn, rx};
    ck_assert_int_eq(kga_tfidf_build_lists(&l, &r, &p, NULL, &plain, &err),
                     0);
    ck_assert_int_eq(kga_tfidf_forms(plain), 1);
    ck_assert_int_eq(kga_tfidf_set_translit_weight(t, 0.0f, &err), 0);
    for (int side = 0; side < 2; side++) {
        const kga_csr_t *x = kga_tfidf_matrix(t, side);
        const kga_csr_t *y = kga_tfidf_matrix(plain, side);
        ck_assert_uint_eq(kga_csr_nnz(x), kga_csr_nnz(y));
        ck_assert(memcmp(x->indptr, y->indptr,
                         (x->rows + 1) * sizeof *x->indptr) == 0);
        ck_assert(memcmp(x->data, y->data, kga_csr_nnz(x) * sizeof(float)) ==
                  0);
    }
    /* Weights outside [0, 1], or above 0 with one form, are refused and
     * change nothing. */
    ck_assert_int_eq(kga_tfidf_set_translit_weight(t, 1.5f, &err),
                     KGA_EINVAL);
    ck_assert_int_eq(kga_tfidf_set_translit_weight(t, -0.1f, &err),
                     KGA_EINVAL);
    ck_assert_int_eq(kga_tfidf_set_translit_weight(t, NAN, &err),
                     KGA_EINVAL);
    ck_assert_int_eq(kga_tfidf_set_translit_weight(plain, 0.5f, &err),
                     KGA_EINVAL);
    ck_assert_float_eq(kga_tfidf_translit_weight(t), 0.0f);
    /* Fixed at 0.25: the forms' rows go, the weighted rows, cosines and
     * new names' vectors stay, and the weight can change no more. */
    ck_assert_int_eq(kga_tfidf_set_translit_weight(t, 0.25f, &err), 0);
    size_t before = kga_tfidf_bytes(t);
    float c25 = kga_tfidf_cosine(t, 0, 0);
    kga_tfidf_fix_weight(t);
    ck_assert_uint_lt(kga_tfidf_bytes(t), before);
    ck_assert_float_eq(kga_tfidf_cosine(t, 0, 0), c25);
    ck_assert_int_eq(kga_tfidf_vectorize(t, ln[0], b, v, 512, &n), 0);
    L = kga_tfidf_matrix(t, KGA_TFIDF_LEFT);
    ck_assert_uint_eq(n, L->indptr[1] - L->indptr[0]);
    for (size_t x = 0; x < n; x++)
        ck_assert_float_eq_tol(v[x], L->data[x], 1e-6f);
    ck_assert_int_eq(kga_tfidf_set_translit_weight(t, 0.5f, &err),
                     KGA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "fixed"));
    ck_assert_float_eq(kga_tfidf_translit_weight(t), 0.25f);
    kga_tfidf_free(plain);
    p.translit = 2;
    ck_assert_int_eq(kga_tfidf_build_lists(&l, &r, &p, NULL, &plain, &err),
                     KGA_EINVAL);
    ck_assert_ptr_null(plain);
    kga_tfidf_free(t);
}
END_TEST

/* ---- sparse top-K ---------------------------------------------------------- */

static uint32_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

/* A random matrix; values from a small set so that equal scores are
 * common, or (spread) from a continuum. */
static void random_csr(kga_csr_t *m, uint32_t rows, uint32_t cols,
                       uint32_t max_nnz, int negative, int spread,
                       uint64_t *seed)
{
    static const float small[] = {0.25f, 0.5f, 1.0f, 2.0f, -0.5f, -1.0f};
    ck_assert_int_eq(kga_csr_init(m, rows, cols, (uint64_t)rows * max_nnz), 0);
    uint64_t nnz = 0;
    for (uint32_t r = 0; r < rows; r++) {
        uint32_t want = lcg(seed) % (max_nnz + 1);
        for (uint32_t c = 0; c < cols && want > 0; c++)
            if (lcg(seed) % cols < want * 2) {
                m->indices[nnz] = c;
                m->data[nnz] = spread ? (float)(lcg(seed) % 1000 + 1) / 997.0f
                                      : small[lcg(seed) % (negative ? 6 : 4)];
                if (spread && negative && lcg(seed) % 3 == 0)
                    m->data[nnz] = -m->data[nnz];
                nnz++;
                want--;
            }
        m->indptr[r + 1] = nnz;
    }
    ck_assert_int_eq(kga_csr_validate(m, NULL), 0);
}

typedef struct {
    float score;
    uint64_t key;
    uint32_t row;
} ref_hit_t;

static int ref_cmp(const void *a, const void *b)
{
    const ref_hit_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

static int rows_share_a_column(const kga_csr_t *a, uint32_t i,
                               const kga_csr_t *b, uint32_t j)
{
    for (uint64_t x = a->indptr[i]; x < a->indptr[i + 1]; x++)
        for (uint64_t y = b->indptr[j]; y < b->indptr[j + 1]; y++)
            if (a->indices[x] == b->indices[y])
                return 1;
    return 0;
}

/* Brute force: every allowed candidate that shares a column, sorted. */
static void check_against_brute_force(const kga_csr_t *Q, const uint32_t *qr,
                                      size_t nq, const kga_csr_t *C,
                                      const uint32_t *cr, size_t nc,
                                      const uint64_t *keys, size_t k,
                                      const uint32_t *idx, const float *sc)
{
    ref_hit_t *h = malloc((C->rows + 1) * sizeof *h);
    if (cr == NULL)
        nc = C->rows;
    for (size_t q = 0; q < nq; q++) {
        uint32_t row = qr != NULL ? qr[q] : (uint32_t)q;
        size_t n = 0;
        for (size_t p = 0; p < nc; p++) {
            uint32_t c = cr != NULL ? cr[p] : (uint32_t)p;
            if (!rows_share_a_column(Q, row, C, c))
                continue;
            h[n].score = kga_csr_row_dot(Q, row, C, c);
            h[n].key = keys[c];
            h[n].row = c;
            n++;
        }
        qsort(h, n, sizeof *h, ref_cmp);
        for (size_t s = 0; s < k; s++) {
            uint32_t got = idx[q * k + s];
            float score = sc[q * k + s];
            if (s < n)
                REQUIRE(got == h[s].row &&
                            memcmp(&score, &h[s].score, sizeof score) == 0,
                        "query %zu slot %zu: row %u score %g, expected row %u "
                        "score %g",
                        q, s, got, (double)score, h[s].row,
                        (double)h[s].score);
            else
                REQUIRE(got == UINT32_MAX && isinf(score) && score < 0,
                        "query %zu slot %zu: not padded", q, s);
        }
    }
    free(h);
}

START_TEST(topk_matches_brute_force)
{
    uint64_t seed = 12345;
    static const size_t ks[] = {1, 3, 17, 500};
    for (int variant = 0; variant < 6; variant++) {
        int negative = variant & 1, spread = (variant >> 1) & 1;
        uint32_t cols = variant >= 4 ? 300 : 24;
        kga_csr_t Q, C;
        random_csr(&Q, 70, cols, 6, negative, spread, &seed);
        random_csr(&C, 150, cols, 7, negative, spread, &seed);
        uint64_t keys[150];
        for (int i = 0; i < 150; i++) /* some equal keys: row decides */
            keys[i] = variant == 5 ? (uint64_t)(i % 4) : lcg(&seed);
        uint32_t qr[40], cr[90];
        for (int i = 0; i < 40; i++)
            qr[i] = lcg(&seed) % 70;
        /* A random subset of the candidates, in random order. */
        uint32_t perm[150];
        for (uint32_t i = 0; i < 150; i++)
            perm[i] = i;
        for (uint32_t i = 149; i > 0; i--) {
            uint32_t j = lcg(&seed) % (i + 1), x = perm[i];
            perm[i] = perm[j];
            perm[j] = x;
        }
        memcpy(cr, perm, sizeof cr);
        for (size_t ki = 0; ki < 4; ki++) {
            size_t k = ks[ki];
            uint32_t *idx = malloc(70 * k * sizeof *idx);
            float *sc = malloc(70 * k * sizeof *sc);
            kga_err_t err;
            ck_assert_msg(kga_sparse_topk(&Q, qr, 40, &C, cr, 90, keys, k,
                                          2, idx, sc, &err) == 0,
                          "%s", err.msg);
            check_against_brute_force(&Q, qr, 40, &C, cr, 90, keys, k, idx,
                                      sc);
            ck_assert_int_eq(kga_sparse_topk(&Q, NULL, 0, &C, NULL, 0, keys,
                                             k, 3, idx, sc, &err),
                             0);
            check_against_brute_force(&Q, NULL, 70, &C, NULL, 0, keys, k,
                                      idx, sc);
            /* The prebuilt index gives the same results, bit for bit. */
            kga_sparse_index_t *ix;
            ck_assert_int_eq(kga_sparse_index_new(&C, keys, &ix, &err), 0);
            uint32_t *idx2 = malloc(70 * k * sizeof *idx2);
            float *sc2 = malloc(70 * k * sizeof *sc2);
            ck_assert_int_eq(kga_sparse_topk_indexed(&Q, NULL, 0, ix, k, 2,
                                                     idx2, sc2, &err),
                             0);
            ck_assert(memcmp(idx, idx2, 70 * k * sizeof *idx) == 0);
            ck_assert(memcmp(sc, sc2, 70 * k * sizeof *sc) == 0);
            ck_assert_int_eq(kga_sparse_topk_indexed(&Q, qr, 40, ix, k, 1,
                                                     idx2, sc2, &err),
                             0);
            check_against_brute_force(&Q, qr, 40, &C, NULL, 0, keys, k, idx2,
                                      sc2);
            kga_sparse_index_free(ix);
            free(sc2);
            free(idx2);
            free(sc);
            free(idx);
        }
        kga_csr_destroy(&C);
        kga_csr_destroy(&Q);
    }
}
END_TEST

START_TEST(topk_same_for_any_thread_count)
{
    uint64_t seed = 99;
    kga_csr_t Q, C;
    random_csr(&Q, 700, 40, 8, 0, 0, &seed);
    random_csr(&C, 400, 40, 8, 0, 0, &seed);
    uint64_t keys[400];
    for (int i = 0; i < 400; i++)
        keys[i] = lcg(&seed);
    enum { K = 9 };
    uint32_t *i1 = malloc(700 * K * sizeof *i1), *i2 = malloc(700 * K * 4);
    float *s1 = malloc(700 * K * sizeof *s1), *s2 = malloc(700 * K * 4);
    ck_assert_int_eq(kga_sparse_topk(&Q, NULL, 0, &C, NULL, 0, keys, K, 1,
                                     i1, s1, NULL),
                     0);
    static const int threads[] = {0, 2, 3, 7, 64, 1000};
    for (int t = 0; t < 6; t++) {
        memset(i2, 0xAB, 700 * K * 4);
        ck_assert_int_eq(kga_sparse_topk(&Q, NULL, 0, &C, NULL, 0, keys, K,
                                         threads[t], i2, s2, NULL),
                         0);
        ck_assert(memcmp(i1, i2, 700 * K * 4) == 0);
        ck_assert(memcmp(s1, s2, 700 * K * 4) == 0);
    }
    free(s2);
    free(s1);
    free(i2);
    free(i1);
    kga_csr_destroy(&C);
    kga_csr_destroy(&Q);
}
END_TEST

/* Six identical candidates: the keys order them, the row ids do not. */
START_TEST(topk_ties_follow_keys_not_rows)
{
    kga_csr_t Q, C;
    ck_assert_int_eq(kga_csr_init(&Q, 1, 8, 2), 0);
    Q.indices[0] = 1, Q.data[0] = 0.5f;
    Q.indices[1] = 5, Q.data[1] = 0.5f;
    Q.indptr[1] = 2;
    ck_assert_int_eq(kga_csr_init(&C, 6, 8, 6), 0);
    for (uint32_t r = 0; r < 6; r++) {
        C.indices[r] = 5;
        C.data[r] = 1.0f;
        C.indptr[r + 1] = r + 1;
    }
    uint64_t keys[6] = {60, 10, 50, 20, 40, 30};
    uint32_t idx[6];
    float sc[6];
    ck_assert_int_eq(kga_sparse_topk(&Q, NULL, 0, &C, NULL, 0, keys, 6, 1,
                                     idx, sc, NULL),
                     0);
    static const uint32_t want[6] = {1, 3, 5, 4, 2, 0};
    for (int i = 0; i < 6; i++) {
        ck_assert_uint_eq(idx[i], want[i]);
        ck_assert_float_eq(sc[i], 0.5f);
    }
    /* A better score still wins over a better key. */
    C.data[0] = 2.0f;
    ck_assert_int_eq(kga_sparse_topk(&Q, NULL, 0, &C, NULL, 0, keys, 2, 1,
                                     idx, sc, NULL),
                     0);
    ck_assert_uint_eq(idx[0], 0);
    ck_assert_uint_eq(idx[1], 1);
    kga_csr_destroy(&C);
    kga_csr_destroy(&Q);
}
END_TEST

START_TEST(topk_rejects_bad_input)
{
    kga_csr_t Q, C, D;
    ck_assert_int_eq(kga_csr_init(&Q, 2, 8, 0), 0);
    ck_assert_int_eq(kga_csr_init(&C, 3, 8, 0), 0);
    ck_assert_int_eq(kga_csr_init(&D, 3, 9, 0), 0);
    uint32_t idx[4];
    float sc[4];
    kga_err_t err;
    ck_assert_int_eq(kga_sparse_topk(&Q, NULL, 0, &D, NULL, 0, NULL, 2, 1,
                                     idx, sc, &err),
                     KGA_EINVAL);
    uint32_t bad_q[] = {2};
    ck_assert_int_eq(kga_sparse_topk(&Q, bad_q, 1, &C, NULL, 0, NULL, 2, 1,
                                     idx, sc, &err),
                     KGA_EINVAL);
    uint32_t rep[] = {1, 0, 1}, out_of_range[] = {3};
    ck_assert_int_eq(kga_sparse_topk(&Q, NULL, 0, &C, rep, 3, NULL, 2, 1,
                                     idx, sc, &err),
                     KGA_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "repeated"));
    ck_assert_int_eq(kga_sparse_topk(&Q, NULL, 0, &C, out_of_range, 1, NULL,
                                     2, 1, idx, sc, &err),
                     KGA_EINVAL);
    /* Empty rows: every slot padded. */
    ck_assert_int_eq(kga_sparse_topk(&Q, NULL, 0, &C, NULL, 0, NULL, 2, 1,
                                     idx, sc, &err),
                     0);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(idx[i], UINT32_MAX);
    kga_csr_destroy(&D);
    kga_csr_destroy(&C);
    kga_csr_destroy(&Q);
    kga_csr_destroy(&Q); /* a second destroy is harmless */
}
END_TEST

START_TEST(csr_validate_finds_broken_rows)
{
    kga_csr_t m;
    kga_err_t err;
    ck_assert_int_eq(kga_csr_init(&m, 2, 4, 3), 0);
    m.indices[0] = 1, m.indices[1] = 3, m.indices[2] = 0;
    m.data[0] = m.data[1] = m.data[2] = 1.0f;
    m.indptr[1] = 2, m.indptr[2] = 3;
    ck_assert_int_eq(kga_csr_validate(&m, &err), 0);
    ck_assert_uint_eq(kga_csr_nnz(&m), 3);
    m.indices[1] = 1; /* repeated column */
    ck_assert_int_eq(kga_csr_validate(&m, &err), KGA_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "row 0"));
    m.indices[1] = 4; /* out of range */
    ck_assert_int_eq(kga_csr_validate(&m, &err), KGA_EFORMAT);
    m.indices[1] = 3;
    m.data[2] = NAN;
    ck_assert_int_eq(kga_csr_validate(&m, &err), KGA_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "row 1"));
    m.data[2] = 3.0f;
    m.indptr[1] = 4; /* offsets not monotone */
    ck_assert_int_eq(kga_csr_validate(&m, &err), KGA_EFORMAT);
    m.indptr[1] = 2;
    kga_csr_normalize_rows(&m);
    ck_assert_float_eq_tol(m.data[0], 0.70710678f, 1e-6f);
    ck_assert_float_eq(m.data[2], 1.0f);
    kga_csr_destroy(&m);
    ck_assert_int_eq(kga_csr_init(&m, UINT32_MAX, 4, 0), KGA_ELIMIT);
    ck_assert_int_eq(kga_csr_init(&m, 1, 4, KGA_CSR_MAX_NNZ + 1), KGA_ELIMIT);
}
END_TEST

static Suite *name_features_suite(void)
{
    Suite *s = suite_create("name_features");
    TCase *tn = kga_test_tcase(s, "normalise", 60);
    tcase_add_test(tn, normalizes_examples);
    tcase_add_test(tn, normalize_reports_short_buffer);
    tcase_add_test(tn, random_bytes_are_safe);
    TCase *tf = kga_test_tcase(s, "features", 60);
    tcase_add_test(tf, counts_ngrams_and_words);
    tcase_add_test(tf, accent_modes);
    tcase_add_test(tf, buckets_follow_bucket_bits);
    tcase_add_test(tf, rejects_bad_params_and_small_buffers);
    tcase_add_test(tf, long_names_are_cut);
    TCase *tt = kga_test_tcase(s, "tfidf", 60);
    tcase_add_test(tt, tfidf_cosines);
    tcase_add_test(tt, tfidf_idf_spans_both_sides);
    tcase_add_test(tt, tfidf_ties_follow_external_ids);
    tcase_add_test(tt, tfidf_topk_both_directions_with_allowed_set);
    tcase_add_test(tt, tfidf_from_stores);
    tcase_add_test(tt, latin_forms);
    tcase_add_test(tt, latin_table_on_threads);
    tcase_add_test(tt, tfidf_latin_form_weight);
    TCase *tk = kga_test_tcase(s, "topk", 60);
    tcase_add_test(tk, topk_matches_brute_force);
    tcase_add_test(tk, topk_same_for_any_thread_count);
    tcase_add_test(tk, topk_ties_follow_keys_not_rows);
    tcase_add_test(tk, topk_rejects_bad_input);
    tcase_add_test(tk, csr_validate_finds_broken_rows);
    return s;
}

int main(void)
{
    return kga_test_run(name_features_suite);
}
